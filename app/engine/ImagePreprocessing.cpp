#include "ImagePreprocessing.h"

#include <featscope/Errors.h>

#include <QFileInfo>
#include <QImage>
#include <QImageReader>
#include <QJsonArray>
#include <QPainter>

#include <cmath>

namespace {

constexpr int kMaxSide = 20000;       // refuse absurd headers before decoding
constexpr int kMaxPreprocessSide = 4096;
constexpr double kMaxResizedPixels = 64.0 * 1024 * 1024; // 192 MB as RGB bytes

QVector<double> toDoubles(const QJsonValue& value, const QVector<double>& fallback)
{
    if (value.isDouble())
        return {value.toDouble()};
    if (!value.isArray())
        return fallback;
    QVector<double> out;
    for (const QJsonValue& v : value.toArray())
        out.append(v.toDouble());
    return out.isEmpty() ? fallback : out;
}

QJsonArray toArray(const QVector<double>& values)
{
    QJsonArray a;
    for (double v : values)
        a.append(v);
    return a;
}

void check(bool ok, const std::string& message)
{
    if (!ok)
        throw featscope::Error(message);
}

} // namespace

ImagePreprocessing ImagePreprocessing::fromJson(const QJsonObject& o)
{
    ImagePreprocessing p;
    p.resize = o.value(QStringLiteral("resize")).toInt(p.resize);
    p.centerCrop = o.value(QStringLiteral("centerCrop")).toInt(p.centerCrop);
    p.channels = o.value(QStringLiteral("channels")).toInt(p.channels);
    p.mean = toDoubles(o.value(QStringLiteral("mean")), p.mean);
    p.std = toDoubles(o.value(QStringLiteral("std")), p.std);
    return p;
}

ImagePreprocessing ImagePreprocessing::fromModelMetadata(const QJsonObject& o)
{
    ImagePreprocessing p;
    const int inputSize = o.value(QStringLiteral("input_size")).isArray()
        ? o.value(QStringLiteral("input_size")).toArray().last().toInt(0)
        : o.value(QStringLiteral("input_size")).toInt(0);
    p.channels = o.value(QStringLiteral("channels")).toInt(p.channels);
    p.resize = o.value(QStringLiteral("resize")).toInt(inputSize > 0 ? inputSize : p.resize);
    p.centerCrop = o.value(QStringLiteral("center_crop")).toInt(inputSize > 0 ? inputSize : p.centerCrop);
    if (p.channels == 1) {
        p.mean = {0.5};
        p.std = {0.5};
    }
    p.mean = toDoubles(o.value(QStringLiteral("mean")), p.mean);
    p.std = toDoubles(o.value(QStringLiteral("std")), p.std);
    return p;
}

QJsonObject ImagePreprocessing::toJson() const
{
    return QJsonObject{{QStringLiteral("resize"), resize},
                       {QStringLiteral("centerCrop"), centerCrop},
                       {QStringLiteral("channels"), channels},
                       {QStringLiteral("mean"), toArray(mean)},
                       {QStringLiteral("std"), toArray(std)}};
}

torch::Tensor loadImageTensor(const QString& path, const ImagePreprocessing& p)
{
    const std::string file = path.toStdString();
    const QFileInfo info(path);
    check(info.exists(), "Image '" + file + "' does not exist. Choose an existing PNG or JPEG file.");
    check(info.isFile(), "Image '" + file + "' is not a file. Choose a PNG or JPEG file.");
    check(p.channels == 1 || p.channels == 3,
          "Preprocessing asks for " + std::to_string(p.channels) + " channels; use 1 (grayscale) or 3 (RGB).");
    check(p.resize >= 0 && p.resize <= kMaxPreprocessSide && p.centerCrop >= 0 && p.centerCrop <= kMaxPreprocessSide,
          "Resize and centre crop must be between 0 and " + std::to_string(kMaxPreprocessSide) + " pixels.");
    check(p.mean.size() == 1 || p.mean.size() == p.channels,
          "Preprocessing has " + std::to_string(p.mean.size()) + " mean values for " + std::to_string(p.channels)
              + " channels; give one value or one per channel.");
    check(p.std.size() == 1 || p.std.size() == p.channels,
          "Preprocessing has " + std::to_string(p.std.size()) + " std values for " + std::to_string(p.channels)
              + " channels; give one value or one per channel.");
    for (double s : p.std)
        check(s != 0.0 && std::isfinite(s), "Preprocessing std values must be finite and non-zero.");

    QImageReader::setAllocationLimit(512);
    QImageReader reader(path);
    reader.setAutoTransform(true);
    const QSize header = reader.size();
    check(!header.isValid() || (header.width() <= kMaxSide && header.height() <= kMaxSide),
          "Image '" + file + "' claims " + std::to_string(header.width()) + " x " + std::to_string(header.height())
              + " pixels, more than featscope decodes (" + std::to_string(kMaxSide) + " per side).");
    QImage image = reader.read();
    check(!image.isNull(), "Cannot decode image '" + file + "': " + reader.errorString().toStdString()
                               + ". Use a valid PNG or JPEG file.");

    image = image.convertToFormat(p.channels == 1 ? QImage::Format_Grayscale8 : QImage::Format_RGB888);
    if (p.resize > 0) {
        const int w = image.width(), h = image.height();
        QSize target = w <= h ? QSize(p.resize, std::max(1, int(double(h) * p.resize / w)))
                              : QSize(std::max(1, int(double(w) * p.resize / h)), p.resize);
        // A thin image (1 x 20,000) scaled so its short side is `resize` would be gigabytes before the crop.
        if (double(target.width()) * target.height() > kMaxResizedPixels)
            throw featscope::Error("Image '" + file + "' is " + std::to_string(w) + " x " + std::to_string(h)
                        + "; resizing its shorter side to " + std::to_string(p.resize) + " would make it "
                        + std::to_string(target.width()) + " x " + std::to_string(target.height())
                        + " pixels, more than featscope processes. Crop the image first, or lower resize.");
        if (target != image.size())
            image = image.scaled(target, Qt::IgnoreAspectRatio, Qt::SmoothTransformation);
    }
    if (p.centerCrop > 0 && (image.width() != p.centerCrop || image.height() != p.centerCrop)) {
        // torchvision's center_crop: top = round((h - crop) / 2), zero padding when the image is smaller.
        QImage cropped(p.centerCrop, p.centerCrop, image.format());
        cropped.fill(0);
        const int left = int(std::round((image.width() - p.centerCrop) / 2.0));
        const int top = int(std::round((image.height() - p.centerCrop) / 2.0));
        QPainter painter(&cropped);
        painter.drawImage(QPoint(-left, -top), image);
        painter.end();
        image = cropped;
    }

    const int h = image.height(), w = image.width(), c = p.channels;
    torch::Tensor tensor = torch::empty({1, c, h, w}, torch::kFloat32);
    float* out = tensor.data_ptr<float>();
    for (int y = 0; y < h; ++y) {
        const uchar* line = image.constScanLine(y);
        for (int x = 0; x < w; ++x)
            for (int ch = 0; ch < c; ++ch) {
                const double mean = p.mean.size() == 1 ? p.mean[0] : p.mean[ch];
                const double std = p.std.size() == 1 ? p.std[0] : p.std[ch];
                out[(std::size_t(ch) * h + y) * w + x] = float((line[x * c + ch] / 255.0 - mean) / std);
            }
    }
    return tensor;
}
