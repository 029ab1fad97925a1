#pragma once

#include "CommandLine.h"

#include <featscope/FeatureExtraction.h>

#include <torch/script.h>

#include <string>

namespace featscope::cli {

/// Loads the op libraries given with --ops-library, then the model at `path` (featscope::loadModule, which
/// also loads torchvision's op library for a model that calls torchvision's ops), and says on stderr which
/// op libraries were loaded: their code runs as trusted, like LibTorch's.
torch::jit::Module loadModel(const CommandLine& line, const std::string& path, const std::string& command);

/// --leaf-module and --leaf-function as the naming options of every command that names nodes.
FeatureExtractionOptions extractionOptions(const CommandLine& line);

} // namespace featscope::cli
