#pragma once

// Image lists and preprocessing for `featscope-cli features` (QImage decoding; no Qt keywords).

#include <torch/types.h>

#include <string>
#include <vector>

namespace featscope::cli {

/// torchvision-style preprocessing: Resize(resize) on the shorter side, CenterCrop(centerCrop),
/// ToTensor, Normalize(mean, std). A model's featscope.json extra file overrides the defaults.
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

    /// The model's extra/featscope.json ({input_size, channels, mean, std, resize, center_crop}),
    /// or the ImageNet defaults when the archive has none. Throws featscope::Error on a bad file.
    static Preprocessing fromModelFile(const std::string& modelPath);
    /// Checks the values; throws featscope::Error naming the bad one.
    void validate() const;
    /// Canonical one-line JSON object (stored with the outputs).
    std::string toJson() const;
};

/// Expands files and folders (recursively, by image extension, hidden entries skipped) into a
/// sorted, de-duplicated list of paths. Throws featscope::Error for paths that do not exist.
std::vector<std::string> collectImages(const std::vector<std::string>& inputs);

/// True when `path`'s extension is one Qt can decode here (png, jpg, jpeg, bmp, gif, ppm, ...).
bool hasImageExtension(const std::string& path);

/// Decodes and preprocesses one image into a [C, H, W] float tensor. Throws featscope::Error
/// naming the file when it cannot be read or decoded. Thread-safe.
torch::Tensor loadImage(const std::string& path, const Preprocessing& preprocessing);

} // namespace featscope::cli
