#pragma once

#include <QWidget>

class QMenu;

namespace featscope::ui {

class GraphPanel;
class NodeFinder;

/// The centre of the window: the graph with its toolbar (find, zoom, collapse and expand).
class GraphArea : public QWidget {
    Q_OBJECT
public:
    GraphArea(GraphPanel* graph, NodeFinder* finder, QWidget* parent = nullptr);
};

/// "Expand to depth" with one entry per module depth the open graph has, filled when shown.
QMenu* createDepthMenu(GraphPanel* graph, QWidget* parent);

} // namespace featscope::ui
