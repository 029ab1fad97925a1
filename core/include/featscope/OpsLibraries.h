#pragma once

#include <string>
#include <vector>

namespace featscope {

/// A shared library of custom TorchScript ops (torchvision's `_C` library, or one of the user's) that
/// featscope loaded into this process. Its code runs with this process's rights, as trusted as LibTorch.
struct OpsLibrary {
    std::string path;
    std::string reason;           ///< why it was loaded, in words ("the model calls torchvision's ops", ...)
    std::vector<std::string> ops; ///< the ops it registered, e.g. "torchvision::nms"
};

/// Loads an op library into this process now (Python's torch.ops.load_library: dlopen with RTLD_GLOBAL,
/// which runs its op registrations), and into the reader process of every later loadModule. A library
/// already loaded is not loaded again. Throws Error naming the file when it cannot be loaded.
void loadOpsLibrary(const std::string& path, const std::string& reason = "given with --ops-library");

/// The op libraries loaded so far, in the order they were loaded.
std::vector<OpsLibrary> loadedOpsLibraries();

/// Whether `op` (qualified, e.g. "torchvision::nms") was registered by a loaded op library.
bool isOpFromLoadedLibrary(const std::string& op);

/// torchvision's op library: $FEATSCOPE_TORCHVISION_OPS, else python3-torchvision's
/// torchvision/_C.*.so; empty when neither exists. It links LibTorch only, not Python.
std::string torchvisionOpsLibrary();

} // namespace featscope
