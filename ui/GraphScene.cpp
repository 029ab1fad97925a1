#include "GraphScene.h"

#include "GraphNodeItem.h"

#include <QGraphicsPathItem>
#include <QGraphicsPolygonItem>
#include <QGraphicsRectItem>
#include <QGraphicsSceneMouseEvent>
#include <QGraphicsSimpleTextItem>
#include <QPainter>
#include <QPen>
#include <QStyleOptionGraphicsItem>

namespace featscope::ui {

namespace {

QColor fillFor(const GraphNodeInfo& node)
{
    if (node.kind == QLatin1String("input"))
        return QColor(0xc8, 0xe6, 0xc9);
    if (node.kind == QLatin1String("leaf_module"))
        return QColor(0xd6, 0xe9, 0xfb);
    if (node.kind == QLatin1String("attribute"))
        return QColor(0xee, 0xee, 0xee);
    return QColor(0xfa, 0xfa, 0xfa);
}

QColor clusterFill(int depth)
{
    static const QColor colours[] = {QColor(0xf3, 0xf6, 0xfa), QColor(0xe9, 0xef, 0xf6), QColor(0xdf, 0xe8, 0xf2)};
    return colours[std::clamp(depth - 1, 0, 2)];
}

/// A module frame's title, drawn only where it is readable (as the boxes' text).
class ClusterTitle : public QGraphicsSimpleTextItem {
public:
    using QGraphicsSimpleTextItem::QGraphicsSimpleTextItem;

