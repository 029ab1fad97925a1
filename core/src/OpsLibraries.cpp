#include <featscope/OpsLibraries.h>

#include <featscope/sandbox/ModelFileMessages.h>
#include "OpsLibraryLoading.h"

#include <featscope/Errors.h>

#include <torch/csrc/jit/runtime/operator.h>
#include <torch/version.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <regex>

#include <dlfcn.h>

namespace featscope {
namespace {

namespace fs = std::filesystem;
using messages::quotedPath;

constexpr const char* kTorchvisionNamespace = "torchvision";
constexpr const char* kTorchvisionVariable = "FEATSCOPE_TORCHVISION_OPS";
// Where Debian's python3-torchvision installs its op library (_C.cpython-311-x86_64-linux-gnu.so).
constexpr const char* kTorchvisionPackageFolder = "/usr/lib/python3/dist-packages/torchvision";

std::mutex librariesMutex;
std::vector<OpsLibrary> libraries;

std::set<std::string> registeredOps()
{
    std::set<std::string> names;
    for (const auto& op : torch::jit::getAllOperators())
        names.insert(op->schema().name());
    return names;
}

bool isNamespaceRegistered(const std::string& ns)
{
    const std::string prefix = ns + "::";
    for (const auto& op : torch::jit::getAllOperators())
        if (op->schema().name().rfind(prefix, 0) == 0)
            return true;
    return false;
}

// $FEATSCOPE_TORCHVISION_OPS, or null when unset or empty.
const char* torchvisionLibraryFromEnvironment()
{
    const char* named = std::getenv(kTorchvisionVariable);
    return named && *named ? named : nullptr;
}

bool endsWith(const std::string& text, const std::string& suffix)
{
    return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool isIdentifierChar(char c)
{
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

} // namespace

void loadOpsLibrary(const std::string& path, const std::string& reason)
{
    const std::lock_guard<std::mutex> lock(librariesMutex);
    std::error_code error;
    const fs::path canonical = fs::canonical(path, error);
    if (error)
        throw Error("Cannot load the op library " + quotedPath(path) + ": " + error.message() + ". Check the path.");
    for (const OpsLibrary& loaded : libraries)
        if (loaded.path == canonical.string())
            return;
    const std::set<std::string> before = registeredOps();
    // RTLD_GLOBAL, as torch.ops.load_library: the library's ops may be called through symbols of others.
    if (!::dlopen(canonical.c_str(), RTLD_NOW | RTLD_GLOBAL)) {
        const char* why = ::dlerror();
        throw Error("Cannot load the op library " + quotedPath(path) + ": " + messages::printableFirstLine(why ? why : "unknown error")
                    + ". It must be a shared library built against this LibTorch (1.13).");
    }
    OpsLibrary library{canonical.string(), reason, {}};
    const std::set<std::string> after = registeredOps();
    std::set_difference(after.begin(), after.end(), before.begin(), before.end(), std::back_inserter(library.ops));
    libraries.push_back(std::move(library));
}

std::vector<OpsLibrary> loadedOpsLibraries()
{
    const std::lock_guard<std::mutex> lock(librariesMutex);
    return libraries;
}

bool isOpFromLoadedLibrary(const std::string& op)
{
    const std::lock_guard<std::mutex> lock(librariesMutex);
    return std::any_of(libraries.begin(), libraries.end(), [&](const OpsLibrary& library) {
        return std::find(library.ops.begin(), library.ops.end(), op) != library.ops.end();
    });
}

std::string torchvisionOpsLibrary()
{
    if (const char* named = torchvisionLibraryFromEnvironment())
        return named;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(kTorchvisionPackageFolder, error)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("_C.", 0) == 0 && endsWith(name, ".so"))
            return entry.path().string();
    }
    return {};
}

namespace opslibraries {

std::vector<std::string> codeTexts(caffe2::serialize::PyTorchStreamReader& archive)
{
    std::vector<std::string> code;
    for (const std::string& record : archive.getAllRecords()) {
        if (record.rfind("code/", 0) != 0 || !endsWith(record, ".py"))
            continue;
        const auto [data, size] = archive.getRecord(record);
        code.emplace_back(static_cast<const char*>(data.get()), size);
    }
    return code;
}

std::set<std::string> opNamespacesCalledIn(const std::vector<std::string>& codeTexts)
{
    std::set<std::string> namespaces;
    for (const std::string& code : codeTexts)
        for (std::size_t at = code.find("ops."); at != std::string::npos; at = code.find("ops.", at + 1)) {
            if (at > 0 && (isIdentifierChar(code[at - 1]) || code[at - 1] == '.'))
                continue;
            std::size_t end = at + 4;
            while (end < code.size() && isIdentifierChar(code[end]))
                ++end;
            if (end > at + 4 && end < code.size() && code[end] == '.')
                namespaces.insert(code.substr(at + 4, end - at - 4));
        }
    return namespaces;
}

void loadOpsLibrariesCalledBy(const std::vector<std::string>& codeTexts)
{
    if (!opNamespacesCalledIn(codeTexts).count(kTorchvisionNamespace) || isNamespaceRegistered(kTorchvisionNamespace))
        return;
    const std::string library = torchvisionOpsLibrary();
    if (library.empty())
        return;
    try {
        loadOpsLibrary(library, "the model calls torchvision's C++ ops");
    } catch (const Error& error) {
        throw Error(std::string(error.what()) + " (torchvision's op library, for the model's torchvision:: ops; "
                    + (torchvisionLibraryFromEnvironment() ? std::string(kTorchvisionVariable) + " names it" : "from python3-torchvision") + ")");
    }
}

std::string describeMissingOp(const std::string& libtorchMessage, const std::string& path)
{
    static const std::regex unknownOp("Unknown builtin op: ([A-Za-z0-9_]+)::([A-Za-z0-9_.]+)");
    std::smatch match;
    if (!std::regex_search(libtorchMessage, match, unknownOp))
        return {};
    const std::string ns = match[1].str();
    const std::string op = ns + "::" + match[2].str();
    const std::string libtorch = std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR);
    if (ns == "aten" || ns == "prim")
        return "Cannot load " + quotedPath(path) + ": it calls " + op + ", which this LibTorch (" + libtorch
            + ") does not have; the model was probably saved by a newer PyTorch. Save it again with PyTorch " + libtorch
            + ", or export it without that op.";
    if (ns == kTorchvisionNamespace && torchvisionOpsLibrary().empty())
        return "Cannot load " + quotedPath(path) + ": it calls " + op + ", one of torchvision's C++ ops, and torchvision's op "
            "library was not found. Install python3-torchvision, set " + kTorchvisionVariable + " to its torchvision/_C*.so, "
            "or give the library with --ops-library PATH.";
    return "Cannot load " + quotedPath(path) + ": it calls the custom op " + op + ", which no loaded op library registers. "
        "Give the shared library that defines it with --ops-library PATH (its code then runs as trusted).";
}

std::string joinedLibraryPaths()
{
    std::string joined;
    for (const OpsLibrary& library : loadedOpsLibraries())
        joined += (joined.empty() ? "" : "\n") + library.path;
    return joined;
}

std::vector<std::string> splitLibraryPaths(const std::string& joined)
{
    std::vector<std::string> paths;
    for (std::size_t start = 0; start < joined.size();) {
        const std::size_t end = std::min(joined.find('\n', start), joined.size());
        if (end > start)
            paths.push_back(joined.substr(start, end - start));
        start = end + 1;
    }
    return paths;
}

} // namespace opslibraries
} // namespace featscope
