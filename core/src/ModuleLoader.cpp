#include <featscope/ModuleLoader.h>

#include "ModuleReader.h"
#include "OpsLibraryLoading.h"

#include <featscope/AtomicFile.h>
#include <featscope/Errors.h>
#include <featscope/ProcessLimits.h>
#include <featscope/sandbox/ModelFileMessages.h>
#include <featscope/sandbox/SandboxedRead.h>

#include <filesystem>
#include <fstream>
#include <system_error>

namespace featscope {
namespace {

namespace fs = std::filesystem;
using messages::printableFirstLine;
using messages::kSaveHint;
using messages::quotedPath;

// Checks what can be checked without parsing the archive and says what the file is instead.
void checkFile(const std::string& path)
{
    std::error_code error;
    const auto status = fs::status(path, error);
    if (!fs::exists(status))
        throw Error("Cannot open " + quotedPath(path) + ": the file does not exist. Check the path.");
    if (fs::is_directory(status))
        throw Error("Cannot open " + quotedPath(path) + ": it is a directory, not a TorchScript file. Give the path of a .pt file.");
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error("Cannot open " + quotedPath(path) + ": the file cannot be read (permissions?). Check that you may read it.");
    char magic[4] = {};
    in.read(magic, sizeof magic);
    const auto size = in.gcount();
    if (size == 0)
        throw Error("Cannot open " + quotedPath(path) + ": the file is empty. " + kSaveHint);
    if (size < 4 || magic[0] != 'P' || magic[1] != 'K' || magic[2] != '\3' || magic[3] != '\4') {
        if (static_cast<unsigned char>(magic[0]) == 0x80)
            throw Error("Cannot open " + quotedPath(path) + ": it is a Python pickle (an old torch.save file, e.g. a state_dict), not a TorchScript module. " + kSaveHint);
        throw Error("Cannot open " + quotedPath(path) + ": it is not a TorchScript file (no zip archive). " + kSaveHint);
    }
}

void requireForward(const torch::jit::Module& module, const std::string& path)
{
    if (!module.find_method("forward"))
        throw Error("Cannot use " + quotedPath(path) + ": the module has no forward method.");
}

} // namespace

LoadLimits effectiveLoadLimits(const std::string& path, LoadLimits limits)
{
    std::error_code error;
    const auto size = static_cast<std::size_t>(fs::file_size(path, error));
    const std::size_t mb = std::size_t(1) << 20;
    if (limits.memoryBytes == 0)
        limits.memoryBytes = static_cast<std::size_t>(limitFromEnvironment("FEATSCOPE_LOAD_MEMORY_MB", 0)) * mb;
    if (limits.memoryBytes == 0)
        limits.memoryBytes = 2048 * mb + 4 * (error ? 0 : size);
    if (limits.seconds <= 0)
        limits.seconds = static_cast<double>(limitFromEnvironment("FEATSCOPE_LOAD_SECONDS", 0));
    if (limits.seconds <= 0)
        limits.seconds = 30.0 + static_cast<double>(error ? 0 : size) / (20.0 * mb);
    return limits;
}

void prepareModuleReader()
{
    sandbox::prepareSpareReader(&runModuleReader);
}

LoadedModule loadModuleWithMetadata(const std::string& path, const LoadLimits& limits)
{
    checkFile(path);
    const LoadLimits caps = effectiveLoadLimits(path, limits);
    sandbox::SandboxedRead reader({path, caps.memoryBytes, caps.seconds, opslibraries::joinedLibraryPaths()}, &runModuleReader);
    reader.waitUntilArchiveRead();
    try {
        // The reader has read this archive's code and loaded the same libraries; do as it did.
        {
            caffe2::serialize::PyTorchStreamReader archive(path);
            opslibraries::loadOpsLibrariesCalledBy(opslibraries::codeTexts(archive));
        }
        torch::jit::Module module = torch::jit::load(path, torch::kCPU);
        reader.waitUntilDone();
        requireForward(module, path);
        return {std::move(module), reader.metadata()};
    } catch (const c10::Error& error) {
        throw Error("Cannot load " + quotedPath(path) + " as TorchScript: " + printableFirstLine(error.what_without_backtrace()) + " " + kSaveHint);
    } catch (const torch::jit::ErrorReport& error) {
        const std::string missingOp = opslibraries::describeMissingOp(error.what(), path);
        throw Error(missingOp.empty() ? "Cannot load " + quotedPath(path) + " as TorchScript: " + printableFirstLine(error.what()) + " " + kSaveHint
                                      : missingOp);
    }
}

LoadedModule loadModuleInThisProcess(const std::string& path, const LoadLimits& limits)
{
    checkFile(path);
    try {
        LoadedModule loaded;
        // No libraries to load: the reader gets this process's libraries; here they are loaded already.
        loaded.module = readModuleFile(path, /*opsLibraries=*/"",
                                       {[&loaded](const std::string& metadata) { loaded.metadata = metadata; }, [] {}});
        requireForward(loaded.module, path);
        return loaded;
    } catch (...) {
        // Every failure is worded once, by the sandboxed read: the same file fails there the same way.
    }
    return loadModuleWithMetadata(path, limits);
}

torch::jit::Module loadModule(const std::string& path, const LoadLimits& limits)
{
    return loadModuleWithMetadata(path, limits).module;
}

void saveModuleAtomically(const torch::jit::Module& module, const std::string& path)
{
    writeFileAtomically(path, [&module](const std::string& temporary) { module.save(temporary); });
}

} // namespace featscope
