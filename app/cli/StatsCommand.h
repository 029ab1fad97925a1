#pragma once

// `featscope-cli stats`: what flows through every node of a model for one image.

#include "CommandLine.h"

#include <featscope/GraphDescription.h>
#include <featscope/TensorLayout.h>

#include <torch/script.h>

#include <string>
#include <vector>

namespace featscope::cli {

extern const char* const statsUsage;

/// Runs `stats`; throws UsageError for a malformed command line, featscope::Error otherwise.
int runStats(const std::vector<std::string>& args);

/// --mode train|eval (default eval) of the commands that run a model once.
Mode runMode(const CommandLine& line);

/// One image as forward's arguments for `model`, preprocessed as `preprocessingModelPath`'s
/// featscope.json says (ImageNet's defaults without one); `inputSize` gets the image's size.
std::vector<c10::IValue> imageAsInputs(const torch::jit::Module& model, const std::string& preprocessingModelPath,
                                       const std::string& imagePath, InputSize& inputSize);

/// Loads the models to run (op libraries, the unsafe-op check unless --allow-unsafe-ops), then sizes
/// LibTorch's threads (--threads): after every load, whose reader is a fork only while this process
/// has one thread.
std::vector<torch::jit::Module> loadModelsToRun(const CommandLine& line, const std::vector<std::string>& paths,
                                                const std::string& command);

} // namespace featscope::cli
