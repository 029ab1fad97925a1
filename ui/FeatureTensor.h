#pragma once

#include "ModelInfo.h"

#include <featscope/TensorLayout.h>

#include <QString>
#include <QVector>

namespace featscope::ui {

/// One run output's values as the engine sent them, viewed as channels of 2-D planes
/// (batch item 0; [N, C, H, W...] -> C planes of H x W; lower ranks give one plane).
class FeatureTensor {
public:
    /// The values of `output`; when there is nothing to show returns an empty tensor and sets `error`.
    static FeatureTensor fromOutput(const RunOutput& output, QString* error);
    /// Values of `shape` in C order; empty (with `error`) when their count does not match the shape.
    static FeatureTensor fromValues(const QVector<qint64>& shape, QVector<float> values, QString* error);

    bool isEmpty() const { return m_data.isEmpty(); }
    const QVector<qint64>& shape() const { return m_shape; }
    const QVector<float>& data() const { return m_data; }

    int channels() const { return m_channels; }
    int height() const { return m_height; }
    int width() const { return m_width; }
    /// First value of channel `c` of batch item 0 (height() * width() values).
    const float* plane(int c) const { return m_data.constData() + qsizetype(c) * m_height * m_width; }
    /// Min and max of channel `c`.
    QPair<float, float> channelRange(int c) const;
    /// Min and max of batch item 0.
    QPair<float, float> range() const;
    /// Mean over channels, height() * width() values.
    QVector<float> channelMean() const;

    /// The same values as maps in `layout` (featscope::detectTensorLayout's or one the user forced): C planes of
    /// H x W, channels last (NHWC) or tokens over a grid moved into planes, a class token set apart. Vector
    /// and unknown layouts keep the arrangement fromValues() gives. data() of the result is in plane order.
    FeatureTensor arranged(const featscope::TensorLayout& layout) const;
    /// The layout the planes follow (Unknown for fromValues()'s own arrangement).
    const featscope::TensorLayout& layout() const { return m_layout; }
    /// Tokens with a class token: its value per channel; empty otherwise.
    const QVector<float>& classToken() const { return m_classToken; }

private:
    QVector<qint64> m_shape;
    QVector<float> m_data;
    int m_channels = 0, m_height = 0, m_width = 0;
    featscope::TensorLayout m_layout;
    QVector<float> m_classToken;
};

/// Writes a NumPy .npy file (format 1.0, little-endian float32, C order) atomically.
bool writeNpy(const QString& path, const QVector<qint64>& shape, const float* data, qint64 count, QString* error);

} // namespace featscope::ui
