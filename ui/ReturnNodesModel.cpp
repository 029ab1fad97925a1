#include "ReturnNodesModel.h"

#include <featscope/ReturnNodeValidation.h>

#include <QBrush>
#include <QJsonObject>

namespace featscope::ui {

ReturnNodesModel::ReturnNodesModel(QObject* parent) : QAbstractTableModel(parent) {}

int ReturnNodesModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(entries().size());
}

int ReturnNodesModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant ReturnNodesModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() >= entries().size())
        return {};
    const Entry& e = entries()[index.row()];
    if (role == SeverityRole)
        return e.severity;
    if (role == Qt::DisplayRole || role == Qt::EditRole) {
        switch (index.column()) {
        case NodeColumn: return e.node;
        case KeyColumn: return e.key;
        case ResolvedColumn: return e.resolved;
        case StatusColumn: return e.severity == 1 ? tr("no model") : e.severity == 2 ? tr("error") : tr("OK");
        }
    }
    if (role == Qt::ToolTipRole) {
        if (e.severity == 2) // the error is the row's one message, whichever cell the pointer is on
            return e.suggestions.isEmpty() ? e.message
                                           : tr("%1\nClick a suggestion under the table to use it.").arg(e.message);
        if (index.column() == NodeColumn)
            return tr("Node name; a truncated name such as \"layer1\" selects the last node at or below it.");
        if (index.column() == KeyColumn)
            return tr("Key of this output in the extractor's result dict (double-click to edit).");
        return e.message.isEmpty() ? QVariant() : QVariant(e.message);
    }
    if (role == Qt::BackgroundRole && e.severity == 2)
        return QBrush(QColor(0xff, 0xeb, 0xee));
    if (role == Qt::ForegroundRole && index.column() == StatusColumn)
        return QBrush(e.severity == 2 ? QColor(0xc6, 0x28, 0x28) : e.severity == 0 ? QColor(0x2e, 0x7d, 0x32) : QColor(0x75, 0x75, 0x75));
    return {};
}

QVariant ReturnNodesModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case NodeColumn: return tr("Node");
    case KeyColumn: return tr("Output key");
    case ResolvedColumn: return tr("Resolves to");
    case StatusColumn: return tr("Status");
    }
    return {};
}

Qt::ItemFlags ReturnNodesModel::flags(const QModelIndex& index) const
{
    Qt::ItemFlags f = QAbstractTableModel::flags(index);
    if (index.column() == NodeColumn || index.column() == KeyColumn)
        f |= Qt::ItemIsEditable;
    return f;
}

bool ReturnNodesModel::setData(const QModelIndex& index, const QVariant& value, int role)
{
    if (role != Qt::EditRole || !index.isValid() || index.row() >= entries().size())
        return false;
    Entry& e = m_lists[listIndex()][index.row()];
    const QString text = value.toString().trimmed();
    if (index.column() == NodeColumn) {
        if (e.key == e.node || e.key.isEmpty())
            e.key = text; // a default key follows the node
        e.node = text;
    } else if (index.column() == KeyColumn) {
        e.key = text.isEmpty() ? e.node : text;
    } else {
        return false;
    }
    revalidate();
    Q_EMIT selectionEdited();
    return true;
}

void ReturnNodesModel::setMode(Mode mode)
{
    if (m_mode == mode)
        return;
    if (m_separate)
        beginResetModel();
    m_mode = mode;
    if (m_separate)
        endResetModel();
    revalidate();
}

void ReturnNodesModel::setSeparateModes(bool separate)
{
    if (m_separate == separate)
        return;
    beginResetModel();
    if (separate) {
        // Both modes start from the shared list.
        m_lists[int(Mode::Train)] = m_lists[0];
        m_lists[int(Mode::Eval)] = m_lists[0];
    } else {
        m_lists[0] = m_lists[int(m_mode)];
    }
    m_separate = separate;
    endResetModel();
    revalidate();
    Q_EMIT selectionEdited();
}

bool ReturnNodesModel::addNode(const QString& node, const QString& key)
{
    for (const Entry& e : entries())
        if (e.node == node || e.resolved == node)
            return false;
    const int row = int(entries().size());
    beginInsertRows({}, row, row);
    Entry e;
    e.node = node;
    e.key = key.isEmpty() ? node : key;
    m_lists[listIndex()].append(e);
    endInsertRows();
    revalidate();
    Q_EMIT selectionEdited();
    return true;
}

void ReturnNodesModel::removeNode(const QString& name)
{
    bool removed = false;
    for (int row = int(entries().size()) - 1; row >= 0; --row) {
        const Entry& e = entries()[row];
        if (e.node == name || e.resolved == name) {
            beginRemoveRows({}, row, row);
            m_lists[listIndex()].removeAt(row);
            endRemoveRows();
            removed = true;
        }
    }
    if (!removed)
        return;
    revalidate();
    Q_EMIT selectionEdited();
}

void ReturnNodesModel::removeRowAt(int row)
{
    if (row < 0 || row >= entries().size())
        return;
    beginRemoveRows({}, row, row);
    m_lists[listIndex()].removeAt(row);
    endRemoveRows();
    revalidate();
    Q_EMIT selectionEdited();
}

void ReturnNodesModel::clearAll()
{
    beginResetModel();
    m_lists[0].clear();
    m_lists[1].clear();
    endResetModel();
    Q_EMIT selectionEdited();
}

