#pragma once

#include "GraphLayout.h"
#include "ModuleTree.h"

#include <QFutureWatcher>
#include <QHash>
#include <QSet>
#include <QWidget>

class QLabel;

namespace featscope::ui {

class GraphOverview;
class GraphScene;
class GraphView;

/// The graph of one mode: collapsing state, background Graphviz layout, view and overview.
class GraphPanel : public QWidget {
    Q_OBJECT
public:
    explicit GraphPanel(QWidget* parent = nullptr);

    /// Boxes shown by default; modules are collapsed until the graph fits this budget.
    static constexpr int kDefaultBudget = 220;
    /// Edges shown by default (dense graphs collapse further).
    static constexpr int kDefaultEdgeBudget = 400;

    /// Shows `graph`; nodes missing from `otherModeNames` get a "not in <otherMode>" mark.
    void setGraph(const ModeGraph& graph, const QSet<QString>& otherModeNames, const QString& otherMode);
    void clear();

    GraphScene* scene() const { return m_scene; }
    GraphView* view() const { return m_view; }
    const ModuleTree& moduleTree() const { return m_tree; }
    bool isLayingOut() const { return m_running; }
    /// Milliseconds the last Graphviz layout took, and how many boxes it placed.
    qint64 lastLayoutMs() const { return m_lastLayoutMs; }
    int visibleBoxes() const { return m_lastBoxes; }

    void setTicked(const QSet<QString>& names);
    void setShapes(const QHash<QString, QString>& shapes);
    void setMatches(const QSet<QString>& names);
    /// Colours node boxes by a statistic (StatisticsPanel::nodeColours); empty: none.
    void setValueFills(const QHash<QString, QColor>& colours);
    /// Highlights node `name`; `reveal` expands collapsed modules hiding it and scrolls to it.
    void setCurrentNode(const QString& name, bool reveal);
    /// The highlighted node or module, empty when none.
    const QString& currentNode() const { return m_current; }

public Q_SLOTS:
    void expandModule(const QString& path);
    void collapseModule(const QString& path);
    /// Back to the default collapsing.
    void collapseToDefault();
    /// Expands everything (refused above a few thousand boxes).
    void expandAll();
    /// Collapses every module: one box per top-level module.
    void collapseAll();
    /// Shows modules down to nesting depth `depth` open (1: the top-level modules' insides), deeper ones collapsed.
    void expandToDepth(int depth);

public:
    /// Deepest module nesting of the graph (0 when it has no modules).
    int maxDepth() const;

Q_SIGNALS:
    void layoutStarted(int boxes);
    void layoutFinished(qint64 milliseconds, int boxes);
    void itemClicked(const QString& name, bool isModule);
    void tickClicked(const QString& name, bool isModule);
    void message(const QString& text);

protected:
    void resizeEvent(QResizeEvent* event) override;

private:
    void relayout();
    void onLayoutDone();
    void applyDecorations();
    void placeOverview();

    GraphScene* m_scene;
    GraphView* m_view;
    GraphOverview* m_overview;
    QLabel* m_busy;
    ModeGraph m_graph;
    ModuleTree m_tree;
    QSet<int> m_collapsed;
    QSet<QString> m_otherNames;
    QString m_otherMode;
    QSet<QString> m_ticked;
    QSet<QString> m_matches;
    QHash<QString, QString> m_shapes;
    QHash<QString, QColor> m_valueFills;
    QString m_current;
    bool m_centerOnCurrent = false;
    enum class Fit { None, Start, Whole };
    Fit m_fitAfterLayout = Fit::Start;

    QFutureWatcher<LayoutResult> m_watcher;
    VisibleGraph m_pendingVisible;
    bool m_running = false;
    bool m_dirty = false;
    qint64 m_lastLayoutMs = 0;
    int m_lastBoxes = 0;
};

} // namespace featscope::ui
