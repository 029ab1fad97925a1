#pragma once

// A model's preprocessing from its archive: the extra/featscope.json record, read without loading the
// model, parsed by featscope::protocol::Preprocessing (shared with the engine's requests and the GUI).

#include <featscope/protocol/Preprocessing.h>

#include <QJsonObject>

#include <optional>
#include <string>

namespace featscope::imaging {

using protocol::Preprocessing;

/// The model's extra/featscope.json as a JSON object; nullopt when the archive has none or cannot be
/// opened (loading the model reports that). Throws featscope::Error naming the file when the record is
/// larger than 1 MB or not a JSON object.
std::optional<QJsonObject> readModelMetadata(const std::string& modelPath);

/// The same from the record loadModuleWithMetadata gave for the model at `modelPath` (nullopt: none), for
/// a program that loads the model anyway and need not open its archive again.
std::optional<QJsonObject> parseModelMetadata(const std::optional<std::string>& record, const std::string& modelPath);

/// The preprocessing of the model file at `modelPath`: its featscope.json through
/// Preprocessing::fromModelMetadata, or the ImageNet defaults when it has none. Throws
/// featscope::Error naming the file on malformed JSON or a bad value; the result is validated.
Preprocessing modelPreprocessing(const std::string& modelPath);

} // namespace featscope::imaging
