#pragma once

#include "ModelInfo.h"

#include <featscope/GraphDescription.h>
#include <featscope/ReturnNodes.h>

#include <QAbstractTableModel>
#include <QJsonArray>
#include <QSet>
#include <QStringList>

#include <memory>

namespace featscope::ui {

/// The chosen return nodes: node (possibly truncated), output key, the node it resolves to and a status.
/// Holds one list for both modes, or separate train and eval lists when the user asks for them.
/// Every edit is checked at once against the model's graphs, by the model layer's rule
/// (featscope::checkReturnNodes); without graphs (no model yet) rows wait.
class ReturnNodesModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Columns { NodeColumn, KeyColumn, ResolvedColumn, StatusColumn, ColumnCount };
    enum Roles { SeverityRole = Qt::UserRole + 1 }; ///< 0 ok, 1 waiting for a model, 2 error

    struct Entry {
        QString node;
        QString key;
        QString resolved;
        QString message;
        QStringList suggestions; ///< closest node names when `node` is unknown
        int severity = 1;
    };

    explicit ReturnNodesModel(QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    bool setData(const QModelIndex& index, const QVariant& value, int role) override;

    /// Mode whose list is shown (only matters with separate lists).
    void setMode(Mode mode);
    Mode mode() const { return m_mode; }
    void setSeparateModes(bool separate);
    bool separateModes() const { return m_separate; }

    /// Appends `node` to the shown list (key defaults to the node name); returns false if already there.
    bool addNode(const QString& node, const QString& key = {});
    /// Removes every entry of the shown list whose node or resolved node is `name`.
    void removeNode(const QString& name);
    void removeRowAt(int row);
    void clearAll();

    const QVector<Entry>& entries() const { return m_lists[listIndex()]; }
    const QVector<Entry>& entries(Mode mode) const { return m_lists[m_separate ? int(mode) : 0]; }
    /// Resolved node names of the shown list (for ticks in the graph and the tree).
    QSet<QString> resolvedNames() const;
    bool hasErrors() const;
    /// "Row N (node): message" for the first row with an error, empty when none.
    QString firstError() const;
    /// Replaces the node of row `row` of the shown list (a suggestion taken); the key follows a default key.
    void replaceNode(int row, const QString& node);

    /// The graphs of the loaded model, indexed by Mode; every row is checked against them again.
    void setGraphs(std::shared_ptr<const featscope::GraphDescription> train,
                   std::shared_ptr<const featscope::GraphDescription> eval);
    /// No model: rows wait (and keep their names) until the next setGraphs.
    void clearGraphs();

    /// The entries of a mode, as requests carry them.
    featscope::ReturnNodes returnNodes(Mode mode) const;

    /// Everything, for QSettings: {"separate", "train": [...], "eval": [...]}.
    QJsonObject saveState() const;
    void restoreState(const QJsonObject& state);

Q_SIGNALS:
    /// Entries were added, removed or edited (not emitted when only the graphs changed).
    void selectionEdited();

private:
    int listIndex() const { return m_separate ? int(m_mode) : 0; }
    void setList(int list, QVector<Entry> entries);
    /// Checks every list against the graph of its mode and tells the views.
    void revalidate();
    void validate(QVector<Entry>& list, Mode mode) const;

    QVector<Entry> m_lists[2];
    bool m_separate = false;
    Mode m_mode = Mode::Eval;
    std::shared_ptr<const featscope::GraphDescription> m_graphs[2]; ///< indexed by Mode; null without a model
};

} // namespace featscope::ui
