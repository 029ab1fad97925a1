#pragma once

// What preprocessing a model wants: its featscope.json extra file, a run request's "preprocessing"
// object, or the ImageNet defaults. One parser and one validate() for the CLI, the engine and (Qt Core
// only, no LibTorch) the inspector; reading the record from a model archive is featscope_imaging's.

#include <QJsonObject>

#include <string>
#include <vector>

namespace featscope::protocol {

/// torchvision-style preprocessing: Resize(resize) on the shorter side, CenterCrop(centerCrop),
/// ToTensor, Normalize(mean, std).
struct Preprocessing {
    int resize = 256;     ///< shorter side after resizing; 0 keeps the size
    int centerCrop = 224; ///< side of the square centre crop; 0 keeps the whole image
    int channels = 3;     ///< 1 (grayscale) or 3 (RGB)
    std::vector<double> mean{0.485, 0.456, 0.406};
    std::vector<double> std{0.229, 0.224, 0.225};
    std::string source = "ImageNet defaults"; ///< where the values came from, for messages
    /// Class labels in output order (featscope.json's "classes"; read with the preprocessing so
    /// the file is parsed in one place); empty when the model has none. Not part of toJson().
    std::vector<std::string> classes;

    /// A model's extra/featscope.json object ({input_size, channels, mean, std, resize, center_crop,
    /// classes}); missing fields keep the ImageNet defaults. Throws featscope::Error naming `modelPath`'s
    /// featscope.json on a value of the wrong type or a bad value; the result is validated.
    static Preprocessing fromModelMetadata(const QJsonObject& metadata, const std::string& modelPath);
    /// A run request's "preprocessing" object (docs/engine-protocol.md: resize, centerCrop, channels,
    /// mean, std); missing fields keep the defaults. Throws featscope::Error on a value of the wrong
    /// type or a bad value; the result is validated.
    static Preprocessing fromRequest(const QJsonObject& object);

    /// Checks the values; throws featscope::Error naming the bad one.
    void validate() const;
    /// Canonical one-line JSON object in featscope.json's spelling (stored with the CLI's outputs).
    std::string toJson() const;
    /// The protocol's spelling, as fromRequest reads it.
    QJsonObject toRequest() const;
};

} // namespace featscope::protocol
