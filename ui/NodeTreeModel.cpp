#include "NodeTreeModel.h"

#include "ModuleTree.h"

#include <QBrush>

namespace featscope::ui {

NodeTreeModel::NodeTreeModel(QObject* parent) : QStandardItemModel(parent)
{
    setHorizontalHeaderLabels({tr("Node"), tr("Op / class"), tr("Output")});
    connect(this, &QStandardItemModel::itemChanged, this, &NodeTreeModel::onItemChanged);
}

// The rows are built detached from the model and the top-level rows inserted at the end: an item
// appended under a parent that is already in the model emits rowsInserted, which the view and its
// recursive filter proxy handle one row at a time (most of the GUI thread's time at thousands of nodes).
void NodeTreeModel::build(const ModeGraph& graph, const ModuleTree& tree, const QSet<QString>& otherModeNames,
                          const QString& otherMode)
{
    m_updating = true;
    removeRows(0, rowCount());
    m_items.clear();
    m_shapeItems.clear();
    m_items.reserve(graph.nodes.size() + tree.modules().size());
    m_shapeItems.reserve(graph.nodes.size());
    QVector<QStandardItem*> moduleItems(tree.modules().size(), nullptr);
    QList<QList<QStandardItem*>> topLevelRows;
    const auto appendRow = [&](QStandardItem* parent, const QList<QStandardItem*>& row) {
        if (parent)
            parent->appendRow(row);
        else
            topLevelRows.append(row);
    };
    // Module rows are created when their first node is met, so nodes of one module keep their order.
    // Null stands for the (not yet attached) top level.
    auto moduleItem = [&](int m, auto&& self) -> QStandardItem* {
        if (m == 0)
            return nullptr;
        if (moduleItems[m])
            return moduleItems[m];
        const ModuleTree::Module& module = tree.module(m);
        QStandardItem* parent = self(module.parent, self);
        auto* name = new QStandardItem(module.name);
        name->setData(module.path, NameRole);
        name->setData(true, IsModuleRole);
        name->setEditable(false);
        name->setToolTip(QStringLiteral("%1 (%2 nodes)").arg(module.path).arg(module.totalNodes));
        auto* type = new QStandardItem(module.className);
        type->setEditable(false);
        type->setForeground(QBrush(QColor(0x60, 0x60, 0x60)));
        auto* shape = new QStandardItem();
        shape->setEditable(false);
        appendRow(parent, {name, type, shape});
        moduleItems[m] = name;
        m_items.insert(QStringLiteral("\x1fmodule:") + module.path, name);
        return name;
    };
    for (int i = 0; i < graph.nodes.size(); ++i) {
        const GraphNodeInfo& node = graph.nodes[i];
        QStandardItem* parent = moduleItem(tree.moduleOfNode(i), moduleItem);
        const int dot = node.name.lastIndexOf(QLatin1Char('.'));
        auto* name = new QStandardItem(dot >= 0 ? node.name.mid(dot + 1) : node.name);
        name->setData(node.name, NameRole);
        name->setData(false, IsModuleRole);
        name->setEditable(false);
        name->setCheckable(true);
        QString tip = QStringLiteral("%1\n%2 %3").arg(node.name, node.kind, node.typeLabel());
        if (!node.valueType.isEmpty())
            tip += QStringLiteral("\ntype: ") + node.valueType;
        if (!otherModeNames.isEmpty() && !otherModeNames.contains(node.name)) {
            name->setForeground(QBrush(QColor(0x8e, 0x24, 0xaa)));
            name->setText(name->text() + QStringLiteral("  [not in %1]").arg(otherMode));
            tip += QStringLiteral("\nThis node exists in this mode only.");
        }
        name->setToolTip(tip);
        auto* type = new QStandardItem(node.typeLabel());
        type->setEditable(false);
        auto* shape = new QStandardItem();
        shape->setEditable(false);
        appendRow(parent, {name, type, shape});
        m_items.insert(node.name, name);
        m_shapeItems.insert(node.name, shape);
    }
    for (const QList<QStandardItem*>& row : topLevelRows)
        invisibleRootItem()->appendRow(row);
    m_updating = false;
}

QModelIndex NodeTreeModel::indexForName(const QString& name) const
{
    QStandardItem* item = m_items.value(name);
    if (!item)
        item = m_items.value(QStringLiteral("\x1fmodule:") + name);
    return item ? item->index() : QModelIndex();
}

void NodeTreeModel::setChecked(const QSet<QString>& names)
{
    m_updating = true;
    for (auto it = m_items.cbegin(); it != m_items.cend(); ++it) {
        if (!it.value()->isCheckable())
            continue;
        const Qt::CheckState state = names.contains(it.key()) ? Qt::Checked : Qt::Unchecked;
        if (it.value()->checkState() != state)
            it.value()->setCheckState(state);
    }
    m_updating = false;
}

// Only changed texts are set: each set emits itemChanged and dataChanged, and on opening a model
// there are no shapes yet.
void NodeTreeModel::setShapes(const QHash<QString, QString>& shapes)
{
    for (auto it = m_shapeItems.cbegin(); it != m_shapeItems.cend(); ++it) {
        const QString shape = shapes.value(it.key());
        if (it.value()->text() != shape)
            it.value()->setText(shape);
    }
}

void NodeTreeModel::onItemChanged(QStandardItem* item)
{
    if (m_updating || !item->isCheckable())
        return;
    Q_EMIT checkToggled(item->data(NameRole).toString(), item->checkState() == Qt::Checked);
}

} // namespace featscope::ui
