#pragma once

#include "FeatureTensor.h"

#include <QHash>
#include <QStringList>
#include <QWidget>

#include <optional>

#include <qcustomplot.h>

class QCheckBox;
class QComboBox;
class QLabel;
class QScrollArea;
class QSpinBox;

namespace featscope::ui {

/// What the enlarged map shows when a reference run is pinned: this run, the reference, or this run minus it.
enum class Comparison { Run, Reference, Difference };

/// Order of the channel tiles.
enum class ChannelOrder { Index, Mean, Firing };

/// How heatmap colours are scaled.
enum class Normalisation { PerChannel, PerNode, Global };

/// The map shown large, coloured, for drawing over the input image.
struct MapOverlay {
    QImage colours; ///< one pixel per map cell, in the view's colour map and range; null when there is no map
    QString title;  ///< "layer2: channel 5 of 512"
    QPoint cell{-1, -1}; ///< the cell the user clicked in the large view, (-1, -1) when none
    QString node;   ///< the output's node
    QString path;   ///< where the map's tensor sits in the node's value ("['0']"); empty when it is the value
    int channel = -1; ///< the channel shown, -1 for the mean of the channels
    QString layout; ///< the layout the user chose for it ("" when detected)
};

/// How to read an output's values, besides the values themselves.
struct MapContext {
    std::optional<featscope::InputSize> input; ///< the model input's spatial size, for the layout rule
    QString layout;      ///< "nchw", "nhwc" or "tokens" the user chose for this node; empty: detected
    QStringList classes; ///< labels of a classifier's outputs (featscope.json's "classes")
};

/// The heatmaps of one output: a page of channel maps, a large view of one channel or of the channel
/// mean with its colour scale, and the output's shape and statistics. Values are read in a layout
/// (featscope::detectTensorLayout's, or the one the user picks): NCHW maps, NHWC maps, tokens over a grid
/// with the class token set apart. A vector ([N, K], e.g. class scores) is drawn as bars with its top
/// entries listed, labelled with the model's classes when it has them.
class FeatureMapView : public QWidget {
    Q_OBJECT
public:
    static constexpr int kPageSize = 64;
    static constexpr int kTopEntries = 5;

    FeatureMapView(const RunOutput& output, FeatureTensor tensor, MapContext context = {}, QWidget* parent = nullptr);

    const RunOutput& output() const { return m_output; }
    /// The values as the engine sent them (shape and order), for export.
    const FeatureTensor& tensor() const { return m_values; }
    /// The values as drawn: planes in the chosen layout.
    const FeatureTensor& maps() const { return m_tensor; }
    /// Reads the values in `layout` ("nchw", "nhwc", "tokens"; empty: detected). False, with the reason shown
    /// and the current layout kept, when the shape does not fit it.
    bool setLayout(const QString& layout);
    /// The layout chosen ("" when detected).
    QString layoutChoice() const;
    /// Vectors only: "bag (63.2%)", the top entry with its softmax share; empty for maps.
    QString prediction() const;
    QCustomPlot* vectorPlot() const { return m_vectorPlot; }
    /// The large map (a channel or the mean) coloured as shown, for the input view.
    MapOverlay overlay() const;
    /// Orders the tiles: by channel index, or the strongest first (mean value, or share of positions above zero).
    void setChannelOrder(ChannelOrder order);
    /// Channels in tile order.
    const QVector<int>& channelOrder() const { return m_order; }
    /// Pins the same output of another run (e.g. another image) to compare with; `label` names it. A tensor of
    /// another shape, or an empty one, clears it.
    void setReference(const FeatureTensor& values, const QString& label);
    bool hasReference() const { return !m_referenceValues.isEmpty(); }
    /// What the enlarged map shows; this run and the reference share one colour scale, the difference is
    /// centred on zero.
    void setComparison(Comparison comparison);
    Comparison comparison() const { return m_comparison; }
    /// The enlarged map's values (height x width), as compared.
    QVector<float> largeValues() const;
    /// Marks cell (x, y) of the large map (as a click on it does); (-1, -1) clears.
    void setSelectedCell(QPoint cell);
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

Q_SIGNALS:
    /// The user chose `layout` for the output's node ("" for the detected one).
    void layoutChosen(const QString& node, const QString& layout);
    /// What overlay() gives changed: channel, colours, layout or the clicked cell.
    void overlayChanged();

protected:
    void resizeEvent(QResizeEvent* event) override;

private:
    /// Shows m_tensor: page and channel ranges, maps or the vector view.
    void showArrangement();
    void showVector();
    /// [N, K] with K > 1: drawn as bars.
    bool isVector() const;
    QString entryName(int index) const;
    void buildGrid();
    void updateRanges();
    void updateLarge();
    void chooseColumns();
    void fitGrid();
    QCPRange rangeFor(int channel) const;
    /// rangeFor's rule on `maps`.
    QCPRange rangeIn(const FeatureTensor& maps, int channel) const;
    /// The colour range of the enlarged map as compared.
    QCPRange largeRange() const;

    RunOutput m_output;
    FeatureTensor m_values;
    FeatureTensor m_tensor;
    MapContext m_context;
    QComboBox* m_layout;
    QLabel* m_gridLabel;
    QComboBox* m_orderBox;
    QLabel* m_topList;
    QCustomPlot* m_vectorPlot;
    QString m_layoutProblem;
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
    QPoint m_selectedCell{-1, -1};
    ChannelOrder m_channelOrder = ChannelOrder::Index;
    FeatureTensor m_referenceValues;
    FeatureTensor m_referenceMaps; ///< the reference in this view's layout
    QString m_referenceLabel;
    QComboBox* m_compareBox;
    Comparison m_comparison = Comparison::Run;
    QVector<int> m_order; ///< channel shown at each tile position
    int m_columns = 1, m_rows = 1;
};

} // namespace featscope::ui
