#pragma once

#include <torch/script.h>

#include <functional>
#include <string>

namespace featscope {

/// What readModuleFile tells its caller as it goes.
struct ReadSteps {
    /// The archive's metadata record (kModelMetadataRecord), cut to kMaxModelMetadataBytes + 1 bytes; not
    /// called when the archive has none.
    std::function<void(const std::string& metadata)> metadataRead;
    /// torch::jit::load has returned: the same bytes cannot crash another process's load.
    std::function<void()> archiveRead;
};

/// Reads a model file the one way featscope reads it, in the calling process: refuses what is not
/// TorchScript and code that torch::jit::load itself would run when it reaches outside the model, checks
/// every debug entry's indices, loads `opsLibraries` (joined as OpsLibraryLoading.h joins them) and the
/// op libraries the code calls, runs torch::jit::load, then unpickles every debug entry (which LibTorch
/// does lazily). Throws featscope::Error naming the file, or LibTorch's own errors. Internal: core only.
torch::jit::Module readModuleFile(const std::string& path, const std::string& opsLibraries, const ReadSteps& steps);

/// The whole job of the featscope-reader executable (and of a forked reader), which loadModule starts to
/// read a model file before reading it in its own process. Internal: app/reader and core only.
///
/// Reads one request from `requestFd` (a file, a memory cap, a time cap), then, under that cap and without core
/// dumps, reads the file with readModuleFile and reports each step and any error on `reportFd`. A file that
/// crashes LibTorch takes only this process down. The format is in
/// core/sandbox/include/featscope/sandbox/ReaderProtocol.h.
/// Returns the process's exit status: 0 when the file was read completely or no request came.
int runModuleReader(int requestFd, int reportFd);

} // namespace featscope
