#include <featscope/ModuleLoader.h>

#include <featscope/Errors.h>

#include <caffe2/serialize/inline_container.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <thread>

#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace featscope {
namespace {

namespace fs = std::filesystem;

constexpr const char* saveHint =
    "Save a TorchScript module in Python with torch.jit.script(model).save(path) or "
    "torch.jit.trace(model, example).save(path).";

std::string quoted(const std::string& path)
{
    return "'" + path + "'";
}

std::string firstLine(const std::string& text)
{
    const auto end = text.find('\n');
    return end == std::string::npos ? text : text.substr(0, end);
}

// Checks what can be checked without parsing the archive and says what the file is instead.
void checkFile(const std::string& path)
{
    std::error_code error;
    const auto status = fs::status(path, error);
    if (!fs::exists(status))
        throw Error("Cannot open " + quoted(path) + ": the file does not exist. Check the path.");
    if (fs::is_directory(status))
        throw Error("Cannot open " + quoted(path) + ": it is a directory, not a TorchScript file. Give the path of a .pt file.");
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error("Cannot open " + quoted(path) + ": the file cannot be read (permissions?). Check that you may read it.");
    char magic[4] = {};
    in.read(magic, sizeof magic);
    const auto size = in.gcount();
    if (size == 0)
        throw Error("Cannot open " + quoted(path) + ": the file is empty. " + saveHint);
    if (size < 4 || magic[0] != 'P' || magic[1] != 'K' || magic[2] != '\3' || magic[3] != '\4') {
        if (static_cast<unsigned char>(magic[0]) == 0x80)
            throw Error("Cannot open " + quoted(path) + ": it is a Python pickle (an old torch.save file, e.g. a state_dict), not a TorchScript module. " + saveHint);
        throw Error("Cannot open " + quoted(path) + ": it is not a TorchScript file (no zip archive). " + saveHint);
    }
}

void checkArchive(const std::string& path)
{
    try {
        caffe2::serialize::PyTorchStreamReader reader(path);
        if (!reader.hasRecord("constants.pkl") && reader.hasRecord("data.pkl"))
            throw Error("Cannot open " + quoted(path) + ": it was saved with torch.save (a state_dict or pickled object), not as TorchScript. " + saveHint);
    } catch (const c10::Error& error) {
        throw Error("Cannot open " + quoted(path) + ": the archive is truncated or corrupt (" + firstLine(error.what_without_backtrace()) + "). Save the model again.");
    }
}

std::size_t environmentOr(const char* name, std::size_t fallback)
{
    const char* value = std::getenv(name);
    if (!value || !*value)
        return fallback;
    char* end = nullptr;
    const unsigned long long parsed = std::strtoull(value, &end, 10);
    return end && *end == '\0' && parsed > 0 ? static_cast<std::size_t>(parsed) : fallback;
}

LoadLimits effectiveLimits(const std::string& path, LoadLimits limits)
{
    std::error_code error;
    const auto size = static_cast<std::size_t>(fs::file_size(path, error));
    const std::size_t mb = std::size_t(1) << 20;
    if (limits.memoryBytes == 0)
        limits.memoryBytes = environmentOr("FEATSCOPE_LOAD_MEMORY_MB", 0) * mb;
    if (limits.memoryBytes == 0)
        limits.memoryBytes = 2048 * mb + 4 * (error ? 0 : size);
    if (limits.seconds <= 0)
        limits.seconds = static_cast<double>(environmentOr("FEATSCOPE_LOAD_SECONDS", 0));
    if (limits.seconds <= 0)
        limits.seconds = 30.0 + static_cast<double>(error ? 0 : size) / (20.0 * mb);
    return limits;
}

std::size_t currentAddressSpace()
{
    std::ifstream statm("/proc/self/statm");
    std::size_t pages = 0;
    statm >> pages;
    return pages * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

// Debug information (the Python source behind each node) is unpickled lazily, the first time
// naming asks for it; touching every range here makes a hostile debug entry fail in the child.
void readDebugInformation(torch::jit::Block* block)
{
    for (torch::jit::Node* node : block->nodes()) {
        const auto& range = node->sourceRange();
        if (range.source())
            range.findSourceRangeThatGenerated();
        for (torch::jit::Block* inner : node->blocks())
            readDebugInformation(inner);
    }
}

// Runs in the forked child: read the archive as the parent will, report the first error line.
[[noreturn]] void probeInChild(const std::string& path, std::size_t addressSpaceCap, int reportFd)
{
    const rlimit memory{addressSpaceCap, addressSpaceCap};
    ::setrlimit(RLIMIT_AS, &memory);
    const rlimit noCore{0, 0};
    ::setrlimit(RLIMIT_CORE, &noCore);
    std::string message;
    try {
        checkArchive(path);
        const torch::jit::Module module = torch::jit::load(path, torch::kCPU);
        for (const torch::jit::Module& submodule : module.modules())
            for (const torch::jit::Method& method : submodule.get_methods())
                readDebugInformation(method.graph()->block());
        ::_exit(0);
    } catch (const Error& error) {
        message = std::string("E") + error.what();
    } catch (const c10::Error& error) {
        message = std::string("T") + firstLine(error.what_without_backtrace());
    } catch (const std::bad_alloc&) {
        message = "M";
    } catch (const std::exception& error) {
        message = std::string("T") + firstLine(error.what());
    }
    if (message.find("can't allocate memory") != std::string::npos || message.find("bad_alloc") != std::string::npos)
        message = "M";
    const ssize_t ignored = ::write(reportFd, message.data(), message.size());
    (void)ignored;
    ::_exit(1);
}

std::string readAll(int fd)
{
    std::string text;
    char buffer[4096];
    ssize_t n = 0;
    while ((n = ::read(fd, buffer, sizeof buffer)) > 0)
        text.append(buffer, static_cast<std::size_t>(n));
    return text;
}

void probeLoad(const std::string& path, const LoadLimits& limits)
{
    int pipeFds[2];
    if (::pipe(pipeFds) != 0)
        throw Error("Cannot open " + quoted(path) + ": could not create a pipe for the sandboxed reader.");
    const std::size_t cap = currentAddressSpace() + limits.memoryBytes;
    std::fflush(nullptr);
    const pid_t child = ::fork();
    if (child < 0) {
        ::close(pipeFds[0]);
        ::close(pipeFds[1]);
        throw Error("Cannot open " + quoted(path) + ": could not start the sandboxed reader (fork failed).");
    }
    if (child == 0) {
        ::close(pipeFds[0]);
        probeInChild(path, cap, pipeFds[1]);
    }
    ::close(pipeFds[1]);

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(limits.seconds);
    int status = 0;
    bool timedOut = false;
    while (::waitpid(child, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(child, SIGKILL);
            ::waitpid(child, &status, 0);
            timedOut = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const std::string report = readAll(pipeFds[0]);
    ::close(pipeFds[0]);

    const auto mb = [](std::size_t bytes) { return std::to_string(bytes >> 20) + " MB"; };
    if (timedOut)
        throw Error("Cannot open " + quoted(path) + ": reading it took longer than " + std::to_string(int(limits.seconds))
                    + " s, so it was stopped. The file may be hostile; if it is a very large model you trust, raise the limit "
                      "with FEATSCOPE_LOAD_SECONDS.");
    if (WIFSIGNALED(status))
        throw Error("Cannot open " + quoted(path) + ": LibTorch crashed while reading it (" + strsignal(WTERMSIG(status))
                    + "). The file is corrupt or crafted to crash readers; do not use it, and save the model again from Python.");
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return;
    if (report == "M")
        throw Error("Cannot open " + quoted(path) + ": reading it needed more than " + mb(limits.memoryBytes)
                    + " of memory, so it was stopped. The file may be hostile; if it is a model you trust, raise the limit "
                      "with FEATSCOPE_LOAD_MEMORY_MB.");
    if (!report.empty() && report[0] == 'E')
        throw Error(report.substr(1));
    throw Error("Cannot load " + quoted(path) + " as TorchScript: " + (report.size() > 1 ? report.substr(1) : "unknown error")
                + " " + saveHint);
}

} // namespace

torch::jit::Module loadModule(const std::string& path, const LoadLimits& limits)
{
    checkFile(path);
    probeLoad(path, effectiveLimits(path, limits));
    try {
        torch::jit::Module module = torch::jit::load(path, torch::kCPU);
        if (!module.find_method("forward"))
            throw Error("Cannot use " + quoted(path) + ": the module has no forward method.");
        return module;
    } catch (const c10::Error& error) {
        throw Error("Cannot load " + quoted(path) + " as TorchScript: " + firstLine(error.what_without_backtrace()) + " " + saveHint);
    }
}
void saveModuleAtomically(const torch::jit::Module& module, const std::string& path)
{
    const fs::path target(path);
    const fs::path directory = target.has_parent_path() ? target.parent_path() : fs::path(".");
    if (!fs::is_directory(directory))
        throw Error("Cannot save " + quoted(path) + ": the folder " + quoted(directory.string()) + " does not exist.");
    const fs::path temporary = directory / ("." + target.filename().string() + ".tmp-" + std::to_string(::getpid()));
    try {
        module.save(temporary.string());
        std::FILE* file = std::fopen(temporary.c_str(), "rb");
        if (file) {
            ::fsync(fileno(file));
            std::fclose(file);
        }
        fs::rename(temporary, target);
    } catch (const std::exception& error) {
        std::error_code ignored;
        fs::remove(temporary, ignored);
        throw Error("Cannot save " + quoted(path) + ": " + firstLine(error.what()) + ". The previous file, if any, is unchanged.");
    }
}

} // namespace featscope
