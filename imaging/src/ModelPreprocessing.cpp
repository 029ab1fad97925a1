#include <featscope/imaging/Preprocessing.h>

#include <featscope/Errors.h>
#include <featscope/ModuleLoader.h>

#include <caffe2/serialize/inline_container.h>

#include <QByteArray>
#include <QJsonDocument>

#include <algorithm>

namespace featscope::imaging {
namespace {

std::string quote(const std::string& text)
{
    return "'" + text + "'";
}

} // namespace

std::optional<QJsonObject> readModelMetadata(const std::string& modelPath)
{
    std::string record;
    try {
        caffe2::serialize::PyTorchStreamReader reader(modelPath);
        if (!reader.hasRecord(kModelMetadataRecord))
            return std::nullopt;
        auto data = reader.getRecord(kModelMetadataRecord);
        record.assign(static_cast<const char*>(std::get<0>(data).get()), std::min(std::get<1>(data), kMaxModelMetadataBytes + 1));
    } catch (const c10::Error&) {
        return std::nullopt; // loading the model reports unreadable archives
    }
    return parseModelMetadata(record, modelPath);
}

std::optional<QJsonObject> parseModelMetadata(const std::optional<std::string>& record, const std::string& modelPath)
{
    if (!record)
        return std::nullopt;
    if (record->size() > kMaxModelMetadataBytes)
        throw Error("The featscope.json extra file of " + quote(modelPath) + " is larger than 1 MB.");
    QJsonParseError parseError;
    const QJsonDocument document = QJsonDocument::fromJson(QByteArray(record->data(), qsizetype(record->size())), &parseError);
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
