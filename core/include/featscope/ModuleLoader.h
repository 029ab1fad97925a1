#pragma once

#include <torch/script.h>

#include <cstddef>
#include <optional>
#include <string>

namespace featscope {

/// Caps for reading a model file. LibTorch's reader trusts the file: a hostile archive can claim
/// gigabytes, nest a pickle until the stack overflows, or crash the process.
struct LoadLimits {
    /// Memory the reader may use on top of the process's size; 0 = 2 GiB + 4x the file size.
    /// Environment override: FEATSCOPE_LOAD_MEMORY_MB.
    std::size_t memoryBytes = 0;
    /// Wall-clock time the reader may take; 0 = 30 s + 1 s per 20 MB of file.
    /// Environment override: FEATSCOPE_LOAD_SECONDS.
    double seconds = 0;
};

/// `limits` with each 0 replaced by its default for `path` (environment overrides included).
LoadLimits effectiveLoadLimits(const std::string& path, LoadLimits limits = {});

/// Loads a TorchScript file on the CPU; throws featscope::Error naming the file and the fix.
///
/// The file is first read by a separate reader process under `limits`, so a file that crashes LibTorch,
/// exhausts memory or hangs yields an error here instead of taking the caller down; only a file the
/// reader read completely is then loaded in this process. The reader is a fork of this process while it
/// has a single thread, else the featscope-reader program ($FEATSCOPE_READER, else beside the running
/// executable, else in the installation's libexec/featscope/, else on PATH; always when FEATSCOPE_READER
/// is set).
torch::jit::Module loadModule(const std::string& path, const LoadLimits& limits = {});

/// The archive record featscope reads a model's metadata from (preprocessing, class names): what
/// torch.jit.save(..., _extra_files={"featscope.json": ...}) writes.
inline constexpr const char* kModelMetadataRecord = "extra/featscope.json";
/// Largest metadata record featscope accepts.
inline constexpr std::size_t kMaxModelMetadataBytes = std::size_t(1) << 20;

/// A loaded module and its archive's metadata record.
struct LoadedModule {
    torch::jit::Module module;
    /// The bytes of kModelMetadataRecord, nullopt when the archive has none. A record larger than
    /// kMaxModelMetadataBytes is cut to kMaxModelMetadataBytes + 1 bytes: enough to refuse it.
    std::optional<std::string> metadata;
};

/// loadModule, with the metadata record the reader process read from the archive, so that the archive
/// is not opened a third time for it.
LoadedModule loadModuleWithMetadata(const std::string& path, const LoadLimits& limits = {});

/// loadModuleWithMetadata without the reader process, for a caller with nothing to lose: a process that
/// holds no model and whose crash its own caller handles (the inspector's engine before its first model).
/// The file goes through the same checks and steps as in the reader (refused code, debug entries, op
/// libraries), in this process, under the caller's own caps; the time saved is one whole read of the file.
/// Contract: a file this loads is one loadModuleWithMetadata would load, with the same result. Any failure is
/// retried as loadModuleWithMetadata, which throws its error, so each error has one wording. A file that
/// crashes LibTorch crashes the caller (the point of the reader is to avoid that); one that hangs, hangs it.
LoadedModule loadModuleInThisProcess(const std::string& path, const LoadLimits& limits = {});

/// Starts the reader process of the next loadModule now, so that it does not wait the second or so
/// LibTorch takes to start in a new program. Call it first thing in main(), while the process has one
/// thread (the reader is then a fork), and after each load. Optional; a reader that cannot start is
/// reported by loadModule.
void prepareModuleReader();

/// Saves a module to `path` through a temporary file and a rename, so a failure keeps the old file.
void saveModuleAtomically(const torch::jit::Module& module, const std::string& path);

} // namespace featscope
