#include <featscope/imaging/ImageLoading.h>

#include <featscope/Errors.h>

#include <QFileInfo>
#include <QImage>
#include <QImageReader>
#include <QString>

#include <algorithm>
#include <cmath>
#include <mutex>

namespace featscope::imaging {
namespace {

constexpr int kMaxSide = 20000;                           // refuse absurd headers before decoding
constexpr double kMaxResizedPixels = 64.0 * 1024 * 1024; // 192 MB as RGB bytes

std::string quote(const std::string& text)
{
    return "'" + text + "'";
}

/// Where torchvision's center_crop starts along one axis of `size` pixels; negative = zero padding.
/// A smaller image gets (crop - size) // 2 pixels of padding before it; a larger one is cropped from
/// Python's round((size - crop) / 2), which rounds halves to even (2.5 -> 2), as nearbyint does.
int centerCropOffset(int size, int crop)
{
    if (crop > size)
        return -((crop - size) / 2);
    return int(std::nearbyint((size - crop) / 2.0));
}

} // namespace

torch::Tensor loadImage(const std::string& path, const Preprocessing& p)
{
    static std::once_flag limitOnce;
    std::call_once(limitOnce, [] { QImageReader::setAllocationLimit(512); });
    p.validate();

    const QString qpath = QString::fromStdString(path);
    const QFileInfo info(qpath);
    if (!info.exists())
        throw Error("Image " + quote(path) + " does not exist. Choose an existing PNG or JPEG file.");
    if (!info.isFile())
        throw Error("Image " + quote(path) + " is not a file. Choose a PNG or JPEG file.");
    QImageReader reader(qpath);
    reader.setAutoTransform(true);
    const QSize header = reader.size();
    if (header.isValid() && (header.width() > kMaxSide || header.height() > kMaxSide))
        throw Error("Image " + quote(path) + " claims " + std::to_string(header.width()) + " x "
                    + std::to_string(header.height()) + " pixels, more than featscope decodes ("
                    + std::to_string(kMaxSide) + " per side).");
    QImage image = reader.read();
    if (image.isNull())
        throw Error("Cannot decode image " + quote(path) + ": " + reader.errorString().toStdString()
                    + ". Use a valid PNG or JPEG file.");

    const QImage::Format format = p.channels == 1 ? QImage::Format_Grayscale8 : QImage::Format_RGB888;
    image = image.convertToFormat(format);
    if (p.resize > 0) {
        // torchvision's Resize(int): the shorter side becomes `resize`, the longer int(resize * long / short).
        const int w = image.width(), h = image.height();
        const QSize target = w <= h ? QSize(p.resize, std::max(1, int(double(p.resize) * h / w)))
                                    : QSize(std::max(1, int(double(p.resize) * w / h)), p.resize);
        // A thin image (1 x 20,000) scaled so its short side is `resize` would be gigabytes before the crop.
        if (double(target.width()) * target.height() > kMaxResizedPixels)
            throw Error("Image " + quote(path) + " is " + std::to_string(w) + " x " + std::to_string(h)
                        + "; resizing its shorter side to " + std::to_string(p.resize) + " would make it "
                        + std::to_string(target.width()) + " x " + std::to_string(target.height())
                        + " pixels, more than featscope processes. Crop the image first, or lower resize.");
        // Smooth scaling may hand back another pixel format: the loop below reads `channels` bytes a pixel.
        if (target != image.size())
            image = image.scaled(target, Qt::IgnoreAspectRatio, Qt::SmoothTransformation).convertToFormat(format);
    }
    const int h = p.centerCrop > 0 ? p.centerCrop : image.height();
    const int w = p.centerCrop > 0 ? p.centerCrop : image.width();
    const int left = centerCropOffset(image.width(), w);
    const int top = centerCropOffset(image.height(), h);
    const int c = p.channels;
    torch::Tensor tensor = torch::empty({c, h, w}, torch::kFloat32);
    float* out = tensor.data_ptr<float>();
    float scale[3], shift[3];
    for (int ch = 0; ch < c; ++ch) {
        const double mean = p.mean.size() == 1 ? p.mean[0] : p.mean[std::size_t(ch)];
        const double std = p.std.size() == 1 ? p.std[0] : p.std[std::size_t(ch)];
        scale[ch] = float(1.0 / (255.0 * std));
        shift[ch] = float(-mean / std);
    }
    for (int y = 0; y < h; ++y) {
        const int sy = y + top;
        const uchar* line = sy >= 0 && sy < image.height() ? image.constScanLine(sy) : nullptr;
        for (int x = 0; x < w; ++x) {
            const int sx = x + left;
            const bool inside = line && sx >= 0 && sx < image.width();
            for (int ch = 0; ch < c; ++ch)
                out[(std::size_t(ch) * h + y) * w + x] = (inside ? float(line[sx * c + ch]) : 0.0f) * scale[ch] + shift[ch];
        }
    }
    return tensor;
}

} // namespace featscope::imaging
