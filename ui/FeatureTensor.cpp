#include "FeatureTensor.h"

#include <QSaveFile>
#include <QtEndian>

#include <cmath>
#include <cstring>
#include <limits>

namespace featscope::ui {

namespace {

/// Number of values of `shape`; -1 when negative or too large to show.
qint64 valueCount(const QVector<qint64>& shape)
{
    qint64 count = 1;
    for (qint64 d : shape) {
        if (d < 0 || (d > 0 && count > (qint64(1) << 31) / d))
            return -1;
        count *= d;
    }
    return count;
}

} // namespace

FeatureTensor FeatureTensor::fromOutput(const RunOutput& output, QString* error)
{
    const qint64 count = valueCount(output.shape);
    // The protocol checked that the values fill the shape; what is left is what a plane can index.
    if (count < 0 || count != output.count()) {
        *error = QObject::tr("Output '%1' is too large to show (%2).").arg(output.key, output.shapeText());
        return {};
    }
    QVector<float> values(count);
    std::memcpy(values.data(), output.data(), std::size_t(count) * sizeof(float));
    FeatureTensor t = fromValues(output.shape, std::move(values), error);
    if (t.isEmpty())
        *error = QObject::tr("Output '%1' has no values (%2).").arg(output.key, output.shapeText());
    return t;
}

FeatureTensor FeatureTensor::fromValues(const QVector<qint64>& shape, QVector<float> values, QString* error)
{
    FeatureTensor t;
    const qint64 count = valueCount(shape);
    if (count < 0 || count != values.size()) {
        *error = QObject::tr("%1 values do not fill a tensor of %2 dimension(s).").arg(values.size()).arg(shape.size());
        return t;
    }
    t.m_shape = shape;
    t.m_data = std::move(values);
    // Without a layout: [N, C, H, W...] -> C planes of H x W...; lower ranks give one plane.
    const auto& s = t.m_shape;
    if (s.size() >= 3) {
        t.m_channels = int(s[1]);
        t.m_height = int(s[2]);
        qint64 w = 1;
        for (int i = 3; i < s.size(); ++i)
            w *= s[i];
        t.m_width = int(w);
    } else {
        t.m_channels = 1;
        t.m_height = 1;
        t.m_width = s.isEmpty() ? 1 : int(s.last());
    }
    if (qint64(t.m_channels) * t.m_height * t.m_width > count || t.m_channels == 0 || t.m_height == 0 || t.m_width == 0) {
        t.m_data.clear();
        *error = QObject::tr("A tensor of shape %1 has no values.").arg(s.size());
    }
    return t;
}

QPair<float, float> FeatureTensor::channelRange(int c) const
{
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;
    const float* p = plane(c);
    for (qsizetype i = 0, n = qsizetype(m_height) * m_width; i < n; ++i)
        if (std::isfinite(p[i])) {
            lo = std::min(lo, p[i]);
            hi = std::max(hi, p[i]);
        }
    return {lo, hi};
}

QPair<float, float> FeatureTensor::range() const
{
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;
    for (int c = 0; c < m_channels; ++c) {
        const auto r = channelRange(c);
        lo = std::min(lo, r.first);
        hi = std::max(hi, r.second);
    }
    return {lo, hi};
}

QVector<float> FeatureTensor::channelMean() const
{
    const qsizetype n = qsizetype(m_height) * m_width;
    QVector<float> mean(n, 0.f);
    for (int c = 0; c < m_channels; ++c) {
        const float* p = plane(c);
        for (qsizetype i = 0; i < n; ++i)
            mean[i] += p[i];
    }
    for (float& v : mean)
        v /= float(std::max(1, m_channels));
    return mean;
}

FeatureTensor FeatureTensor::arranged(const featscope::TensorLayout& layout) const
{
    using featscope::TensorLayoutKind;
    if (!layout.isSpatial() || isEmpty())
        return *this;
    const qint64 channels = layout.channels, height = layout.height, width = layout.width;
    const qint64 plane = height * width;
    const qint64 tokens = layout.classToken ? plane + 1 : plane;
    const qint64 needed = layout.kind == TensorLayoutKind::Tokens ? tokens * channels : plane * channels;
    if (channels <= 0 || plane <= 0 || needed > m_data.size())
        return *this;
    FeatureTensor maps = *this;
    maps.m_layout = layout;
    maps.m_channels = int(channels);
    maps.m_height = int(height);
    maps.m_width = int(width);
    maps.m_classToken.clear();
    if (layout.kind == TensorLayoutKind::Nchw) {
        maps.m_data = m_data.mid(0, channels * plane);
        return maps;
    }
    // Channels last: [H*W (+ class token), C] -> C planes of H x W.
    const float* values = m_data.constData();
    const qint64 first = layout.kind == TensorLayoutKind::Tokens && layout.classToken ? 1 : 0;
    if (first == 1)
        maps.m_classToken = QVector<float>(values, values + channels);
    maps.m_data.resize(channels * plane);
    float* out = maps.m_data.data();
    for (qint64 position = 0; position < plane; ++position) {
        const float* row = values + (first + position) * channels;
        for (qint64 c = 0; c < channels; ++c)
            out[c * plane + position] = row[c];
    }
    return maps;
}

bool writeNpy(const QString& path, const QVector<qint64>& shape, const float* data, qint64 count, QString* error)
{
    QByteArray header = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
    for (int i = 0; i < shape.size(); ++i)
        header += QByteArray::number(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? "," : "") + (i + 1 < shape.size() ? " " : "");
    header += "), }";
    // Magic (6) + version (2) + length (2) + header + newline is padded to a multiple of 64.
    const int total = 10 + int(header.size()) + 1;
    header += QByteArray((64 - total % 64) % 64, ' ');
    header += '\n';
    QByteArray prefix("\x93NUMPY\x01\x00", 8);
    quint16 length = qToLittleEndian<quint16>(quint16(header.size()));
    prefix.append(reinterpret_cast<const char*>(&length), 2);

    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) {
        *error = file.errorString();
        return false;
    }
    file.write(prefix);
    file.write(header);
    if (Q_BYTE_ORDER == Q_LITTLE_ENDIAN) {
        file.write(reinterpret_cast<const char*>(data), count * qint64(sizeof(float)));
    } else {
        for (qint64 i = 0; i < count; ++i) {
            const float v = qToLittleEndian(data[i]);
            file.write(reinterpret_cast<const char*>(&v), sizeof v);
        }
    }
    if (!file.commit()) {
        *error = file.errorString();
        return false;
    }
    return true;
}

} // namespace featscope::ui
