#pragma once

#include "ModelInfo.h"

#include <QHash>
#include <QSet>
#include <QString>
#include <QVector>

namespace featscope::ui {

/// The module hierarchy of a graph, derived from torchvision node names ("layer1.0.conv1" lives in module
/// "layer1.0"), with node counts for collapsing.
class ModuleTree {
public:
    struct Module {
        QString path;       ///< "" for the top level
        QString name;       ///< last path segment
        QString className;  ///< short class name when known
        int parent = -1;
        int depth = 0;
        QVector<int> children; ///< module indices
        QVector<int> nodes;    ///< graph node indices directly in this module
        int totalNodes = 0;    ///< nodes in this module and below
    };

    /// Rebuilds the tree for `graph`; module 0 is the top level.
    void build(const ModeGraph& graph);

    const QVector<Module>& modules() const { return m_modules; }
    const Module& module(int index) const { return m_modules[index]; }
    /// Innermost module holding graph node `node`.
    int moduleOfNode(int node) const { return m_nodeModule.value(node, 0); }
    /// Module index for `path`, or -1.
    int findModule(const QString& path) const { return m_byPath.value(path, -1); }
    /// True when `module` is `ancestor` or lies below it.
    bool isWithin(int module, int ancestor) const;

    /// Modules to collapse so that about `budget` boxes are visible: expands breadth first while it fits.
    QSet<int> defaultCollapsed(int budget) const;
    /// Same, also keeping the merged edges of `graph` under `edgeBudget` (dense models such as DenseNet
    /// have far more edges than boxes, and Graphviz time grows with edges inside clusters).
    QSet<int> defaultCollapsed(const ModeGraph& graph, int budget, int edgeBudget) const;
    /// Number of boxes shown for a set of collapsed modules.
    int visibleCount(const QSet<int>& collapsed) const;

private:
    int ensureModule(const QString& path);

    QVector<Module> m_modules;
    QHash<QString, int> m_byPath;
    QVector<int> m_nodeModule;
};

/// The graph as drawn: visible nodes and collapsed module boxes, clusters for expanded modules, merged edges.
struct VisibleGraph {
    struct Item {
        bool isModule = false; ///< a collapsed module box
        int index = -1;        ///< graph node index, or module index for a collapsed module
        int cluster = -1;      ///< index into clusterModules
    };
    QVector<Item> items;
    QVector<int> clusterModules;      ///< module index of each cluster
    QVector<int> clusterParents;      ///< parent cluster of each cluster, -1 at the top
    QVector<QPair<int, int>> edges;   ///< item index pairs
    QVector<int> nodeItem;            ///< graph node index -> item showing it (itself or a collapsed module)

    /// Builds it from `graph` and `tree` with `collapsed` module indices.
    static VisibleGraph build(const ModeGraph& graph, const ModuleTree& tree, const QSet<int>& collapsed);
};

} // namespace featscope::ui
