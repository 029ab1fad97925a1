#include <featscope/imaging/Preprocessing.h>

#include <featscope/Errors.h>

#include <caffe2/serialize/inline_container.h>

#include <QByteArray>
#include <QJsonDocument>

namespace featscope::imaging {
namespace {

constexpr std::size_t kMaxMetadataBytes = 1u << 20;

std::string quote(const std::string& text)
{
    return "'" + text + "'";
}

} // namespace

std::optional<QJsonObject> readModelMetadata(const std::string& modelPath)
{
    QByteArray bytes;
    try {
        caffe2::serialize::PyTorchStreamReader reader(modelPath);
        if (!reader.hasRecord("extra/featscope.json"))
            return std::nullopt;
        auto record = reader.getRecord("extra/featscope.json");
        const auto size = std::get<1>(record);
        if (size > kMaxMetadataBytes)
            throw Error("The featscope.json extra file of " + quote(modelPath) + " is larger than 1 MB.");
        bytes = QByteArray(static_cast<const char*>(std::get<0>(record).get()), qsizetype(size));
    } catch (const c10::Error&) {
        return std::nullopt; // loading the model reports unreadable archives
    }
    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(bytes, &parseError);
    if (!document.isObject())
        throw Error("Cannot read featscope.json in " + quote(modelPath) + ": " + parseError.errorString().toStdString()
                    + ". It must be a JSON object like {\"input_size\": [28, 28], \"channels\": 1, \"mean\": [0.5], \"std\": [0.5]}.");
    return document.object();
}

Preprocessing modelPreprocessing(const std::string& modelPath)
{
    const std::optional<QJsonObject> metadata = readModelMetadata(modelPath);
    return metadata ? Preprocessing::fromModelMetadata(*metadata, modelPath) : Preprocessing{};
}

} // namespace featscope::imaging
