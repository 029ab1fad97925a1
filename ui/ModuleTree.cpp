#include "ModuleTree.h"

#include <QRegularExpression>

#include <algorithm>

namespace featscope::ui {

namespace {

QString shortClass(QString q)
{
    static const QRegularExpression mangle(QStringLiteral("___torch_mangle_\\d+\\."));
    q.remove(mangle);
    const int dot = q.lastIndexOf(QLatin1Char('.'));
    return dot >= 0 ? q.mid(dot + 1) : q;
}

} // namespace

int ModuleTree::ensureModule(const QString& path)
{
    const auto found = m_byPath.constFind(path);
    if (found != m_byPath.constEnd())
        return *found;
    const int dot = path.lastIndexOf(QLatin1Char('.'));
    const int parent = path.isEmpty() ? -1 : ensureModule(dot >= 0 ? path.left(dot) : QString());
    Module m;
    m.path = path;
    m.name = dot >= 0 ? path.mid(dot + 1) : path;
    m.parent = parent;
    m.depth = parent >= 0 ? m_modules[parent].depth + 1 : 0;
    const int index = int(m_modules.size());
    m_modules.append(m);
    m_byPath.insert(path, index);
    if (parent >= 0)
        m_modules[parent].children.append(index);
    return index;
}

void ModuleTree::build(const ModeGraph& graph)
{
    m_modules.clear();
    m_byPath.clear();
    m_nodeModule = QVector<int>(graph.nodes.size(), 0);
    ensureModule(QString());
    for (int i = 0; i < graph.nodes.size(); ++i) {
        const GraphNodeInfo& node = graph.nodes[i];
        const int dot = node.name.lastIndexOf(QLatin1Char('.'));
        const int module = ensureModule(dot >= 0 ? node.name.left(dot) : QString());
        m_modules[module].nodes.append(i);
        m_nodeModule[i] = module;
    }
    for (Module& m : m_modules)
        if (graph.moduleClasses.contains(m.path))
            m.className = shortClass(graph.moduleClasses.value(m.path));
    for (const GraphNodeInfo& node : graph.nodes) {
        if (node.kind == QLatin1String("leaf_module") || node.moduleClass.isEmpty())
            continue;
        const int m = findModule(node.modulePath);
        if (m >= 0 && m_modules[m].className.isEmpty())
            m_modules[m].className = shortClass(node.moduleClass);
    }
    // Children come after parents, so a reverse sweep sums node counts bottom-up.
    for (int i = int(m_modules.size()) - 1; i >= 0; --i) {
        m_modules[i].totalNodes += int(m_modules[i].nodes.size());
        if (m_modules[i].parent >= 0)
            m_modules[m_modules[i].parent].totalNodes += m_modules[i].totalNodes;
    }
}

bool ModuleTree::isWithin(int module, int ancestor) const
{
    for (int m = module; m >= 0; m = m_modules[m].parent)
        if (m == ancestor)
            return true;
    return false;
}

int ModuleTree::visibleCount(const QSet<int>& collapsed) const
{
    int count = 0;
    QVector<int> stack{0};
    while (!stack.isEmpty()) {
        const Module& m = m_modules[stack.takeLast()];
        count += int(m.nodes.size());
        for (int c : m.children) {
            if (collapsed.contains(c))
                ++count;
            else
                stack.append(c);
        }
    }
    return count;
}

QSet<int> ModuleTree::defaultCollapsed(int budget) const
{
    QSet<int> collapsed;
    for (int i = 1; i < m_modules.size(); ++i)
        collapsed.insert(i);
    int count = visibleCount(collapsed);
    // Breadth first: a module is opened when the boxes it adds still fit in the budget.
    QVector<int> frontier = m_modules.isEmpty() ? QVector<int>() : m_modules[0].children;
    while (!frontier.isEmpty()) {
        QVector<int> next;
        for (int m : frontier) {
            const int added = int(m_modules[m].nodes.size() + m_modules[m].children.size()) - 1;
            if (count + added > budget)
                continue;
            collapsed.remove(m);
            count += added;
            next += m_modules[m].children;
        }
        frontier = next;
    }
    return collapsed;
}

QSet<int> ModuleTree::defaultCollapsed(const ModeGraph& graph, int budget, int edgeBudget) const
{
    QSet<int> collapsed = defaultCollapsed(budget);
    while (budget > 8) {
        const VisibleGraph v = VisibleGraph::build(graph, *this, collapsed);
        if (v.edges.size() <= edgeBudget)
            break;
        budget = budget * 2 / 3;
        collapsed = defaultCollapsed(budget);
    }
    return collapsed;
}

VisibleGraph VisibleGraph::build(const ModeGraph& graph, const ModuleTree& tree, const QSet<int>& collapsed)
{
    VisibleGraph v;
    v.nodeItem = QVector<int>(graph.nodes.size(), -1);
    QVector<int> moduleCluster(tree.modules().size(), -1);
    // Depth-first over expanded modules, so clusters are created parents first.
    struct Frame {
        int module;
        int cluster;
    };
    QVector<Frame> stack{{0, -1}};
    while (!stack.isEmpty()) {
        const Frame f = stack.takeLast();
        const auto& m = tree.module(f.module);
        for (int n : m.nodes) {
            v.nodeItem[n] = int(v.items.size());
            v.items.append({false, n, f.cluster});
        }
        for (auto it = m.children.crbegin(); it != m.children.crend(); ++it) {
            const int c = *it;
            if (collapsed.contains(c)) {
                const int item = int(v.items.size());
                v.items.append({true, c, f.cluster});
                // Everything below a collapsed module is shown by its box.
                QVector<int> inner{c};
                while (!inner.isEmpty()) {
                    const auto& im = tree.module(inner.takeLast());
                    for (int n : im.nodes)
                        v.nodeItem[n] = item;
                    inner += im.children;
                }
            } else {
                const int cluster = int(v.clusterModules.size());
                v.clusterModules.append(c);
                v.clusterParents.append(f.cluster);
                moduleCluster[c] = cluster;
                stack.append({c, cluster});
            }
        }
    }
    QSet<quint64> seen;
    for (int n = 0; n < graph.nodes.size(); ++n) {
        const int to = v.nodeItem[n];
        for (int input : graph.nodes[n].inputs) {
            if (input < 0 || input >= graph.nodes.size())
                continue;
            const int from = v.nodeItem[input];
            if (from == to || from < 0 || to < 0)
                continue;
            const quint64 key = (quint64(quint32(from)) << 32) | quint32(to);
            if (!seen.contains(key)) {
                seen.insert(key);
                v.edges.append({from, to});
            }
        }
    }
    return v;
}

} // namespace featscope::ui
