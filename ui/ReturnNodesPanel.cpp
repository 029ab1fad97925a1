#include "ReturnNodesPanel.h"

#include "ModelDocument.h"
#include "ReturnNodesModel.h"

#include <featscope/Errors.h>
#include <featscope/ReturnNodes.h>

#include <QAction>
#include <QCheckBox>
#include <QCompleter>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QTableView>
#include <QVBoxLayout>

#include <algorithm>
#include <functional>

namespace featscope::ui {

ReturnNodesPanel::ReturnNodesPanel(ModelDocument* document, QWidget* parent)
    : QGroupBox(tr("Return nodes"), parent), m_document(document), m_view(new QTableView), m_add(new QLineEdit),
      m_suggestions(new QLabel), m_separate(new QCheckBox(tr("Separate train/eval selections")))
{
    ReturnNodesModel* returns = document->returnNodes();
    auto* layout = new QVBoxLayout(this);
    m_view->setModel(returns);
    m_view->setObjectName(QStringLiteral("returnNodes"));
    m_view->verticalHeader()->hide();
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed | QAbstractItemView::AnyKeyPressed);
    m_view->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_view->horizontalHeader()->setSectionResizeMode(ReturnNodesModel::StatusColumn, QHeaderView::ResizeToContents);
    m_view->horizontalHeader()->setStretchLastSection(false);
    m_view->setMinimumHeight(110);
    layout->addWidget(m_view, 1);

    auto* addRow = new QHBoxLayout;
    m_add->setPlaceholderText(tr("node or truncated name, e.g. layer1"));
    m_add->setObjectName(QStringLiteral("addNode"));
    auto* addButton = new QPushButton(tr("Add"));
    auto* removeButton = new QPushButton(tr("Remove"));
    removeButton->setToolTip(tr("Remove the selected rows (Delete)"));
    addRow->addWidget(m_add, 1);
    addRow->addWidget(addButton);
    addRow->addWidget(removeButton);
    layout->addLayout(addRow);

    m_suggestions->setObjectName(QStringLiteral("validation"));
    m_suggestions->setWordWrap(true);
    m_suggestions->setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::LinksAccessibleByMouse);
    m_suggestions->setTextFormat(Qt::RichText);
    layout->addWidget(m_suggestions);
    m_separate->setToolTip(tr("Keep different return nodes for train and eval mode (exported together)"));
    layout->addWidget(m_separate);

    auto add = [this] {
        const QString text = m_add->text().trimmed();
        if (text.isEmpty())
            return;
        QString error;
        if (!addSpec(text, &error)) {
            Q_EMIT message(error);
            return;
        }
        m_add->clear();
    };
    connect(m_add, &QLineEdit::returnPressed, this, add);
    connect(addButton, &QPushButton::clicked, this, add);
    auto* removeAction = new QAction(tr("Remove Selected Return Nodes"), m_view);
    removeAction->setShortcuts({QKeySequence::Delete, QKeySequence(Qt::Key_Backspace)});
    removeAction->setShortcutContext(Qt::WidgetShortcut);
    m_view->addAction(removeAction);
    connect(removeAction, &QAction::triggered, this, &ReturnNodesPanel::removeSelected);
    connect(removeButton, &QPushButton::clicked, this, &ReturnNodesPanel::removeSelected);
    connect(m_separate, &QCheckBox::toggled, returns, &ReturnNodesModel::setSeparateModes);
    connect(m_suggestions, &QLabel::linkActivated, this, [returns](const QString& link) {
        const int colon = int(link.indexOf(QLatin1Char(':')));
        returns->replaceNode(link.left(colon).toInt(), link.mid(colon + 1));
    });
    connect(m_view->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this, returns](const QModelIndex& current) {
        if (!current.isValid())
            return;
        const auto& e = returns->entries().value(current.row());
        Q_EMIT nodeSelected(e.resolved.isEmpty() ? e.node : e.resolved);
    });
    connect(returns, &QAbstractItemModel::modelReset, this, &ReturnNodesPanel::updateSuggestions);
    connect(returns, &QAbstractItemModel::dataChanged, this, &ReturnNodesPanel::updateSuggestions);
    connect(returns, &QAbstractItemModel::rowsInserted, this, &ReturnNodesPanel::updateSuggestions);
    connect(returns, &QAbstractItemModel::rowsRemoved, this, &ReturnNodesPanel::updateSuggestions);
    connect(document, &ModelDocument::modelChanged, this, [this, returns] {
        m_add->clear();
        const QSignalBlocker block(m_separate);
        m_separate->setChecked(returns->separateModes());
    });
    updateSuggestions();
}

bool ReturnNodesPanel::addSpec(const QString& spec, QString* error)
{
    try {
        const featscope::ReturnNode node = featscope::parseReturnNodeSpec(spec.toStdString());
        m_document->returnNodes()->addNode(QString::fromStdString(node.node), QString::fromStdString(node.key));
        return true;
    } catch (const featscope::Error& e) {
        if (error)
            *error = QString::fromStdString(e.what());
        return false;
    }
}

void ReturnNodesPanel::removeSelected()
{
    QList<int> rows;
    for (const QModelIndex& index : m_view->selectionModel()->selectedRows())
        rows.append(index.row());
    if (rows.isEmpty() && m_view->currentIndex().isValid())
        rows.append(m_view->currentIndex().row());
    std::sort(rows.begin(), rows.end(), std::greater<int>());
    for (int row : rows)
        m_document->returnNodes()->removeRowAt(row);
}

void ReturnNodesPanel::setCompletionNames(const QStringList& names)
{
    auto* completer = new QCompleter(names, m_add);
    completer->setCaseSensitivity(Qt::CaseInsensitive);
    completer->setFilterMode(Qt::MatchContains);
    delete m_add->completer();
    m_add->setCompleter(completer);
}

void ReturnNodesPanel::updateSuggestions()
{
    // A row's error lives in the row (status, colour, tooltip); here are only its fixes, as links.
    QStringList lines;
    const auto& entries = m_document->returnNodes()->entries();
    for (int row = 0; row < entries.size(); ++row) {
        if (entries[row].severity != 2 || entries[row].suggestions.isEmpty())
            continue;
        QStringList links;
        for (const QString& name : entries[row].suggestions)
            links.append(QStringLiteral("<a href=\"%1:%2\">%3</a>").arg(row).arg(name.toHtmlEscaped(), name.toHtmlEscaped()));
        lines.append(tr("Instead of <b>%1</b>: %2").arg(entries[row].node.toHtmlEscaped(), links.join(QStringLiteral(" · "))));
    }
    // Never empty, so the fields above it do not move when the first row arrives.
    if (lines.isEmpty())
        m_suggestions->setText(tr("<span style='color:#607d8b'>Tick boxes in the graph or the node list, or type a "
                                  "name above. Double-click a key to rename it.</span>"));
    else
        m_suggestions->setText(lines.join(QStringLiteral("<br>")));
}

} // namespace featscope::ui
