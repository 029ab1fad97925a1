#include "GraphArea.h"

#include "GraphPanel.h"
#include "GraphView.h"
#include "NodeFinder.h"

#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QToolBar>
#include <QToolButton>
#include <QVBoxLayout>

namespace featscope::ui {

GraphArea::GraphArea(GraphPanel* graph, NodeFinder* finder, QWidget* parent) : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    auto* bar = new QToolBar;
    bar->setIconSize(QSize(16, 16));
    bar->addWidget(finder->searchBox());
    auto* previous = bar->addAction(tr("◀"), finder, [finder] { finder->findNext(-1); });
    previous->setToolTip(tr("Previous match (Shift+F3)"));
    previous->setObjectName(QStringLiteral("findPrevious"));
    auto* next = bar->addAction(tr("▶"), finder, [finder] { finder->findNext(1); });
    next->setToolTip(tr("Next match (F3, Enter)"));
    next->setObjectName(QStringLiteral("findNext"));
    bar->addWidget(finder->countLabel());
    bar->addSeparator();
    bar->addAction(tr("Zoom in"), graph->view(), &GraphView::zoomIn);
    bar->addAction(tr("Zoom out"), graph->view(), &GraphView::zoomOut);
    bar->addAction(tr("Fit"), graph->view(), &GraphView::fitAll)->setToolTip(tr("Show the whole graph (Ctrl+0)"));
    bar->addSeparator();
    bar->addAction(tr("Collapse all"), graph, &GraphPanel::collapseAll)->setToolTip(tr("One box per top-level module"));
    auto* depthButton = new QToolButton;
    depthButton->setText(tr("Expand to depth"));
    depthButton->setObjectName(QStringLiteral("expandDepth"));
    depthButton->setPopupMode(QToolButton::InstantPopup);
    depthButton->setMenu(createDepthMenu(graph, depthButton));
    bar->addWidget(depthButton);
    bar->addAction(tr("Expand all"), graph, &GraphPanel::expandAll);
    layout->addWidget(bar);
    layout->addWidget(graph, 1);
    graph->view()->setToolTip(tr("Tick a box to return that node. Double-click a module box to expand it, "
                                 "a module frame to collapse it. Wheel zooms, drag pans."));
}

QMenu* createDepthMenu(GraphPanel* graph, QWidget* parent)
{
    auto* menu = new QMenu(QObject::tr("Expand to depth"), parent);
    QObject::connect(menu, &QMenu::aboutToShow, menu, [graph, menu] {
        menu->clear();
        const int deepest = graph->maxDepth();
        for (int depth = 1; depth <= deepest; ++depth)
            menu->addAction(QObject::tr("Depth %1").arg(depth), graph, [graph, depth] { graph->expandToDepth(depth); });
        if (deepest == 0)
            menu->addAction(QObject::tr("(no modules)"))->setEnabled(false);
    });
    return menu;
}

} // namespace featscope::ui
