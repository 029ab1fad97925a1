#pragma once

#include "ModelInfo.h"

#include <QHash>
#include <QSet>
#include <QWidget>

class QSortFilterProxyModel;
class QTreeView;

namespace featscope::ui {

class ModuleTree;
class NodeTreeModel;

/// The named nodes as a tree by module path (NodeTreeModel), filtered by the search text; ticking a node
/// picks it as a return node.
class NodeTreePanel : public QWidget {
    Q_OBJECT
public:
    explicit NodeTreePanel(QWidget* parent = nullptr);

    /// Rebuilds the tree for `graph`; nodes missing from `otherModeNames` are marked "not in <otherMode>".
    void build(const ModeGraph& graph, const ModuleTree& tree, const QSet<QString>& otherModeNames, const QString& otherMode);
    void clear();
    void setChecked(const QSet<QString>& names);
    void setShapes(const QHash<QString, QString>& shapes);
    /// Shows only rows whose name contains `text` (and their parents); empty shows all.
    void setFilter(const QString& text);
    /// Makes `name` the current row and scrolls to it, without emitting currentNodeChanged.
    void showNode(const QString& name);

    QTreeView* view() const { return m_view; }
    NodeTreeModel* model() const { return m_model; }
    QSortFilterProxyModel* proxy() const { return m_proxy; }

Q_SIGNALS:
    /// The user made node or module `name` the current row.
    void currentNodeChanged(const QString& name);
    /// The user ticked or unticked node `name`.
    void checkToggled(const QString& name);

private:
    QTreeView* m_view;
    NodeTreeModel* m_model;
    QSortFilterProxyModel* m_proxy;
    bool m_syncing = false;
};

} // namespace featscope::ui
