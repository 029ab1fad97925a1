#include "NodeTreeModel.h"

#include <QBrush>

#include <utility>

namespace featscope::ui {

NodeTreeModel::NodeTreeModel(QObject* parent) : QAbstractItemModel(parent) {}

void NodeTreeModel::build(const ModeGraph& graph, const ModuleTree& tree, const QSet<QString>& otherModeNames,
                          const QString& otherMode)
{
    beginResetModel();
    m_graph = graph;
    m_tree = tree;
    m_otherNames = otherModeNames;
    m_otherMode = otherMode;
    m_rows.clear();
    m_topLevel.clear();
    m_nodeRows.clear();
    m_moduleRows.clear();
    m_shapes.clear();
    m_checked = QVector<bool>(graph.nodes.size(), false);
    m_rows.reserve(graph.nodes.size() + tree.modules().size());
    m_nodeRows.reserve(graph.nodes.size());
    const auto appendRow = [&](Row row) {
        const int id = int(m_rows.size());
        QVector<int>& siblings = row.parent >= 0 ? m_rows[row.parent].children : m_topLevel;
        row.position = int(siblings.size());
        siblings.append(id);
        m_rows.append(std::move(row));
        return id;
    };
    // A module's row is made when its first node is met, so nodes of one module keep their order; the top
    // level (module 0) has no row.
    QVector<int> moduleRow(tree.modules().size(), -1);
    auto rowOfModule = [&](int m, auto&& self) -> int {
        if (m == 0)
            return -1;
        if (moduleRow[m] < 0) {
            const int parent = self(tree.module(m).parent, self);
            moduleRow[m] = appendRow(Row{true, m, parent, 0, {}});
            m_moduleRows.insert(tree.module(m).path, moduleRow[m]);
        }
        return moduleRow[m];
    };
    for (int i = 0; i < graph.nodes.size(); ++i) {
        const int parent = rowOfModule(tree.moduleOfNode(i), rowOfModule);
        m_nodeRows.insert(graph.nodes[i].name, appendRow(Row{false, i, parent, 0, {}}));
    }
    endResetModel();
}

QModelIndex NodeTreeModel::indexOfRow(int rowId, int column) const
{
    return createIndex(m_rows[rowId].position, column, quintptr(rowId));
}

const QVector<int>& NodeTreeModel::childrenOf(const QModelIndex& parent) const
{
    return parent.isValid() ? m_rows[int(parent.internalId())].children : m_topLevel;
}

QModelIndex NodeTreeModel::index(int row, int column, const QModelIndex& parent) const
{
    if (column < 0 || column >= ColumnCount || (parent.isValid() && parent.column() != NameColumn))
        return {};
    const QVector<int>& rows = childrenOf(parent);
    return row >= 0 && row < rows.size() ? createIndex(row, column, quintptr(rows[row])) : QModelIndex();
}

QModelIndex NodeTreeModel::parent(const QModelIndex& child) const
{
    if (!child.isValid())
        return {};
    const int parent = m_rows[int(child.internalId())].parent;
    return parent >= 0 ? indexOfRow(parent) : QModelIndex();
}

int NodeTreeModel::rowCount(const QModelIndex& parent) const
{
    if (parent.isValid() && parent.column() != NameColumn)
        return 0;
    return int(childrenOf(parent).size());
}

int NodeTreeModel::columnCount(const QModelIndex&) const { return ColumnCount; }

bool NodeTreeModel::inOtherMode(const GraphNodeInfo& node) const
{
    return m_otherNames.isEmpty() || m_otherNames.contains(node.name);
}

QVariant NodeTreeModel::moduleData(const ModuleTree::Module& module, int column, int role) const
{
    if (column == NameColumn) {
        switch (role) {
        case Qt::DisplayRole:
            return module.name;
        case Qt::ToolTipRole:
            return QStringLiteral("%1 (%2 nodes)").arg(module.path).arg(module.totalNodes);
        case NameRole:
            return module.path;
        case IsModuleRole:
            return true;
        default:
            return {};
        }
    }
    if (column == TypeColumn && role == Qt::DisplayRole)
        return module.className;
    if (column == TypeColumn && role == Qt::ForegroundRole)
        return QBrush(QColor(0x60, 0x60, 0x60));
    return {};
}

QVariant NodeTreeModel::nodeData(const GraphNodeInfo& node, int column, int role) const
{
    if (column == TypeColumn)
        return role == Qt::DisplayRole ? QVariant(node.typeLabel()) : QVariant();
    if (column == ShapeColumn)
        return role == Qt::DisplayRole ? QVariant(m_shapes.value(node.name)) : QVariant();
    switch (role) {
    case Qt::DisplayRole: {
        const int dot = node.name.lastIndexOf(QLatin1Char('.'));
        const QString text = dot >= 0 ? node.name.mid(dot + 1) : node.name;
        return inOtherMode(node) ? text : text + QStringLiteral("  [not in %1]").arg(m_otherMode);
    }
    case Qt::ToolTipRole: {
        QString tip = QStringLiteral("%1\n%2 %3").arg(node.name, node.kind, node.typeLabel());
        if (!node.valueType.isEmpty())
            tip += QStringLiteral("\ntype: ") + node.valueType;
        if (!inOtherMode(node))
            tip += QStringLiteral("\nThis node exists in this mode only.");
        return tip;
    }
    case Qt::ForegroundRole:
        return inOtherMode(node) ? QVariant() : QVariant(QBrush(QColor(0x8e, 0x24, 0xaa)));
    case NameRole:
        return node.name;
    case IsModuleRole:
        return false;
    default:
        return {};
    }
}

QVariant NodeTreeModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid())
        return {};
    const Row& row = m_rows[int(index.internalId())];
    if (row.isModule)
        return moduleData(m_tree.module(row.item), index.column(), role);
    if (index.column() == NameColumn && role == Qt::CheckStateRole)
        return int(m_checked[row.item] ? Qt::Checked : Qt::Unchecked);
    return nodeData(m_graph.nodes[row.item], index.column(), role);
}

