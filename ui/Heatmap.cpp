#include "Heatmap.h"

#include <QVector>

#include <algorithm>

namespace featscope::ui {

const QList<QPair<QString, QCPColorGradient::GradientPreset>>& colourMaps()
{
    static const QList<QPair<QString, QCPColorGradient::GradientPreset>> list{
        {QStringLiteral("Thermal"), QCPColorGradient::gpThermal},
        {QStringLiteral("Hot"), QCPColorGradient::gpHot},
        {QStringLiteral("Grayscale"), QCPColorGradient::gpGrayscale},
        {QStringLiteral("Jet"), QCPColorGradient::gpJet},
        {QStringLiteral("Polar"), QCPColorGradient::gpPolar},
        {QStringLiteral("Night"), QCPColorGradient::gpNight},
        {QStringLiteral("Spectrum"), QCPColorGradient::gpSpectrum},
        {QStringLiteral("Ion"), QCPColorGradient::gpIon}};
    return list;
}

QCPColorGradient colourMapNamed(const QString& name)
{
    for (const auto& [mapName, preset] : colourMaps())
        if (mapName == name)
            return QCPColorGradient(preset);
    return QCPColorGradient(QCPColorGradient::gpThermal);
}

QImage colourised(const float* values, int width, int height, const QCPRange& range, const QCPColorGradient& gradient)
{
    QImage colours(width, height, QImage::Format_ARGB32);
    // colorize() fills the gradient's colour table on first use: one copy serves every row.
    QCPColorGradient colouring(gradient);
    QVector<double> row(width);
    for (int y = 0; y < height; ++y) {
        std::copy(values + qsizetype(y) * width, values + qsizetype(y + 1) * width, row.begin());
        colouring.colorize(row.constData(), range, reinterpret_cast<QRgb*>(colours.scanLine(y)), width);
    }
    return colours;
}

} // namespace featscope::ui
