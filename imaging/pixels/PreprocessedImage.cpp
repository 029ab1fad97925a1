#include <featscope/imaging/PreprocessedImage.h>

#include <featscope/Errors.h>

#include <QFileInfo>
#include <QImageReader>
#include <QString>

#include <algorithm>
#include <cmath>
#include <cstring>
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

PreprocessedImage preprocessImage(const std::string& path, const protocol::Preprocessing& p)
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

    PreprocessedImage result;
    const QImage::Format format = p.channels == 1 ? QImage::Format_Grayscale8 : QImage::Format_RGB888;
    result.original = image.convertToFormat(format);
    image = result.original;
    double scaleX = 1, scaleY = 1; // resized pixels per original pixel
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
        // Smooth scaling may hand back another pixel format; the input keeps the preprocessing's.
        if (target != image.size())
            image = image.scaled(target, Qt::IgnoreAspectRatio, Qt::SmoothTransformation).convertToFormat(format);
        scaleX = double(image.width()) / w;
        scaleY = double(image.height()) / h;
    }
    const int h = p.centerCrop > 0 ? p.centerCrop : image.height();
    const int w = p.centerCrop > 0 ? p.centerCrop : image.width();
    const int left = centerCropOffset(image.width(), w);
    const int top = centerCropOffset(image.height(), h);
    if (left == 0 && top == 0 && w == image.width() && h == image.height()) {
        result.input = image;
    } else {
        // Copy the overlap row by row; padding stays zero.
        result.input = QImage(w, h, format);
        result.input.fill(0);
        const int bytesPerPixel = p.channels;
        const int x0 = std::max(0, left), x1 = std::min(image.width(), left + w);
        for (int y = 0; y < h && x1 > x0; ++y) {
            const int sy = y + top;
            if (sy < 0 || sy >= image.height())
                continue;
            std::memcpy(result.input.scanLine(y) + (x0 - left) * bytesPerPixel, image.constScanLine(sy) + x0 * bytesPerPixel,
                        std::size_t(x1 - x0) * bytesPerPixel);
        }
    }
    result.inputInOriginal = QRectF(left / scaleX, top / scaleY, w / scaleX, h / scaleY);
    return result;
}

} // namespace featscope::imaging
