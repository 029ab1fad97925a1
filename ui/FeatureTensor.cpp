#include "FeatureTensor.h"

#include <QSaveFile>
#include <QtEndian>

#include <cmath>
#include <limits>

namespace featscope::ui {

FeatureTensor FeatureTensor::fromOutput(const RunOutput& output, QString* error)
{
    FeatureTensor t;
    const qint64 count = output.values.size() / qint64(sizeof(float));
    // The protocol checked that the values match the shape; what is left is what a plane can index.
    if (count != output.count() || count > (qint64(1) << 31)) {
        *error = QObject::tr("Output '%1' is too large to show (%2).").arg(output.key, output.shapeText());
        return t;
    }
    t.m_shape = output.shape;
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
        *error = QObject::tr("Output '%1' has no values (%2).").arg(output.key, output.shapeText());
        return t;
    }
    t.m_values = output.values;
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
