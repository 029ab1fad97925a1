#include <featscope/protocol/Preprocessing.h>

#include <featscope/Errors.h>

#include <QJsonArray>
#include <QString>

#include <cmath>
#include <sstream>

namespace featscope::protocol {
namespace {

constexpr int kMaxPreprocessSide = 4096;

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
    const double number = value.toDouble();
    // Beyond int's range toInt() would wrap; validate() then names the value as out of range.
    if (!value.isDouble() || number != std::floor(number) || std::abs(number) > 1e9)
        throw Error(what + " must be a whole number");
    return int(number);
}

QJsonArray toArray(const std::vector<double>& values)
{
    QJsonArray array;
    for (double v : values)
        array.append(v);
    return array;
}

} // namespace

Preprocessing Preprocessing::fromModelMetadata(const QJsonObject& o, const std::string& modelPath)
{
    Preprocessing p;
    const std::string where = "featscope.json in " + quote(modelPath);
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

Preprocessing Preprocessing::fromRequest(const QJsonObject& o)
{
    Preprocessing p;
    try {
        p.resize = integer(o.value(QStringLiteral("resize")), p.resize, "resize");
        p.centerCrop = integer(o.value(QStringLiteral("centerCrop")), p.centerCrop, "centerCrop");
        p.channels = integer(o.value(QStringLiteral("channels")), p.channels, "channels");
        p.mean = doubles(o.value(QStringLiteral("mean")), p.mean, "mean");
        p.std = doubles(o.value(QStringLiteral("std")), p.std, "std");
        p.source = "the request";
        p.validate();
    } catch (const Error& error) {
        std::string reason = error.what();
        if (!reason.empty() && reason.back() != '.')
            reason += '.';
        throw Error("The request's preprocessing is invalid: " + reason);
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

QJsonObject Preprocessing::toRequest() const
{
    return QJsonObject{{QStringLiteral("resize"), resize},
                       {QStringLiteral("centerCrop"), centerCrop},
                       {QStringLiteral("channels"), channels},
                       {QStringLiteral("mean"), toArray(mean)},
                       {QStringLiteral("std"), toArray(std)}};
}

} // namespace featscope::protocol
