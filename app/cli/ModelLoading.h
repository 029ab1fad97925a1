#pragma once

#include "CommandLine.h"

#include <featscope/FeatureExtraction.h>

#include <torch/script.h>

#include <string>
#include <vector>

namespace featscope::cli {

/// Loads the op libraries given with --ops-library, then the model at `path` (featscope::loadModule, which
/// also loads torchvision's op library for a model that calls torchvision's ops), and says on stderr which
/// op libraries were loaded: their code runs as trusted, like LibTorch's.
torch::jit::Module loadModel(const CommandLine& line, const std::string& path, const std::string& command);

/// Loads the models to run (op libraries, the unsafe-op check unless --allow-unsafe-ops), then sizes
/// LibTorch's threads (--threads): after every load, whose reader is a fork only while this process
/// has one thread.
std::vector<torch::jit::Module> loadModelsToRun(const CommandLine& line, const std::vector<std::string>& paths,
                                                const std::string& command);

/// --mode train|eval (default eval) of the commands that run a model once.
Mode runMode(const CommandLine& line);

/// --leaf-module and --leaf-function as the naming options of every command that names nodes.
FeatureExtractionOptions extractionOptions(const CommandLine& line);

} // namespace featscope::cli
