#pragma once

#include <QColor>
#include <QHash>
#include <QPair>
#include <QWidget>

class QComboBox;
class QCustomPlot;
class QLabel;
class QPushButton;
class QSortFilterProxyModel;
class QTableView;

namespace featscope::ui {

class ModelDocument;
class NodeStatisticsModel;

/// "Statistics": the document's last statistics run as a sortable table of nodes, the histogram of the
/// selected node, and the graph's boxes coloured by a chosen statistic, with its legend.
class StatisticsPanel : public QWidget {
    Q_OBJECT
public:
    explicit StatisticsPanel(ModelDocument* document, QWidget* parent = nullptr);

    /// Colours boxes by the table's column `column` (NodeStatisticsModel::Columns; -1: none).
    void setColouring(int column);
    int colouring() const;
    /// Colour per node for the current colouring; empty when none.
    QHash<QString, QColor> nodeColours() const;

    QTableView* table() const { return m_table; }
    NodeStatisticsModel* model() const { return m_model; }
    QCustomPlot* histogram() const { return m_histogram; }

Q_SIGNALS:
    void computeRequested();
    /// The user selected node `name` in the table.
    void nodeSelected(const QString& name);
    void nodeColoursChanged(const QHash<QString, QColor>& colours);

private:
    void showStatistics();
    void showHistogram(int row);
    void updateLegend();
    /// Smallest and largest value of column `column` over the nodes that have one (infinities when none).
    QPair<double, double> valueRange(int column) const;

    ModelDocument* m_document;
    NodeStatisticsModel* m_model;
    QSortFilterProxyModel* m_proxy;
    QTableView* m_table;
    QCustomPlot* m_histogram;
    QComboBox* m_colourBy;
    QLabel* m_legend;
    QLabel* m_summary;
    QPushButton* m_compute;
};

} // namespace featscope::ui
