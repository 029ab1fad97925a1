#include "GraphPanel.h"

#include "GraphNodeItem.h"
#include "GraphScene.h"
#include "GraphView.h"

#include <QLabel>
#include <QScrollBar>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

namespace featscope::ui {

namespace {

constexpr int kExpandAllLimit = 3000;

QSizeF sizeFor(const VisibleGraph& visible, const VisibleGraph::Item& item, const ModeGraph& graph, const ModuleTree& tree)
{
    const QString frame = item.cluster >= 0 ? tree.module(visible.clusterModules[item.cluster]).path : QString();
    if (item.isModule) {
        const auto& m = tree.module(item.index);
        return GraphNodeItem::preferredSize(GraphNodeItem::relativeLabel(m.path, frame),
                                            QStringLiteral("%1 · %2 nodes").arg(m.className).arg(m.totalNodes));
    }
    const GraphNodeInfo& n = graph.nodes[item.index];
    return GraphNodeItem::preferredSize(GraphNodeItem::relativeLabel(n.name, frame), n.typeLabel());
}

} // namespace

GraphPanel::GraphPanel(QWidget* parent)
    : QWidget(parent), m_scene(new GraphScene(this)), m_view(new GraphView(this)), m_overview(nullptr),
      m_busy(new QLabel(this))
{
    m_view->setScene(m_scene);
    m_view->setObjectName(QStringLiteral("graphView"));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_view);
    m_overview = new GraphOverview(m_view, this);
    m_overview->setObjectName(QStringLiteral("graphOverview"));
    m_overview->setFrameShape(QFrame::Box);
    m_overview->raise();
    m_busy->setStyleSheet(QStringLiteral("background: rgba(255,255,255,220); padding: 6px; border: 1px solid #90a4ae;"));
    m_busy->hide();

    connect(m_scene, &GraphScene::itemClicked, this, &GraphPanel::itemClicked);
    connect(m_scene, &GraphScene::tickClicked, this, &GraphPanel::tickClicked);
    connect(m_scene, &GraphScene::expandRequested, this, &GraphPanel::expandModule);
    connect(m_scene, &GraphScene::collapseRequested, this, &GraphPanel::collapseModule);
    connect(&m_watcher, &QFutureWatcher<LayoutResult>::finished, this, &GraphPanel::onLayoutDone);
}

void GraphPanel::clear()
{
    m_graph = {};
    m_tree.build(m_graph);
    m_collapsed.clear();
    m_scene->clearGraph();
    m_current.clear();
    m_ticked.clear();
    m_matches.clear();
    m_shapes.clear();
}

void GraphPanel::setGraph(const ModeGraph& graph, const QSet<QString>& otherModeNames, const QString& otherMode)
{
    m_graph = graph;
    m_tree.build(m_graph);
    m_collapsed = m_tree.defaultCollapsed(m_graph, kDefaultBudget, kDefaultEdgeBudget);
    m_otherNames = otherModeNames;
    m_otherMode = otherMode;
    m_fitAfterLayout = Fit::Start;
    relayout();
}

void GraphPanel::relayout()
{
    if (m_running) {
        m_dirty = true; // lay out again with the newest state when the current job ends
        return;
    }
    m_pendingVisible = VisibleGraph::build(m_graph, m_tree, m_collapsed);
    LayoutInput input;
    input.roomBelowNodes = GraphNodeItem::badgeRoom();
    input.nodes.reserve(m_pendingVisible.items.size());
    for (const auto& item : m_pendingVisible.items)
        input.nodes.append({sizeFor(m_pendingVisible, item, m_graph, m_tree), item.cluster});
    for (int c = 0; c < m_pendingVisible.clusterModules.size(); ++c) {
        const auto& m = m_tree.module(m_pendingVisible.clusterModules[c]);
        input.clusters.append({m_pendingVisible.clusterParents[c],
                               m.className.isEmpty() ? m.name : QStringLiteral("%1 : %2").arg(m.name, m.className)});
    }
    for (const auto& e : m_pendingVisible.edges)
        input.edges.append({e.first, e.second});
    m_running = true;
    m_dirty = false;
    const int boxes = int(input.nodes.size());
    m_busy->setText(tr("Laying out %n box(es)…", nullptr, boxes));
    m_busy->adjustSize();
    m_busy->move(10, 10);
    m_busy->show();
    m_busy->raise();
    Q_EMIT layoutStarted(boxes);
    m_watcher.setFuture(QtConcurrent::run(computeLayout, input));
}

void GraphPanel::onLayoutDone()
{
    m_running = false;
    if (m_dirty) {
        relayout();
        return;
    }
    m_busy->hide();
    const LayoutResult result = m_watcher.result();
    if (!result.error.isEmpty()) {
        Q_EMIT message(result.error);
        return;
    }
    m_scene->populate(m_graph, m_tree, m_pendingVisible, result, m_otherNames, m_otherMode);
    applyDecorations();
    m_lastLayoutMs = result.elapsedMs;
    m_lastBoxes = int(m_pendingVisible.items.size());
    if (m_fitAfterLayout == Fit::Start)
        m_view->showStart();
    else if (m_fitAfterLayout == Fit::Whole)
        m_view->fitAll();
    m_fitAfterLayout = Fit::None;
    if (m_centerOnCurrent && !m_current.isEmpty())
        if (GraphNodeItem* item = m_scene->itemForNode(m_current))
            m_view->centerOn(item);
    m_centerOnCurrent = false;
    placeOverview();
    m_overview->refit();
    Q_EMIT layoutFinished(result.elapsedMs, m_lastBoxes);
}