bool NodeTreeModel::setData(const QModelIndex& index, const QVariant& value, int role)
{
    if (!index.isValid() || index.column() != NameColumn || role != Qt::CheckStateRole)
        return false;
    const Row& row = m_rows[int(index.internalId())];
    if (row.isModule)
        return false;
    const bool checked = value.toInt() == Qt::Checked;
    if (m_checked[row.item] != checked) {
        m_checked[row.item] = checked;
        Q_EMIT dataChanged(index, index, {Qt::CheckStateRole});
        Q_EMIT checkToggled(m_graph.nodes[row.item].name, checked);
    }
    return true;
}

Qt::ItemFlags NodeTreeModel::flags(const QModelIndex& index) const
{
    if (!index.isValid())
        return Qt::NoItemFlags;
    Qt::ItemFlags flags = Qt::ItemIsSelectable | Qt::ItemIsEnabled;
    if (index.column() == NameColumn && !m_rows[int(index.internalId())].isModule)
        flags |= Qt::ItemIsUserCheckable;
    return flags;
}

QVariant NodeTreeModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case NameColumn:
        return tr("Node");
    case TypeColumn:
        return tr("Op / class");
    case ShapeColumn:
        return tr("Output");
    default:
        return {};
    }
}

QModelIndex NodeTreeModel::indexForName(const QString& name) const
{
    int row = m_nodeRows.value(name, -1);
    if (row < 0)
        row = m_moduleRows.value(name, -1);
    return row >= 0 ? indexOfRow(row) : QModelIndex();
}

void NodeTreeModel::setChecked(const QSet<QString>& names)
{
    for (auto it = m_nodeRows.cbegin(); it != m_nodeRows.cend(); ++it) {
        const int node = m_rows[it.value()].item;
        const bool checked = names.contains(it.key());
        if (m_checked[node] == checked)
            continue;
        m_checked[node] = checked;
        const QModelIndex index = indexOfRow(it.value());
        Q_EMIT dataChanged(index, index, {Qt::CheckStateRole});
    }
}

// Only rows whose text changes are announced: on opening a model there are no shapes yet.
void NodeTreeModel::setShapes(const QHash<QString, QString>& shapes)
{
    const QHash<QString, QString> old = std::exchange(m_shapes, shapes);
    for (auto it = m_nodeRows.cbegin(); it != m_nodeRows.cend(); ++it) {
        if (old.value(it.key()) == m_shapes.value(it.key()))
            continue;
        const QModelIndex index = indexOfRow(it.value(), ShapeColumn);
        Q_EMIT dataChanged(index, index, {Qt::DisplayRole});
    }
}

} // namespace featscope::ui
