#include "NodeTreeModel.h"

#include "ModuleTree.h"

#include <QBrush>

namespace featscope::ui {

NodeTreeModel::NodeTreeModel(QObject* parent) : QStandardItemModel(parent)
{
    setHorizontalHeaderLabels({tr("Node"), tr("Op / class"), tr("Output")});
    connect(this, &QStandardItemModel::itemChanged, this, &NodeTreeModel::onItemChanged);
}

void NodeTreeModel::build(const ModeGraph& graph, const ModuleTree& tree, const QSet<QString>& otherModeNames,
                          const QString& otherMode)
{
    m_updating = true;
    removeRows(0, rowCount());
    m_items.clear();
    m_shapeItems.clear();
    QVector<QStandardItem*> moduleItems(tree.modules().size(), nullptr);
    moduleItems[0] = invisibleRootItem();
    // Modules first, then nodes in execution order, so a module row precedes its nodes... but nodes of the
    // same module keep their order; rows are appended as they are met.
    auto moduleItem = [&](int m, auto&& self) -> QStandardItem* {
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
        parent->appendRow({name, type, shape});
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
        parent->appendRow({name, type, shape});
        m_items.insert(node.name, name);
        m_shapeItems.insert(node.name, shape);
    }
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

void NodeTreeModel::setShapes(const QHash<QString, QString>& shapes)
{
    for (auto it = m_shapeItems.cbegin(); it != m_shapeItems.cend(); ++it)
        it.value()->setText(shapes.value(it.key()));
}

void NodeTreeModel::onItemChanged(QStandardItem* item)
{
    if (m_updating || !item->isCheckable())
        return;
    Q_EMIT checkToggled(item->data(NameRole).toString(), item->checkState() == Qt::Checked);
}

} // namespace featscope::ui
