#pragma once

#include "ModelInfo.h"

#include <QHash>
#include <QSet>
#include <QStandardItemModel>

namespace featscope::ui {

class ModuleTree;

/// The named nodes of one mode as a tree by module path; nodes are checkable to pick return nodes.
class NodeTreeModel : public QStandardItemModel {
    Q_OBJECT
public:
    enum Roles {
        NameRole = Qt::UserRole + 1, ///< full node name or module path
        IsModuleRole,                ///< true for module rows
    };
    enum Columns { NameColumn, TypeColumn, ShapeColumn };

    explicit NodeTreeModel(QObject* parent = nullptr);

    /// Rebuilds the tree; nodes missing from `otherModeNames` are marked "not in <otherMode>".
    void build(const ModeGraph& graph, const ModuleTree& tree, const QSet<QString>& otherModeNames,
               const QString& otherMode);

    /// Index (column 0) of node or module `name`, invalid when absent.
    QModelIndex indexForName(const QString& name) const;
    /// Ticks exactly `names` without emitting checkToggled.
    void setChecked(const QSet<QString>& names);
    void setShapes(const QHash<QString, QString>& shapes);

Q_SIGNALS:
    /// The user ticked or unticked node `name`.
    void checkToggled(const QString& name, bool checked);

private:
    void onItemChanged(QStandardItem* item);

    QHash<QString, QStandardItem*> m_items;
    QHash<QString, QStandardItem*> m_shapeItems;
    bool m_updating = false;
};

} // namespace featscope::ui
