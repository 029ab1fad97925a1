#include "GraphLayout.h"

#include <graphviz/gvc.h>

#include <QElapsedTimer>
#include <QLineF>
#include <QMutex>
#include <QMutexLocker>

#include <cstdio>
#include <memory>

namespace featscope::ui {

namespace {

QMutex& graphvizMutex()
{
    static QMutex mutex;
    return mutex;
}

GVC_t* context()
{
    static GVC_t* gvc = gvContext(); // lives for the whole process, like Graphviz expects
    return gvc;
}

/// Frees the graph (and its layout) when it goes out of scope.
struct GraphDeleter {
    GVC_t* gvc = nullptr;
    bool laidOut = false;
    void operator()(Agraph_t* g) const
    {
        if (laidOut)
            gvFreeLayout(gvc, g);
        agclose(g);
    }
};

char* str(const char* s) { return const_cast<char*>(s); }

void set(void* object, Agsym_t* symbol, const QByteArray& value)
{
    agxset(object, symbol, const_cast<char*>(value.constData()));
}

} // namespace

LayoutResult computeLayout(const LayoutInput& input)
{
    QElapsedTimer timer;
    timer.start();
    LayoutResult result;
    QMutexLocker lock(&graphvizMutex());
    GVC_t* gvc = context();

    GraphDeleter deleter{gvc, false};
    std::unique_ptr<Agraph_t, GraphDeleter&> graph(agopen(str("featscope"), Agdirected, nullptr), deleter);
    Agraph_t* g = graph.get();
    agattr(g, AGRAPH, str("rankdir"), str("TB"));
    agattr(g, AGRAPH, str("nodesep"), str("0.25"));
    agattr(g, AGRAPH, str("ranksep"), str("0.3"));
    agattr(g, AGRAPH, str("fontsize"), str("11"));
    agattr(g, AGRAPH, str("label"), str(""));
    if (input.nodes.size() > 600 || input.edges.size() > 300) {
        // Fewer crossing-minimisation passes keep big graphs fast.
        agattr(g, AGRAPH, str("mclimit"), str("0.3"));
        agattr(g, AGRAPH, str("nslimit"), str("2"));
        agattr(g, AGRAPH, str("nslimit1"), str("2"));
        agattr(g, AGRAPH, str("searchsize"), str("10"));
    }
    agattr(g, AGNODE, str("shape"), str("box"));
    agattr(g, AGNODE, str("fixedsize"), str("true"));
    agattr(g, AGNODE, str("label"), str(""));
    Agsym_t* width = agattr(g, AGNODE, str("width"), str("1"));
    Agsym_t* height = agattr(g, AGNODE, str("height"), str("0.5"));
    Agsym_t* clusterLabel = agattr(g, AGRAPH, str("label"), str(""));
    agattr(g, AGEDGE, str("arrowsize"), str("0.6"));

    QVector<Agraph_t*> clusters(input.clusters.size(), nullptr);
    for (int i = 0; i < input.clusters.size(); ++i) {
        const auto& c = input.clusters[i];
        Agraph_t* parent = c.parent >= 0 && c.parent < i ? clusters[c.parent] : g;
        clusters[i] = agsubg(parent, QByteArray("cluster_" + QByteArray::number(i)).data(), 1);
        set(clusters[i], clusterLabel, c.label.toUtf8());
    }
    QVector<Agnode_t*> nodes(input.nodes.size(), nullptr);
    for (int i = 0; i < input.nodes.size(); ++i) {
        const auto& n = input.nodes[i];
        Agnode_t* node = agnode(g, QByteArray("n" + QByteArray::number(i)).data(), 1);
        set(node, width, QByteArray::number(n.size.width() / 72.0, 'f', 4));
        set(node, height, QByteArray::number((n.size.height() + input.roomBelowNodes) / 72.0, 'f', 4));
        if (n.cluster >= 0 && n.cluster < clusters.size())
            agsubnode(clusters[n.cluster], node, 1);
        nodes[i] = node;
    }
    QVector<Agedge_t*> edges(input.edges.size(), nullptr);
    for (int i = 0; i < input.edges.size(); ++i) {
        const auto& e = input.edges[i];
        if (e.from < 0 || e.to < 0 || e.from >= nodes.size() || e.to >= nodes.size() || e.from == e.to)
            continue;
        edges[i] = agedge(g, nodes[e.from], nodes[e.to], QByteArray("e" + QByteArray::number(i)).data(), 1);
    }

    const QByteArray dump = qgetenv("FEATSCOPE_DUMP_DOT"); // debugging aid: the graph handed to Graphviz
    if (!dump.isEmpty())
        if (FILE* f = std::fopen(dump.constData(), "w")) {
            agwrite(g, f);
            std::fclose(f);
        }
    if (gvLayout(gvc, g, "dot") != 0) {
        result.error = QStringLiteral("Graphviz could not lay out the graph (is the dot layout plugin installed?).");
        return result;
    }
    deleter.laidOut = true;

    const boxf bb = GD_bb(g);
    const double top = bb.UR.y;
    auto toScene = [top](pointf p) { return QPointF(p.x, top - p.y); };
    result.bounds = QRectF(QPointF(bb.LL.x, 0), QPointF(bb.UR.x, bb.UR.y - bb.LL.y));

    result.nodeRects.resize(nodes.size());
    for (int i = 0; i < nodes.size(); ++i) {
        const QPointF centre = toScene(ND_coord(nodes[i]));
        const QSizeF size = input.nodes[i].size;
        const qreal slotHeight = size.height() + input.roomBelowNodes;
        result.nodeRects[i] = QRectF(centre.x() - size.width() / 2, centre.y() - slotHeight / 2,
                                     size.width(), size.height());
    }
    result.clusterRects.resize(clusters.size());
    for (int i = 0; i < clusters.size(); ++i) {
        const boxf cb = GD_bb(clusters[i]);
        result.clusterRects[i] = QRectF(toScene(cb.LL), toScene(cb.UR)).normalized();
    }
    result.edgePaths.resize(edges.size());
    result.edgeArrows.resize(edges.size());
    for (int i = 0; i < edges.size(); ++i) {
        if (!edges[i] || !ED_spl(edges[i]))
            continue;
        const splines* spl = ED_spl(edges[i]);
        QPainterPath path;
        for (int b = 0; b < spl->size; ++b) {
            const bezier& bz = spl->list[b];
            if (bz.size == 0)
                continue;
            const QPointF start = toScene(bz.list[0]);
            // An edge leaving through the room under its box starts at the box, straight down to the spline.
            const QRectF& from = result.nodeRects[input.edges[i].from];
            if (b == 0 && input.roomBelowNodes > 0 && start.y() > from.bottom()) {
                path.moveTo(start.x(), from.bottom());
                path.lineTo(start);
            } else {
                path.moveTo(start);
            }
            for (int p = 1; p + 2 < bz.size; p += 3)
                path.cubicTo(toScene(bz.list[p]), toScene(bz.list[p + 1]), toScene(bz.list[p + 2]));
            if (bz.eflag) {
                const QPointF tip = toScene(bz.ep);
                const QPointF base = toScene(bz.list[bz.size - 1]);
                const QLineF line(base, tip);
                const QLineF normal = line.normalVector();
                const QPointF offset = (normal.p2() - normal.p1()) * 0.45;
                result.edgeArrows[i] = QPolygonF({tip, base + offset, base - offset});
            }
        }
        result.edgePaths[i] = path;
    }
    result.elapsedMs = timer.elapsed();
    return result;
}

} // namespace featscope::ui
