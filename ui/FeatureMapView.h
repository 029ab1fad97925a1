#pragma once

#include "FeatureTensor.h"

#include <QHash>
#include <QWidget>

#include <qcustomplot.h>

class QCheckBox;
class QLabel;
class QScrollArea;
class QSpinBox;

namespace featscope::ui {

/// How heatmap colours are scaled.
enum class Normalisation { PerChannel, PerNode, Global };

/// The heatmaps of one output: a page of channel maps, a large view of one channel or of the channel
/// mean with its colour scale, and the output's shape and statistics.
class FeatureMapView : public QWidget {
    Q_OBJECT
public:
    static constexpr int kPageSize = 64;

    FeatureMapView(const RunOutput& output, FeatureTensor tensor, QWidget* parent = nullptr);

    const RunOutput& output() const { return m_output; }
    const FeatureTensor& tensor() const { return m_tensor; }
    /// Colour maps drawn in the grid (for tests).
    int shownMaps() const { return int(m_cellChannel.size()); }
    QCustomPlot* gridPlot() const { return m_grid; }
    QCustomPlot* largePlot() const { return m_large; }

    void setGradient(QCPColorGradient::GradientPreset preset);
    void setNormalisation(Normalisation normalisation, QPair<float, float> globalRange);
    /// Shows channel `channel` large (-1: the mean over channels).
    void setLargeChannel(int channel);
    int largeChannel() const { return m_largeChannel; }
    /// Grid page shown, from 1.
    int page() const;
    void setPage(int page);

    /// Grid and large view side by side, as shown.
    QImage renderImage() const;

protected:
    void resizeEvent(QResizeEvent* event) override;

private:
    void buildGrid();
    void updateRanges();
    void updateLarge();
    void chooseColumns();
    void fitGrid();
    QCPRange rangeFor(int channel) const;

    RunOutput m_output;
    FeatureTensor m_tensor;
    QCustomPlot* m_grid;
    QCustomPlot* m_large;
    QMargins m_largeExtraMargins; ///< added around the large map's axis rect to keep its cells square
    QCPColorMap* m_largeMap = nullptr;
    QCPColorScale* m_scale = nullptr;
    QScrollArea* m_gridArea;
    QSpinBox* m_page;
    QSpinBox* m_channel;
    QCheckBox* m_mean;
    QLabel* m_info;
    QLabel* m_largeTitle;
    QHash<QCPAxisRect*, int> m_cellChannel;
    QVector<QCPColorMap*> m_cells;
    QCPColorGradient m_gradient;
    Normalisation m_normalisation = Normalisation::PerChannel;
    QPair<float, float> m_globalRange;
    int m_largeChannel = 0;
    int m_columns = 1, m_rows = 1;
};

} // namespace featscope::ui
