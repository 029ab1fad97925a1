#pragma once

#include "ModelInfo.h"
#include "ModuleTree.h"

#include <QAbstractItemModel>
#include <QHash>
#include <QSet>
#include <QVector>

namespace featscope::ui {

/// The named nodes of one mode as a tree by module path; nodes are checkable to pick return nodes.
/// Rows are indices into the graph and its module tree; texts are made when a view asks for them, so
/// building the tree of a 10,000-node model costs the GUI thread a few milliseconds (an item per cell
/// cost it over 100).
class NodeTreeModel : public QAbstractItemModel {
    Q_OBJECT
public:
    enum Roles {
        NameRole = Qt::UserRole + 1, ///< full node name or module path
        IsModuleRole,                ///< true for module rows
    };
    enum Columns { NameColumn, TypeColumn, ShapeColumn, ColumnCount };

    explicit NodeTreeModel(QObject* parent = nullptr);

    /// Rebuilds the tree in one reset: modules are parent rows, in the order of their first node; nodes
    /// missing from `otherModeNames` (when it is not empty) are marked "not in <otherMode>".
    void build(const ModeGraph& graph, const ModuleTree& tree, const QSet<QString>& otherModeNames,
               const QString& otherMode);

    /// Index (column 0) of node or module `name`, invalid when absent.
    QModelIndex indexForName(const QString& name) const;
    /// Ticks exactly `names` without emitting checkToggled.
    void setChecked(const QSet<QString>& names);
    /// Output shape text per node name; nodes not in `shapes` show none.
    void setShapes(const QHash<QString, QString>& shapes);

    QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
    QModelIndex parent(const QModelIndex& child) const override;
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

Q_SIGNALS:
    /// The user ticked or unticked node `name`.
    void checkToggled(const QString& name, bool checked);

private:
    /// One row: a module (`item` indexes the module tree) or a node (`item` indexes the graph's nodes).
    struct Row {
        bool isModule = false;
        int item = -1;
        int parent = -1;    ///< row id of the parent, -1 at the top level
        int position = 0;   ///< row number under the parent
        QVector<int> children; ///< row ids
    };
    const QVector<int>& childrenOf(const QModelIndex& parent) const;
    QModelIndex indexOfRow(int rowId, int column = NameColumn) const;
    QVariant nodeData(const GraphNodeInfo& node, int column, int role) const;
    QVariant moduleData(const ModuleTree::Module& module, int column, int role) const;
    bool inOtherMode(const GraphNodeInfo& node) const;

    ModeGraph m_graph;
    ModuleTree m_tree;
    QSet<QString> m_otherNames;
    QString m_otherMode;
    QVector<Row> m_rows;          ///< the row id is the index; it is each index's internal id
    QVector<int> m_topLevel;      ///< row ids
    QHash<QString, int> m_nodeRows;   ///< node name -> row id
    QHash<QString, int> m_moduleRows; ///< module path -> row id
    QVector<bool> m_checked;      ///< per graph node
    QHash<QString, QString> m_shapes;
};

} // namespace featscope::ui
