#pragma once

#include "ModelInfo.h"

#include <QAbstractTableModel>
#include <QVector>

#include <optional>

namespace featscope::ui {

/// One node's summary from the engine's "stats" request (featscope::NodeStatistics).
struct NodeSummary {
    QString name;
    QVector<qint64> shape;
    std::optional<double> min, max, mean, std, zeros; ///< empty where the value had no finite elements
    qint64 deadChannels = 0;
    int channelDim = -1;
    QVector<qint64> histogram; ///< equal-width bins from min to max

    static NodeSummary fromJson(const QJsonObject& object);
};

/// The nodes of one statistics run as a sortable table: name, shape, min, max, mean, std, zeros, dead channels.
class NodeStatisticsModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Columns { NameColumn, ShapeColumn, MinColumn, MaxColumn, MeanColumn, StdColumn, ZerosColumn, DeadColumn, ColumnCount };
    /// Sorts by the number, not its text.
    static constexpr int SortRole = Qt::UserRole + 1;

    using QAbstractTableModel::QAbstractTableModel;

    void setNodes(QVector<NodeSummary> nodes);
    const QVector<NodeSummary>& nodes() const { return m_nodes; }
    /// The statistic of `column` for node `row`, when it has one.
    std::optional<double> value(int row, int column) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    QVector<NodeSummary> m_nodes;
};

} // namespace featscope::ui