    void paint(QPainter* painter, const QStyleOptionGraphicsItem* option, QWidget* widget) override
    {
        if (option->levelOfDetailFromTransform(painter->worldTransform()) >= GraphNodeItem::kMinReadableZoom)
            QGraphicsSimpleTextItem::paint(painter, option, widget);
    }
};

} // namespace

GraphScene::GraphScene(QObject* parent) : QGraphicsScene(parent)
{
    setItemIndexMethod(QGraphicsScene::BspTreeIndex);
}

void GraphScene::clearGraph()
{
    clear();
    m_items.clear();
    m_byNode.clear();
    m_byModule.clear();
    m_clusters.clear();
    m_current = nullptr;
}

void GraphScene::populate(const ModeGraph& graph, const ModuleTree& tree, const VisibleGraph& visible,
                          const LayoutResult& layout, const QSet<QString>& otherModeNames, const QString& otherMode)
{
    clearGraph();
    const QRectF bounds = layout.bounds.adjusted(-20, -20, 20, 20);
    setSceneRect(bounds);

    for (int c = 0; c < visible.clusterModules.size() && c < layout.clusterRects.size(); ++c) {
        const ModuleTree::Module& m = tree.module(visible.clusterModules[c]);
        const QRectF r = layout.clusterRects[c];
        auto* frame = addRect(r, QPen(QColor(0x90, 0xa4, 0xae), 1), clusterFill(m.depth));
        frame->setZValue(0);
        frame->setToolTip(QStringLiteral("%1 (%2)\nDouble-click the frame to collapse.")
                              .arg(m.path, m.className.isEmpty() ? QStringLiteral("module") : m.className));
        auto* label = new ClusterTitle(m.className.isEmpty() ? m.name : QStringLiteral("%1 : %2").arg(m.name, m.className));
        addItem(label);
        QFont f = label->font();
        f.setPointSizeF(8);
        label->setFont(f);
        label->setBrush(QColor(0x37, 0x47, 0x4f));
        label->setPos(r.center().x() - label->boundingRect().width() / 2, r.top() + 2);
        label->setZValue(1);
        m_clusters.append({r, m.path});
    }

    QPen edgePen(QColor(0x60, 0x6a, 0x75), 1);
    edgePen.setCosmetic(false);
    for (int e = 0; e < visible.edges.size() && e < layout.edgePaths.size(); ++e) {
        auto* path = addPath(layout.edgePaths[e], edgePen);
        path->setZValue(1);
        if (!layout.edgeArrows[e].isEmpty()) {
            auto* arrow = addPolygon(layout.edgeArrows[e], Qt::NoPen, QColor(0x60, 0x6a, 0x75));
            arrow->setZValue(1);
        }
    }

    for (int i = 0; i < visible.items.size() && i < layout.nodeRects.size(); ++i) {
        const VisibleGraph::Item& it = visible.items[i];
        const QString frame = it.cluster >= 0 ? tree.module(visible.clusterModules[it.cluster]).path : QString();
        GraphNodeItem* item = nullptr;
        if (it.isModule) {
            const ModuleTree::Module& m = tree.module(it.index);
            const QString sub = QStringLiteral("%1%2 nodes").arg(m.className.isEmpty() ? QString() : m.className + QStringLiteral(" · ")).arg(m.totalNodes);
            item = new GraphNodeItem(layout.nodeRects[i], m.path, GraphNodeItem::relativeLabel(m.path, frame), sub, true);
            item->setFill(QColor(0xff, 0xf8, 0xe1));
            m_byModule.insert(m.path, item);
        } else {
            const GraphNodeInfo& n = graph.nodes[it.index];
            item = new GraphNodeItem(layout.nodeRects[i], n.name, GraphNodeItem::relativeLabel(n.name, frame), n.typeLabel(), false);
            item->setFill(fillFor(n));
            if (!otherModeNames.isEmpty() && !otherModeNames.contains(n.name))
                item->setModeMark(QStringLiteral("not in %1").arg(otherMode));
        }
        addItem(item);
        m_items.append(item);
    }
    for (int n = 0; n < graph.nodes.size() && n < visible.nodeItem.size(); ++n) {
        const int i = visible.nodeItem[n];
        if (i >= 0 && i < m_items.size())
            m_byNode.insert(graph.nodes[n].name, m_items[i]);
    }
}

GraphNodeItem* GraphScene::itemForNode(const QString& name) const { return m_byNode.value(name); }

GraphNodeItem* GraphScene::itemForModule(const QString& path) const { return m_byModule.value(path); }

void GraphScene::setTicked(const QSet<QString>& names)
{
    for (GraphNodeItem* item : m_items)
        item->setTicked(names.contains(item->name()));
    // A collapsed module shows ticked when a node inside it is a return node.
    for (const QString& name : names)
        if (GraphNodeItem* item = m_byNode.value(name))
            item->setTicked(true);
}

void GraphScene::setCurrent(const QString& name)
{
    GraphNodeItem* item = m_byNode.value(name, m_byModule.value(name));
    if (m_current)
        m_current->setCurrent(false);
    m_current = item;
    if (m_current)
        m_current->setCurrent(true);
}

void GraphScene::setMatches(const QSet<QString>& names)
{
    QSet<GraphNodeItem*> matched;
    for (const QString& name : names)
        if (GraphNodeItem* item = m_byNode.value(name))
            matched.insert(item);
    for (GraphNodeItem* item : m_items)
        item->setMatched(matched.contains(item));
}

void GraphScene::setShapes(const QHash<QString, QString>& shapes)
{
    for (GraphNodeItem* item : m_items)
        item->setShapeText(item->isModule() ? QString() : shapes.value(item->name()));
}

void GraphScene::setValueFills(const QHash<QString, QColor>& colours)
{
    for (GraphNodeItem* item : m_items)
        item->setValueFill(item->isModule() ? QColor() : colours.value(item->name()));
}

GraphNodeItem* GraphScene::nodeItemAt(const QPointF& pos) const
{
    for (QGraphicsItem* item : items(pos)) {
        if (item->type() == GraphNodeItem::Type) {
            auto* node = static_cast<GraphNodeItem*>(item);
            if (node->rect().adjusted(-1, -1, 4, 4).contains(pos))
                return node;
        }
    }
    return nullptr;
}

QString GraphScene::clusterModuleAt(const QPointF& pos) const
{
    QString found;
    for (const auto& c : m_clusters)
        if (c.first.contains(pos))
            found = c.second; // later frames are nested deeper
    return found;
}

void GraphScene::mousePressEvent(QGraphicsSceneMouseEvent* event)
{
    if (event->button() == Qt::LeftButton) {
        if (GraphNodeItem* node = nodeItemAt(event->scenePos())) {
            if (node->checkBoxRect().adjusted(-3, -3, 3, 3).contains(event->scenePos()))
                Q_EMIT tickClicked(node->name(), node->isModule());
            else
                Q_EMIT itemClicked(node->name(), node->isModule());
            event->accept();
            return;
        }
    }
    QGraphicsScene::mousePressEvent(event);
}

void GraphScene::mouseDoubleClickEvent(QGraphicsSceneMouseEvent* event)
{
    if (event->button() == Qt::LeftButton) {
        if (GraphNodeItem* node = nodeItemAt(event->scenePos())) {
            if (node->isModule())
                Q_EMIT expandRequested(node->name());
            event->accept();
            return;
        }
        const QString module = clusterModuleAt(event->scenePos());
        if (!module.isEmpty()) {
            Q_EMIT collapseRequested(module);
            event->accept();
            return;
        }
    }
    QGraphicsScene::mouseDoubleClickEvent(event);
}

} // namespace featscope::ui
