#pragma once

#include "GraphLayout.h"
#include "ModuleTree.h"

#include <QGraphicsScene>
#include <QHash>
#include <QSet>

namespace featscope::ui {

class GraphNodeItem;

/// Graph boxes, cluster frames and edges laid out by Graphviz; reports clicks on them.
class GraphScene : public QGraphicsScene {
    Q_OBJECT
public:
    explicit GraphScene(QObject* parent = nullptr);

    /// Replaces the contents with `visible` placed by `layout`.
    void populate(const ModeGraph& graph, const ModuleTree& tree, const VisibleGraph& visible,
                  const LayoutResult& layout, const QSet<QString>& otherModeNames, const QString& otherMode);

    /// Removes every box, frame and edge.
    void clearGraph();

    /// The box showing node `name` (itself or its collapsed module), or nullptr.
    GraphNodeItem* itemForNode(const QString& name) const;
    /// The box of a collapsed module, or nullptr.
    GraphNodeItem* itemForModule(const QString& path) const;
    QList<GraphNodeItem*> nodeItems() const { return m_items; }

    void setTicked(const QSet<QString>& names);
    void setCurrent(const QString& name);
    void setMatches(const QSet<QString>& names);
    void setShapes(const QHash<QString, QString>& shapes);
    /// Fills node boxes by a statistic; nodes absent from `colours` keep their kind's fill.
    void setValueFills(const QHash<QString, QColor>& colours);

Q_SIGNALS:
    /// A box was clicked: a node name, or a module path for a collapsed module.
    void itemClicked(const QString& name, bool isModule);
    /// The tick box of a box was clicked.
    void tickClicked(const QString& name, bool isModule);
    /// Double-click on a collapsed module box.
    void expandRequested(const QString& modulePath);
    /// Double-click on a cluster frame.
    void collapseRequested(const QString& modulePath);

protected:
    void mousePressEvent(QGraphicsSceneMouseEvent* event) override;
    void mouseDoubleClickEvent(QGraphicsSceneMouseEvent* event) override;

private:
    GraphNodeItem* nodeItemAt(const QPointF& pos) const;
    QString clusterModuleAt(const QPointF& pos) const;

    QList<GraphNodeItem*> m_items;
    QHash<QString, GraphNodeItem*> m_byNode;   ///< every node name -> the box showing it
    QHash<QString, GraphNodeItem*> m_byModule; ///< collapsed module path -> box
    QVector<QPair<QRectF, QString>> m_clusters; ///< frame -> module path, outermost first
    GraphNodeItem* m_current = nullptr;
};

} // namespace featscope::ui
