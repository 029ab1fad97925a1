#pragma once

#include <torch/script.h>

#include <string>

namespace featscope {

/// Loads a TorchScript file on the CPU; throws featscope::Error naming the file and the fix.
torch::jit::Module loadModule(const std::string& path);

/// Saves a module to `path` through a temporary file and a rename, so a failure keeps the old file.
void saveModuleAtomically(const torch::jit::Module& module, const std::string& path);

} // namespace featscope
