#include "NodeTreePanel.h"

#include "NodeTreeModel.h"

#include <QHeaderView>
#include <QRegularExpression>
#include <QSortFilterProxyModel>
#include <QTreeView>
#include <QVBoxLayout>

namespace featscope::ui {

namespace {

/// Shows rows whose name or path contains the search text, with their parents.
class NodeFilterModel : public QSortFilterProxyModel {
public:
    using QSortFilterProxyModel::QSortFilterProxyModel;

protected:
    bool filterAcceptsRow(int row, const QModelIndex& parent) const override
    {
        if (filterRegularExpression().pattern().isEmpty())
            return true;
        const QModelIndex index = sourceModel()->index(row, 0, parent);
        return index.data(NodeTreeModel::NameRole).toString().contains(filterRegularExpression());
    }
};

} // namespace

NodeTreePanel::NodeTreePanel(QWidget* parent)
    : QWidget(parent), m_view(new QTreeView), m_model(new NodeTreeModel(this)), m_proxy(new NodeFilterModel(this))
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_view);
    m_proxy->setSourceModel(m_model);
    m_proxy->setRecursiveFilteringEnabled(true);
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    m_view->setModel(m_proxy);
    m_view->setObjectName(QStringLiteral("nodeTree"));
    m_view->setUniformRowHeights(true);
    m_view->setAlternatingRowColors(true);
    m_view->header()->setSectionResizeMode(QHeaderView::Interactive);
    m_view->setColumnWidth(0, 150);
    // Wide enough for the common layer types ("BatchNorm2d", "Conv2dNormActivation" is elided in the middle).
    m_view->setColumnWidth(1, m_view->fontMetrics().horizontalAdvance(QStringLiteral("BatchNorm2d")) + 24);
    connect(m_model, &NodeTreeModel::checkToggled, this, [this](const QString& name, bool) { Q_EMIT checkToggled(name); });
    connect(m_view->selectionModel(), &QItemSelectionModel::currentChanged, this, [this](const QModelIndex& current) {
        if (!m_syncing && current.isValid())
            Q_EMIT currentNodeChanged(current.siblingAtColumn(0).data(NodeTreeModel::NameRole).toString());
    });
}

void NodeTreePanel::build(const ModeGraph& graph, const ModuleTree& tree, const QSet<QString>& otherModeNames,
                          const QString& otherMode)
{
    m_model->build(graph, tree, otherModeNames, otherMode);
    if (graph.nodes.size() <= 300)
        m_view->expandAll();
    else
        m_view->expandToDepth(0);
}

void NodeTreePanel::clear()
{
    m_view->setCurrentIndex({});
}

void NodeTreePanel::setChecked(const QSet<QString>& names) { m_model->setChecked(names); }

void NodeTreePanel::setShapes(const QHash<QString, QString>& shapes) { m_model->setShapes(shapes); }

void NodeTreePanel::setFilter(const QString& text)
{
    m_proxy->setFilterRegularExpression(QRegularExpression(QRegularExpression::escape(text), QRegularExpression::CaseInsensitiveOption));
    if (!text.isEmpty())
        m_view->expandAll();
}

void NodeTreePanel::showNode(const QString& name)
{
    const QModelIndex source = m_model->indexForName(name);
    if (!source.isValid())
        return;
    const QModelIndex index = m_proxy->mapFromSource(source);
    m_syncing = true;
    m_view->setCurrentIndex(index);
    m_view->scrollTo(index);
    m_syncing = false;
}

} // namespace featscope::ui
