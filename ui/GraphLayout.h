#pragma once

#include <QPainterPath>
#include <QPolygonF>
#include <QRectF>
#include <QString>
#include <QVector>

namespace featscope::ui {

/// What to lay out: boxes of fixed size, nested clusters and edges (indices into the vectors).
struct LayoutInput {
    struct Node {
        QSizeF size;
        int cluster = -1; ///< innermost cluster, -1 for the top level
    };
    struct Cluster {
        int parent = -1;
        QString label;
    };
    struct Edge {
        int from = 0;
        int to = 0;
    };
    QVector<Node> nodes;
    /// Free space kept under every box, inside its slot (the shape badge drawn there after a run), so no
    /// cluster title or box of the next rank is laid out under it. Edges still start at the box.
    qreal roomBelowNodes = 0;
    QVector<Cluster> clusters; ///< parents come before their children
    QVector<Edge> edges;
};

/// Where Graphviz put everything, in scene coordinates (y grows downwards, rects are top-left based).
struct LayoutResult {
    QRectF bounds;
    QVector<QRectF> nodeRects;
    QVector<QRectF> clusterRects;
    QVector<QPainterPath> edgePaths;
    QVector<QPolygonF> edgeArrows;
    QString error;
    qint64 elapsedMs = 0;
};

/// Runs Graphviz `dot` on `input`. Thread-safe (Graphviz itself is not: calls are serialised).
LayoutResult computeLayout(const LayoutInput& input);

} // namespace featscope::ui
