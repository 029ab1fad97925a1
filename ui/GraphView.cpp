#include "GraphView.h"

#include <QMouseEvent>
#include <QScrollBar>
#include <QWheelEvent>

namespace featscope::ui {

GraphView::GraphView(QWidget* parent) : QGraphicsView(parent)
{
    setDragMode(QGraphicsView::ScrollHandDrag);
    setRenderHints(QPainter::Antialiasing | QPainter::TextAntialiasing);
    setViewportUpdateMode(QGraphicsView::SmartViewportUpdate);
    setTransformationAnchor(QGraphicsView::AnchorUnderMouse);
    setOptimizationFlag(QGraphicsView::DontAdjustForAntialiasing, true);
    setBackgroundBrush(Qt::white);
}

void GraphView::zoomBy(qreal factor)
{
    const qreal next = zoom() * factor;
    if (next < 0.01 || next > 8)
        return;
    scale(factor, factor);
    Q_EMIT viewportChanged();
}

void GraphView::fitAll()
{
    if (!scene())
        return;
    fitInView(scene()->sceneRect(), Qt::KeepAspectRatio);
    if (zoom() > 1) { // a small graph fits at its own size, not blown up
        resetTransform();
        centerOn(scene()->sceneRect().center());
    }
    Q_EMIT viewportChanged();
}

void GraphView::showStart()
{
    if (!scene())
        return;
    fitInView(scene()->sceneRect(), Qt::KeepAspectRatio);
    // Big graphs fit at an unreadable size; start readable at the top (fitting the width when possible).
    if (zoom() < 0.7) {
        const QRectF r = scene()->sceneRect();
        const qreal widthFit = viewport()->width() / std::max<qreal>(1, r.width());
        const qreal z = std::clamp<qreal>(widthFit, 0.55, 0.9);
        resetTransform();
        scale(z, z);
        const QPointF topCentre(r.center().x(), r.top() + viewport()->height() / (2 * z));
        centerOn(topCentre);
    }
    Q_EMIT viewportChanged();
}

void GraphView::resetZoom()
{
    resetTransform();
    Q_EMIT viewportChanged();
}

void GraphView::wheelEvent(QWheelEvent* event)
{
    if (event->modifiers() & Qt::ShiftModifier) {
        QGraphicsView::wheelEvent(event);
        return;
    }
    const int delta = event->angleDelta().y();
    if (delta != 0)
        zoomBy(delta > 0 ? 1.15 : 1 / 1.15);
    event->accept();
}

void GraphView::scrollContentsBy(int dx, int dy)
{
    QGraphicsView::scrollContentsBy(dx, dy);
    Q_EMIT viewportChanged();
}

void GraphView::resizeEvent(QResizeEvent* event)
{
    QGraphicsView::resizeEvent(event);
    Q_EMIT viewportChanged();
}

GraphOverview::GraphOverview(GraphView* main, QWidget* parent) : QGraphicsView(parent), m_main(main)
{
    setScene(main->scene());
    setInteractive(false);
    setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    setRenderHints(QPainter::Antialiasing);
    setToolTip(tr("Overview: click or drag to move the main view"));
    connect(main, &GraphView::viewportChanged, viewport(), qOverload<>(&QWidget::update));
}

void GraphOverview::refit()
{
    if (scene())
        fitInView(scene()->sceneRect(), Qt::KeepAspectRatio);
    viewport()->update();
}

void GraphOverview::drawForeground(QPainter* painter, const QRectF&)
{
    const QRectF visible = m_main->mapToScene(m_main->viewport()->rect()).boundingRect();
    painter->setPen(QPen(QColor(0x1e, 0x88, 0xe5), 0));
    painter->setBrush(QColor(0x1e, 0x88, 0xe5, 40));
    painter->drawRect(visible);
}

void GraphOverview::mousePressEvent(QMouseEvent* event)
{
    m_main->centerOn(mapToScene(event->position().toPoint()));
    viewport()->update();
}

void GraphOverview::mouseMoveEvent(QMouseEvent* event)
{
    if (event->buttons() & Qt::LeftButton) {
        m_main->centerOn(mapToScene(event->position().toPoint()));
        viewport()->update();
    }
}

void GraphOverview::resizeEvent(QResizeEvent* event)
{
    QGraphicsView::resizeEvent(event);
    refit();
}

void GraphOverview::wheelEvent(QWheelEvent* event) { event->accept(); }

} // namespace featscope::ui
