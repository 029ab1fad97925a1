#pragma once

#include "FeatureMapView.h"
#include "ModelDocument.h"

#include <QImage>
#include <QJsonObject>
#include <QRectF>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QLabel;
class QPushButton;
class QSlider;

namespace featscope::ui {

class ModelDocument;

/// The image a run reads, as the model sees it (resized and centre-cropped, by featscope_pixels, the
/// engine's own steps) or as the file holds it with the crop outlined, and the current output's large map
/// drawn over it: opacity, nearest or smooth upsampling, aligned through the resize and the crop. A cell
/// clicked in the large map is outlined over the input: its share of the input in proportion to the grid
/// (the receptive field, which strides and kernels would give, is larger). It also asks for a class
/// activation map (Grad-CAM, Grad-CAM++, gradient x activation) at a return node, draws it over the image
/// it was computed on, lists the model's top classes by name, and saves the map as .npy or PNG.
class InputPanel : public QWidget {
    Q_OBJECT
public:
    enum class Overlay { FeatureMap, Cam };

    explicit InputPanel(ModelDocument* document, QWidget* parent = nullptr);

    /// Which map is drawn over the image; a new CAM switches to it.
    void setOverlaySource(Overlay source);
    Overlay overlaySource() const { return m_source; }
    /// Saves the document's CAM: `.npy` float32 [H, W] (ReLU applied, not normalised) or `.png` (the overlay on
    /// the model input). False with the reason in `error`.
    bool exportCam(const QString& path, QString* error) const;

    /// The map to draw over the image (ResultsPanel::currentOverlay()).
    void setOverlay(const MapOverlay& overlay);
    /// The picture as drawn now, at `size`.
    QImage render(QSize size) const;
    /// The input pixels the clicked cell depends on, found from the graph, in the shown picture (scaled to
    /// `size`); empty until the engine answered for this cell and image.
    QRectF receptiveRect(QSize size) const;
    /// Where the overlay's cell `cell` lies in the shown picture's pixels (scaled to `size`); empty when none.
    QRectF cellRect(QPoint cell, QSize size) const;

    /// Why the image cannot be shown (empty when it is).
    QString problem() const { return m_problem; }
    const QImage& shownImage() const { return m_showOriginal ? m_original : m_input; }

Q_SIGNALS:
    /// The user asked for a CAM at `node` with `method` for class `classIndex` (-1: the top class).
    void explainRequested(const QString& node, const QString& method, int classIndex);
    /// A cell was clicked: where does it look in the input (ModelController::findReceptiveRegion)?
    void receptiveRegionRequested(const QString& node, QPoint cell, const QString& layout);

private:
    /// Decodes the image the results came from (or the current one before any run), once per image and preprocessing.
    void reload();
    /// What the shown picture was (or will be) computed from: the CAM's inputs, the results', or the current ones.
    RunInputs shownInputs() const;
    /// The chosen overlay coloured, one pixel per cell; null when there is none.
    QImage overlayColours() const;
    void updateCaption();
    void updateCamChoices();
    QString className(int index) const;
    /// The shown picture's rectangle inside a widget of `size`, aspect ratio kept.
    QRectF pictureRect(QSize size) const;
    /// The model input's rectangle inside `picture` (all of it, or the crop within the original).
    QRectF inputRect(const QRectF& picture) const;

    ModelDocument* m_document;
    QComboBox* m_view;
    QSlider* m_opacity;
    QCheckBox* m_smooth;
    QLabel* m_caption;
    QWidget* m_canvas;
    QComboBox* m_sourceBox;
    QComboBox* m_camNode;
    QComboBox* m_camMethod;
    QComboBox* m_camClass;
    QPushButton* m_explain;
    QPushButton* m_saveCam;
    QString m_loadedKey;
    QImage m_input;
    QImage m_original;
    QRectF m_inputInOriginal;
    QString m_problem;
    MapOverlay m_overlay;
    bool m_showOriginal = false;
    Overlay m_source = Overlay::FeatureMap;
    bool m_smoothChosen = false; ///< the user set Smooth; a CAM no longer turns it on
};

} // namespace featscope::ui