QSet<QString> ReturnNodesModel::resolvedNames() const
{
    QSet<QString> names;
    for (const Entry& e : entries())
        names.insert(e.resolved.isEmpty() ? e.node : e.resolved);
    return names;
}

bool ReturnNodesModel::hasErrors() const
{
    for (const Entry& e : entries())
        if (e.severity == 2)
            return true;
    return false;
}

QString ReturnNodesModel::firstError() const
{
    for (int row = 0; row < entries().size(); ++row)
        if (entries()[row].severity == 2)
            return tr("Row %1 (%2): %3").arg(row + 1).arg(entries()[row].node, entries()[row].message);
    return {};
}

void ReturnNodesModel::replaceNode(int row, const QString& node)
{
    setData(index(row, NodeColumn), node, Qt::EditRole);
}

featscope::ReturnNodes ReturnNodesModel::returnNodes(Mode mode) const
{
    featscope::ReturnNodes out;
    for (const Entry& e : entries(mode))
        out.push_back({e.node.toStdString(), e.key.toStdString()});
    return out;
}

void ReturnNodesModel::setGraphs(std::shared_ptr<const featscope::GraphDescription> train,
                                 std::shared_ptr<const featscope::GraphDescription> eval)
{
    m_graphs[int(Mode::Train)] = train ? std::move(train) : std::make_shared<const featscope::GraphDescription>();
    m_graphs[int(Mode::Eval)] = eval ? std::move(eval) : std::make_shared<const featscope::GraphDescription>();
    revalidate();
}

void ReturnNodesModel::clearGraphs()
{
    m_graphs[0] = nullptr;
    m_graphs[1] = nullptr;
    revalidate();
}

void ReturnNodesModel::revalidate()
{
    if (m_separate) {
        validate(m_lists[int(Mode::Train)], Mode::Train);
        validate(m_lists[int(Mode::Eval)], Mode::Eval);
    } else {
        validate(m_lists[0], m_mode);
    }
    if (!entries().isEmpty())
        Q_EMIT dataChanged(index(0, 0), index(int(entries().size()) - 1, ColumnCount - 1));
}

void ReturnNodesModel::validate(QVector<Entry>& list, Mode mode) const
{
    if (list.isEmpty()) // the checker indexes every node of the graph first
        return;
    featscope::ReturnNodes requests;
    for (const Entry& e : list)
        requests.push_back({e.node.toStdString(), e.key.toStdString()});
    // The engine's rule: a run shows tensors as maps and anything else as text.
    const std::vector<featscope::ReturnNodeCheck> verdicts =
        m_graphs[int(mode)] ? featscope::checkReturnNodes(*m_graphs[int(mode)], requests) : std::vector<featscope::ReturnNodeCheck>();
    for (int i = 0; i < list.size(); ++i) {
        Entry& e = list[i];
        e.suggestions.clear();
        if (!m_graphs[int(mode)]) {
            e.resolved.clear();
            e.message.clear();
            e.severity = 1;
            continue;
        }
        const featscope::ReturnNodeCheck& verdict = verdicts[std::size_t(i)];
        e.resolved = QString::fromStdString(verdict.resolved);
        for (const std::string& name : verdict.suggestions)
            e.suggestions.append(QString::fromStdString(name));
        e.severity = verdict.ok() ? 0 : 2;
        if (!verdict.ok())
            e.message = QString::fromStdString(verdict.message);
        else if (e.resolved != e.node)
            e.message = tr("Truncated name: selects %1, the last node at or below it.").arg(e.resolved);
        else
            e.message.clear();
    }
}

QJsonObject ReturnNodesModel::saveState() const
{
    auto listJson = [](const QVector<Entry>& list) {
        QJsonArray a;
        for (const Entry& e : list)
            a.append(QJsonObject{{QStringLiteral("node"), e.node}, {QStringLiteral("key"), e.key}});
        return a;
    };
    return QJsonObject{{QStringLiteral("separate"), m_separate},
                       {QStringLiteral("mode"), modeName(m_mode)},
                       {QStringLiteral("shared"), listJson(m_lists[0])},
                       {QStringLiteral("train"), listJson(m_lists[int(Mode::Train)])},
                       {QStringLiteral("eval"), listJson(m_lists[int(Mode::Eval)])}};
}

void ReturnNodesModel::restoreState(const QJsonObject& state)
{
    auto listFrom = [](const QJsonValue& v) {
        QVector<Entry> list;
        for (const QJsonValue& item : v.toArray()) {
            Entry e;
            e.node = item.toObject().value(QStringLiteral("node")).toString();
            e.key = item.toObject().value(QStringLiteral("key")).toString();
            if (!e.node.isEmpty())
                list.append(e);
        }
        return list;
    };
    beginResetModel();
    m_separate = state.value(QStringLiteral("separate")).toBool();
    m_mode = modeFromName(state.value(QStringLiteral("mode")).toString());
    if (m_separate) {
        m_lists[int(Mode::Train)] = listFrom(state.value(QStringLiteral("train")));
        m_lists[int(Mode::Eval)] = listFrom(state.value(QStringLiteral("eval")));
    } else {
        m_lists[0] = listFrom(state.value(QStringLiteral("shared")));
        m_lists[1].clear();
    }
    endResetModel();
    revalidate();
    Q_EMIT selectionEdited();
}

} // namespace featscope::ui
