#include "NodeStatisticsModel.h"

#include <featscope/protocol/Messages.h>

#include <QJsonArray>
#include <QLocale>

namespace featscope::ui {


NodeSummary NodeSummary::fromJson(const QJsonObject& o)
{
    NodeSummary node;
    node.name = o.value(QStringLiteral("name")).toString();
    node.shape = protocol::integersFromJson(o.value(QStringLiteral("shape")));
    node.min = protocol::finiteNumberFromJson(o.value(QStringLiteral("min")));
    node.max = protocol::finiteNumberFromJson(o.value(QStringLiteral("max")));
    node.mean = protocol::finiteNumberFromJson(o.value(QStringLiteral("mean")));
    node.std = protocol::finiteNumberFromJson(o.value(QStringLiteral("std")));
    node.zeros = protocol::finiteNumberFromJson(o.value(QStringLiteral("zeros")));
    node.deadChannels = qint64(o.value(QStringLiteral("deadChannels")).toDouble());
    node.channelDim = o.value(QStringLiteral("channelDim")).toInt(-1);
    node.histogram = protocol::integersFromJson(o.value(QStringLiteral("histogram")));
    return node;
}

void NodeStatisticsModel::setNodes(QVector<NodeSummary> nodes)
{
    beginResetModel();
    m_nodes = std::move(nodes);
    endResetModel();
}

std::optional<double> NodeStatisticsModel::value(int row, int column) const
{
    if (row < 0 || row >= m_nodes.size())
        return std::nullopt;
    const NodeSummary& n = m_nodes[row];
    switch (column) {
    case MinColumn:
        return n.min;
    case MaxColumn:
        return n.max;
    case MeanColumn:
        return n.mean;
    case StdColumn:
        return n.std;
    case ZerosColumn:
        return n.zeros;
    case DeadColumn:
        return double(n.deadChannels);
    default:
        return std::nullopt;
    }
}

int NodeStatisticsModel::rowCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : int(m_nodes.size()); }

int NodeStatisticsModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant NodeStatisticsModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() >= m_nodes.size())
        return {};
    const NodeSummary& n = m_nodes[index.row()];
    const int column = index.column();
    if (role == SortRole) {
        if (column == NameColumn)
            return index.row(); // execution order
        if (column == ShapeColumn) {
            qint64 count = 1;
            for (qint64 d : n.shape)
                count *= d;
            return count;
        }
        const auto v = value(index.row(), column);
        return v ? QVariant(*v) : QVariant(-std::numeric_limits<double>::infinity());
    }
    if (role == Qt::TextAlignmentRole && column >= MinColumn)
        return int(Qt::AlignRight | Qt::AlignVCenter);
    if (role != Qt::DisplayRole && role != Qt::ToolTipRole)
        return {};
    switch (column) {
    case NameColumn:
        return n.name;
    case ShapeColumn:
        return protocol::shapeText(n.shape);
    case ZerosColumn:
        return n.zeros ? QStringLiteral("%1%").arg(100 * *n.zeros, 0, 'f', 1) : QStringLiteral("–");
    case DeadColumn:
        return n.channelDim < 0 ? QStringLiteral("–") : QString::number(n.deadChannels);
    default: {
        const auto v = value(index.row(), column);
        return v ? QString::number(*v, 'g', 4) : QStringLiteral("–");
    }
    }
}

QVariant NodeStatisticsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    static const char* const names[] = {"Node", "Shape", "Min", "Max", "Mean", "Std", "Zeros", "Dead ch."};
    return section >= 0 && section < ColumnCount ? tr(names[section]) : QVariant();
}

} // namespace featscope::ui
