#pragma once

#include "FeatureMapView.h"

#include <QImage>
#include <QJsonObject>
#include <QRectF>
#include <QWidget>

class QCheckBox;
class QComboBox;
class QLabel;
class QSlider;

namespace featscope::ui {

class ModelDocument;

/// The image a run reads, as the model sees it (resized and centre-cropped, by featscope_pixels, the
/// engine's own steps) or as the file holds it with the crop outlined, and the current output's large map
/// drawn over it: opacity, nearest or smooth upsampling, aligned through the resize and the crop. A cell
/// clicked in the large map is outlined over the input: its share of the input in proportion to the grid
/// (the receptive field, which strides and kernels would give, is larger).
class InputPanel : public QWidget {
    Q_OBJECT
public:
    explicit InputPanel(ModelDocument* document, QWidget* parent = nullptr);

    /// The map to draw over the image (ResultsPanel::currentOverlay()).
    void setOverlay(const MapOverlay& overlay);
    /// The picture as drawn now, at `size`.
    QImage render(QSize size) const;
    /// Where the overlay's cell `cell` lies in the shown picture's pixels (scaled to `size`); empty when none.
    QRectF cellRect(QPoint cell, QSize size) const;

    /// Why the image cannot be shown (empty when it is).
    QString problem() const { return m_problem; }
    const QImage& shownImage() const { return m_showOriginal ? m_original : m_input; }

private:
    /// Decodes the image the results came from (or the current one before any run), once per image and preprocessing.
    void reload();
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
    QString m_loadedKey;
    QImage m_input;
    QImage m_original;
    QRectF m_inputInOriginal;
    QString m_problem;
    MapOverlay m_overlay;
    bool m_showOriginal = false;
};

} // namespace featscope::ui
