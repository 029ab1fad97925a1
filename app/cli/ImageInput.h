#pragma once

// Image lists for `featscope-cli features` and `cam`.

#include <featscope/imaging/ImageLoading.h>
#include <featscope/imaging/Preprocessing.h>
#include <featscope/TensorLayout.h>

#include <torch/script.h>

#include <string>
#include <utility>
#include <vector>

namespace featscope::cli {

// The image pipeline itself is featscope_imaging's, shared with the engine.
using imaging::loadImage;
using imaging::modelPreprocessing;
using imaging::Preprocessing;

/// One image as forward's arguments for `model`, preprocessed as `preprocessingModelPath`'s
/// featscope.json says (ImageNet's defaults without one); `inputSize` gets the image's size.
std::vector<c10::IValue> imageAsInputs(const torch::jit::Module& model, const std::string& preprocessingModelPath,
                                       const std::string& imagePath, InputSize& inputSize);

/// Expands files and folders (recursively, by image extension, hidden entries skipped) into a
/// sorted, de-duplicated list of paths. Throws featscope::Error for paths that do not exist.
std::vector<std::string> collectImages(const std::vector<std::string>& inputs);

/// MODEL.pt and the images or folders after it, the positional arguments of `features` and `top-images`;
/// a UsageError when either is missing.
std::pair<std::string, std::vector<std::string>> modelAndImageArguments(const std::vector<std::string>& positional);

/// True when `path`'s extension is one Qt can decode here (png, jpg, jpeg, bmp, gif, ppm, ...).
bool hasImageExtension(const std::string& path);

} // namespace featscope::cli
