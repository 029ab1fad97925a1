#pragma once

#include <QGraphicsView>

namespace featscope::ui {

/// The main graph view: wheel zoom under the cursor, drag to pan, fit.
class GraphView : public QGraphicsView {
    Q_OBJECT
public:
    explicit GraphView(QWidget* parent = nullptr);

    void zoomBy(qreal factor);
    qreal zoom() const { return transform().m11(); }

public Q_SLOTS:
    void zoomIn() { zoomBy(1.25); }
    void zoomOut() { zoomBy(0.8); }
    /// Fits the whole graph, however small that makes it (text is hidden below a readable size).
    void fitAll();
    /// Where a freshly opened graph starts: the whole graph when it is readable, else its top at a readable zoom.
    void showStart();
    void resetZoom();

Q_SIGNALS:
    /// The visible part of the scene changed (for the overview).
    void viewportChanged();

protected:
    void wheelEvent(QWheelEvent* event) override;
    void scrollContentsBy(int dx, int dy) override;
    void resizeEvent(QResizeEvent* event) override;
};

/// A small always-fitted view of the same scene that shows and moves the main view's viewport.
class GraphOverview : public QGraphicsView {
    Q_OBJECT
public:
    GraphOverview(GraphView* main, QWidget* parent = nullptr);

public Q_SLOTS:
    void refit();

protected:
    void drawForeground(QPainter* painter, const QRectF& rect) override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;
    void wheelEvent(QWheelEvent* event) override;

private:
    GraphView* m_main;
};

} // namespace featscope::ui