void GraphPanel::applyDecorations()
{
    m_scene->setTicked(m_ticked);
    m_scene->setShapes(m_shapes);
    m_scene->setMatches(m_matches);
    m_scene->setCurrent(m_current);
    m_scene->setValueFills(m_valueFills);
}

void GraphPanel::setValueFills(const QHash<QString, QColor>& colours)
{
    m_valueFills = colours;
    m_scene->setValueFills(colours);
}

void GraphPanel::setTicked(const QSet<QString>& names)
{
    m_ticked = names;
    m_scene->setTicked(names);
}

void GraphPanel::setShapes(const QHash<QString, QString>& shapes)
{
    m_shapes = shapes;
    m_scene->setShapes(shapes);
}

void GraphPanel::setMatches(const QSet<QString>& names)
{
    m_matches = names;
    m_scene->setMatches(names);
}

void GraphPanel::setCurrentNode(const QString& name, bool reveal)
{
    m_current = name;
    m_scene->setCurrent(name);
    if (!reveal)
        return;
    // Expand the collapsed modules that hide the node, then scroll to it.
    int node = -1;
    for (int i = 0; i < m_graph.nodes.size(); ++i)
        if (m_graph.nodes[i].name == name) {
            node = i;
            break;
        }
    bool changed = false;
    if (node >= 0)
        for (int m = m_tree.moduleOfNode(node); m > 0; m = m_tree.module(m).parent)
            changed |= m_collapsed.remove(m);
    if (changed) {
        m_centerOnCurrent = true;
        relayout();
    } else if (GraphNodeItem* item = m_scene->itemForNode(name)) {
        m_view->ensureVisible(item, 80, 80);
    } else if (GraphNodeItem* module = m_scene->itemForModule(name)) {
        m_view->ensureVisible(module, 80, 80);
    }
}

void GraphPanel::expandModule(const QString& path)
{
    const int m = m_tree.findModule(path);
    if (m <= 0 || !m_collapsed.contains(m))
        return;
    m_collapsed.remove(m);
    // Open its children too when that stays small, so one double-click shows something useful.
    for (int c : m_tree.module(m).children)
        if (m_tree.module(c).totalNodes <= 12)
            m_collapsed.remove(c);
    m_current = path;
    m_centerOnCurrent = false;
    relayout();
}

void GraphPanel::collapseModule(const QString& path)
{
    const int m = m_tree.findModule(path);
    if (m <= 0)
        return;
    m_collapsed.insert(m);
    m_current = path;
    relayout();
}

void GraphPanel::collapseToDefault()
{
    m_collapsed = m_tree.defaultCollapsed(m_graph, kDefaultBudget, kDefaultEdgeBudget);
    m_fitAfterLayout = Fit::Start;
    relayout();
}

void GraphPanel::collapseAll() { expandToDepth(0); }

void GraphPanel::expandToDepth(int depth)
{
    QSet<int> collapsed;
    const auto& modules = m_tree.modules();
    for (int m = 1; m < modules.size(); ++m)
        if (modules[m].depth > depth)
            collapsed.insert(m);
    if (m_tree.visibleCount(collapsed) > kExpandAllLimit) {
        Q_EMIT message(tr("Depth %1 shows more than %2 boxes; expand modules one by one (double-click them).")
                           .arg(depth)
                           .arg(kExpandAllLimit));
        return;
    }
    m_collapsed = collapsed;
    m_fitAfterLayout = Fit::Whole;
    relayout();
}

int GraphPanel::maxDepth() const
{
    int depth = 0;
    for (const auto& m : m_tree.modules())
        depth = std::max(depth, m.depth);
    return depth;
}

void GraphPanel::expandAll()
{
    if (m_graph.nodes.size() > kExpandAllLimit) {
        Q_EMIT message(tr("%1 nodes are too many to draw at once; expand modules one by one (double-click them).")
                           .arg(m_graph.nodes.size()));
        return;
    }
    m_collapsed.clear();
    m_fitAfterLayout = Fit::Whole;
    relayout();
}

void GraphPanel::placeOverview()
{
    // Shaped like the graph and up to a third of the panel's height, so a long chain (ResNet-50 expanded) is
    // a column you can aim at rather than a sliver; a compact graph gets a box small enough (a fifth of the
    // width, a quarter of the height) not to hide the boxes under it.
    const QRectF scene = m_scene->sceneRect();
    const qreal aspect = scene.height() > 0 ? scene.width() / scene.height() : 1.0;
    int h = std::max(90, aspect < 0.2 ? height() / 3 : height() / 4);
    int w = int(h * aspect);
    const int maxW = std::max(110, width() / 5);
    if (w > maxW) {
        w = maxW;
        h = std::clamp(int(w / std::max(aspect, 0.01)), 60, std::max(90, height() / 4));
    }
    w = std::max(w, 48);
    const int scroll = m_view->verticalScrollBar()->isVisible() ? m_view->verticalScrollBar()->width() : 0;
    m_overview->setGeometry(width() - w - 6 - scroll, height() - h - 6 - scroll, w, h);
    m_overview->raise();
}

void GraphPanel::resizeEvent(QResizeEvent* event)
{
    QWidget::resizeEvent(event);
    placeOverview();
}

} // namespace featscope::ui
