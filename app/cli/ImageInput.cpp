#include "ImageInput.h"

#include <featscope/Errors.h>

#include <caffe2/serialize/inline_container.h>

#include <QByteArray>
#include <QImage>
#include <QImageReader>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QString>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <set>
#include <sstream>

namespace featscope::cli {
namespace {

namespace fs = std::filesystem;

constexpr int kMaxSide = 20000;          // refuse absurd headers before decoding
constexpr int kMaxPreprocessSide = 4096;
constexpr double kMaxResizedPixels = 64.0 * 1024 * 1024; // 192 MB as RGB bytes // resize / crop limits

std::string quote(const std::string& text)
{
    return "'" + text + "'";
}

std::vector<double> doubles(const QJsonValue& value, const std::vector<double>& fallback, const std::string& what)
{
    if (value.isUndefined() || value.isNull())
        return fallback;
    if (value.isDouble())
        return {value.toDouble()};
    if (!value.isArray())
        throw Error(what + " must be a number or a list of numbers");
    std::vector<double> out;
    for (const QJsonValue& v : value.toArray()) {
        if (!v.isDouble())
            throw Error(what + " must be a number or a list of numbers");
        out.push_back(v.toDouble());
    }
    return out.empty() ? fallback : out;
}

int integer(const QJsonValue& value, int fallback, const std::string& what)
{
    if (value.isUndefined() || value.isNull())
        return fallback;
    if (!value.isDouble() || value.toDouble() != std::floor(value.toDouble()))
        throw Error(what + " must be a whole number");
    return value.toInt();
}

std::string lower(std::string text)
{
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return text;
}

const std::set<std::string>& imageExtensions()
{
    static const std::set<std::string> extensions = [] {
        std::set<std::string> out;
        for (const QByteArray& format : QImageReader::supportedImageFormats())
            out.insert("." + lower(format.toStdString()));
        out.erase(".svg"); // vector formats are not photographs
        out.erase(".svgz");
        return out;
    }();
    return extensions;
}

} // namespace

Preprocessing Preprocessing::fromModelFile(const std::string& modelPath)
{
    Preprocessing p;
    QByteArray bytes;
    try {
        caffe2::serialize::PyTorchStreamReader reader(modelPath);
        if (!reader.hasRecord("extra/featscope.json"))
            return p;
        auto record = reader.getRecord("extra/featscope.json");
        const auto size = std::get<1>(record);
        if (size > (1u << 20))
            throw Error("The featscope.json extra file of " + quote(modelPath) + " is larger than 1 MB.");
        bytes = QByteArray(static_cast<const char*>(std::get<0>(record).get()), qsizetype(size));
    } catch (const c10::Error&) {
        return p; // loadModule already reported unreadable archives
    }
    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(bytes, &parseError);
    const std::string where = "featscope.json in " + quote(modelPath);
    if (!document.isObject())
        throw Error("Cannot read " + where + ": " + parseError.errorString().toStdString()
                    + ". It must be a JSON object like {\"input_size\": [28, 28], \"channels\": 1, \"mean\": [0.5], \"std\": [0.5]}.");
    const QJsonObject o = document.object();
    try {
        const QJsonValue sizeValue = o.value(QStringLiteral("input_size"));
        const int inputSize = sizeValue.isArray() ? integer(sizeValue.toArray().last(), 0, "input_size")
                                                  : integer(sizeValue, 0, "input_size");
        p.channels = integer(o.value(QStringLiteral("channels")), p.channels, "channels");
        p.resize = integer(o.value(QStringLiteral("resize")), inputSize > 0 ? inputSize : p.resize, "resize");
        p.centerCrop = integer(o.value(QStringLiteral("center_crop")), inputSize > 0 ? inputSize : p.centerCrop, "center_crop");
        if (p.channels == 1) {
            p.mean = {0.5};
            p.std = {0.5};
        }
        p.mean = doubles(o.value(QStringLiteral("mean")), p.mean, "mean");
        p.std = doubles(o.value(QStringLiteral("std")), p.std, "std");
        const QJsonValue classes = o.value(QStringLiteral("classes"));
        if (!classes.isUndefined() && !classes.isNull() && !classes.isArray())
            throw Error("classes must be a list of names");
        for (const QJsonValue& name : classes.toArray()) {
            if (!name.isString())
                throw Error("classes must be a list of names");
            p.classes.push_back(name.toString().toStdString());
        }
    } catch (const Error& error) {
        throw Error("Cannot use " + where + ": " + error.what() + ".");
    }
    p.source = "featscope.json in the model";
    try {
        p.validate();
    } catch (const Error& error) {
        throw Error("Cannot use " + where + ": " + error.what());
    }
    return p;
}

void Preprocessing::validate() const
{
    if (channels != 1 && channels != 3)
        throw Error("channels is " + std::to_string(channels) + "; use 1 (grayscale) or 3 (RGB).");
    if (resize < 0 || resize > kMaxPreprocessSide || centerCrop < 0 || centerCrop > kMaxPreprocessSide)
        throw Error("resize and center_crop must be between 0 and " + std::to_string(kMaxPreprocessSide) + " pixels.");
    for (const auto* values : {&mean, &std})
        if (values->size() != 1 && values->size() != std::size_t(channels))
            throw Error("mean and std need one value or one per channel (" + std::to_string(channels) + ").");
    for (double s : std)
        if (s == 0.0 || !std::isfinite(s))
            throw Error("std values must be finite and non-zero.");
    for (double m : mean)
        if (!std::isfinite(m))
            throw Error("mean values must be finite.");
}

std::string Preprocessing::toJson() const
{
    std::ostringstream out;
    out.precision(9);
    const auto list = [&out](const std::vector<double>& values) {
        out << "[";
        for (std::size_t i = 0; i < values.size(); ++i)
            out << (i ? ", " : "") << values[i];
        out << "]";
    };
    out << "{\"resize\": " << resize << ", \"center_crop\": " << centerCrop << ", \"channels\": " << channels
        << ", \"mean\": ";
    list(mean);
    out << ", \"std\": ";
    list(std);
    out << "}";
    return out.str();
}

bool hasImageExtension(const std::string& path)
{
    return imageExtensions().count(lower(fs::path(path).extension().string())) > 0;
}

std::vector<std::string> collectImages(const std::vector<std::string>& inputs)
{
    std::vector<std::string> out;
    for (const std::string& input : inputs) {
        std::error_code error;
        const auto status = fs::status(input, error);
        if (!fs::exists(status))
            throw Error("Cannot read " + quote(input) + ": it does not exist. Give image files or folders of images.");
        if (!fs::is_directory(status)) {
            out.push_back(fs::path(input).lexically_normal().string());
            continue;
        }
        fs::recursive_directory_iterator it(input, fs::directory_options::skip_permission_denied, error);
        if (error)
            throw Error("Cannot list the folder " + quote(input) + ": " + error.message() + ".");
        for (const fs::recursive_directory_iterator end; it != end; it.increment(error)) {
            if (error)
                throw Error("Cannot list the folder " + quote(input) + ": " + error.message() + ".");
            const std::string name = it->path().filename().string();
            if (!name.empty() && name[0] == '.') { // hidden files and folders (also our own partial files)
                if (it->is_directory(error))
                    it.disable_recursion_pending();
                continue;
            }
            if (it->is_regular_file(error) && hasImageExtension(name))
                out.push_back(it->path().lexically_normal().string());
        }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    for (const std::string& path : out)
        if (path.find('\n') != std::string::npos || path.find('\r') != std::string::npos)
            throw Error("Cannot index " + quote(path) + ": the path contains a line break. Rename the file.");
    return out;
}

torch::Tensor loadImage(const std::string& path, const Preprocessing& p)
{
    static std::once_flag limitOnce;
    std::call_once(limitOnce, [] { QImageReader::setAllocationLimit(512); });

    const QString qpath = QString::fromStdString(path);
    QImageReader reader(qpath);
    reader.setAutoTransform(true);
    const QSize header = reader.size();
    if (header.isValid() && (header.width() > kMaxSide || header.height() > kMaxSide))
        throw Error("Image " + quote(path) + " claims " + std::to_string(header.width()) + " x "
                    + std::to_string(header.height()) + " pixels, more than featscope decodes ("
                    + std::to_string(kMaxSide) + " per side).");
    QImage image = reader.read();
    if (image.isNull())
        throw Error("Cannot decode image " + quote(path) + ": " + reader.errorString().toStdString() + ".");

    image = image.convertToFormat(p.channels == 1 ? QImage::Format_Grayscale8 : QImage::Format_RGB888);
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
        if (target != image.size())
            image = image.scaled(target, Qt::IgnoreAspectRatio, Qt::SmoothTransformation)
                        .convertToFormat(p.channels == 1 ? QImage::Format_Grayscale8 : QImage::Format_RGB888);
    }
    // torchvision's CenterCrop: top = round((h - crop) / 2), zero padding where the image is smaller.
    const int h = p.centerCrop > 0 ? p.centerCrop : image.height();
    const int w = p.centerCrop > 0 ? p.centerCrop : image.width();
    const int left = int(std::round((image.width() - w) / 2.0));
    const int top = int(std::round((image.height() - h) / 2.0));
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

} // namespace featscope::cli
