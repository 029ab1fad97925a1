#pragma once

#include "ModelInfo.h"

#include <QByteArray>
#include <QString>
#include <QVector>

namespace featscope::ui {

/// One run output's values as the engine sent them, viewed as channels of 2-D planes
/// (batch item 0; [N, C, H, W...] -> C planes of H x W; lower ranks give one plane).
/// It shares the output's bytes (no copy).
class FeatureTensor {
public:
    /// Views `output.values`; when there is nothing to show returns an empty tensor and sets `error`.
    static FeatureTensor fromOutput(const RunOutput& output, QString* error);

    bool isEmpty() const { return m_values.isEmpty(); }
    const QVector<qint64>& shape() const { return m_shape; }
    /// All values, batch included (count() of them).
    const float* values() const { return reinterpret_cast<const float*>(m_values.constData()); }
    qint64 count() const { return m_values.size() / qint64(sizeof(float)); }

    int channels() const { return m_channels; }
    int height() const { return m_height; }
    int width() const { return m_width; }
    /// First value of channel `c` of batch item 0 (height() * width() values).
    const float* plane(int c) const { return values() + qsizetype(c) * m_height * m_width; }
    /// Min and max of channel `c`.
    QPair<float, float> channelRange(int c) const;
    /// Min and max of batch item 0.
    QPair<float, float> range() const;
    /// Mean over channels, height() * width() values.
    QVector<float> channelMean() const;

private:
    QVector<qint64> m_shape;
    QByteArray m_values; ///< float32, shared with the RunOutput
    int m_channels = 0, m_height = 0, m_width = 0;
};

/// Writes a NumPy .npy file (format 1.0, little-endian float32, C order) atomically.
bool writeNpy(const QString& path, const QVector<qint64>& shape, const float* data, qint64 count, QString* error);

} // namespace featscope::ui
