#include <featscope/ModuleLoader.h>

#include <featscope/Errors.h>
#include <featscope/ProcessLimits.h>
#include <featscope/UnsafeOps.h>

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/pickle.h>

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

std::string quotedPath(const std::string& path)
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
        throw Error("Cannot open " + quotedPath(path) + ": the file is empty. " + saveHint);
    if (size < 4 || magic[0] != 'P' || magic[1] != 'K' || magic[2] != '\3' || magic[3] != '\4') {
        if (static_cast<unsigned char>(magic[0]) == 0x80)
            throw Error("Cannot open " + quotedPath(path) + ": it is a Python pickle (an old torch.save file, e.g. a state_dict), not a TorchScript module. " + saveHint);
        throw Error("Cannot open " + quotedPath(path) + ": it is not a TorchScript file (no zip archive). " + saveHint);
    }
}

void checkArchive(const std::string& path)
{
    try {
        caffe2::serialize::PyTorchStreamReader reader(path);
        if (!reader.hasRecord("constants.pkl") && reader.hasRecord("data.pkl"))
            throw Error("Cannot open " + quotedPath(path) + ": it was saved with torch.save (a state_dict or pickled object), not as TorchScript. " + saveHint);
        const std::vector<std::string> calls = findUnsafeCallsRunAtLoad(path);
        if (!calls.empty()) {
            std::string list;
            for (const std::string& call : calls)
                list += (list.empty() ? "" : ", ") + call;
            throw Error("Cannot open " + quotedPath(path) + ": its __setstate__ code, which TorchScript runs while loading, "
                        "can call " + list + ", which reach outside the model (files, processes or the network). featscope "
                        "does not load such files, since loading alone would run that code. Ask the model's author for a "
                        "version without it.");
        }
    } catch (const c10::Error& error) {
        throw Error("Cannot open " + quotedPath(path) + ": the archive is truncated or corrupt (" + firstLine(error.what_without_backtrace()) + "). Save the model again.");
    }
}

// LibTorch 1.13 reads the string-table indices of a debug entry (code/*.debug_pkl) without bounds checks
// (SourceRangeDeserializer::deserialize_source), so a hostile index reads past a vector. Whether that
// crashes depends on what lies there, so touching the debug information in the child does not prove
// the parent can: check every index here instead, in the child.
void checkDebugInformation(const std::string& path)
{
    caffe2::serialize::PyTorchStreamReader reader(path);
    const std::string suffix = ".debug_pkl";
    for (const std::string& name : reader.getAllRecords()) {
        if (name.size() < suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
            continue;
        const auto corrupt = [&](const char* what) {
            throw Error("Cannot open " + quotedPath(path) + ": its debug information (" + name + ") is corrupt: " + what
                        + ". Save the model again.");
        };
        const auto record = reader.getRecord(name);
        const c10::IValue value = torch::jit::unpickle(static_cast<const char*>(std::get<0>(record).get()), std::get<1>(record));
        if (!value.isTuple())
            corrupt("not a tuple");
        const auto& top = value.toTupleRef().elements();
        if (top.size() != 3 || !top[0].isString() || top[0].toStringRef() != "FORMAT_WITH_STRING_TABLE")
            continue; // the older format holds its text inline, without indices
        if (!top[1].isTuple() || !top[2].isTuple())
            corrupt("no string table");
        const auto& table = top[1].toTupleRef().elements();
        for (const c10::IValue& text : table)
            if (!text.isString())
                corrupt("a string-table entry is not a string");
        const auto isIndex = [&](const c10::IValue& index) {
            return index.isInt() && index.toInt() >= 0 && static_cast<std::size_t>(index.toInt()) < table.size();
        };
        // Each entry: (byte offset, ((text indices, file-name index, first line), start, end), debug handle).
        for (const c10::IValue& entry : top[2].toTupleRef().elements()) {
            if (!entry.isTuple() || entry.toTupleRef().elements().size() < 2)
                corrupt("an entry is not a tuple");
            const c10::IValue& range = entry.toTupleRef().elements()[1];
            if (!range.isTuple() || range.toTupleRef().elements().size() != 3)
                corrupt("a source range is not a triple");
            const auto& parts = range.toTupleRef().elements();
            if (!parts[0].isTuple() || parts[0].toTupleRef().elements().size() != 3 || !parts[1].isInt() || !parts[2].isInt())
                corrupt("a source range is malformed");
            const auto& source = parts[0].toTupleRef().elements();
            if (!source[0].isIntList() || !isIndex(source[1]) || !source[2].isInt())
                corrupt("a source refers to a missing file name");
            for (const int64_t index : source[0].toIntList())
                if (!isIndex(c10::IValue(index)))
                    corrupt("a source refers to a missing piece of text");
        }
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

} // namespace

LoadLimits effectiveLoadLimits(const std::string& path, LoadLimits limits)
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

namespace {

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

// The child's report on the pipe: kArchiveRead once torch::jit::load has returned (the parent may start
// its own load then), and, on failure, one of kError/kTorchError/kOutOfMemory followed by the message.
constexpr char kArchiveRead = 'L';
constexpr char kError = 'E';
constexpr char kTorchError = 'T';
constexpr char kOutOfMemory = 'M';

// Runs in the forked child: read the archive as the parent will, then every node's debug information
// (which the parent reads only later, while naming nodes).
[[noreturn]] void probeInChild(const std::string& path, std::size_t addressSpaceCap, int reportFd)
{
    capAddressSpace(addressSpaceCap);
    const rlimit noCore{0, 0};
    ::setrlimit(RLIMIT_CORE, &noCore);
    std::string message;
    try {
        checkArchive(path);
        checkDebugInformation(path);
        const torch::jit::Module module = torch::jit::load(path, torch::kCPU);
        const ssize_t written = ::write(reportFd, &kArchiveRead, 1);
        (void)written;
        for (const torch::jit::Module& submodule : module.modules())
            for (const torch::jit::Method& method : submodule.get_methods())
                readDebugInformation(method.graph()->block());
        ::_exit(0);
    } catch (const Error& error) {
        message = kError + std::string(error.what());
    } catch (const c10::Error& error) {
        message = kTorchError + firstLine(error.what_without_backtrace());
    } catch (const std::bad_alloc&) {
        message = kOutOfMemory;
    } catch (const std::exception& error) {
        message = kTorchError + firstLine(error.what());
    }
    if (isOutOfMemoryMessage(message.c_str()))
        message = kOutOfMemory;
    const ssize_t ignored = ::write(reportFd, message.data(), message.size());
    (void)ignored;
    ::_exit(1);
}

/// The sandboxed reader of one file: a forked child that reads it under the limits.
///
/// Reading happens in two phases. Once the child's torch::jit::load has returned, the same bytes cannot
/// crash the parent's load, so the parent loads while the child goes on to unpickle the debug
/// information (the lazily read part); the parent then waits for the child's verdict on that part
/// before it touches the module's debug information itself.
class SandboxedReader {
public:
    SandboxedReader(const std::string& path, const LoadLimits& limits) : path_(path), limits_(limits)
    {
        int pipeFds[2];
        if (::pipe(pipeFds) != 0)
            throw Error("Cannot open " + quotedPath(path) + ": could not create a pipe for the sandboxed reader.");
        const std::size_t cap = currentAddressSpace() + limits.memoryBytes;
        std::fflush(nullptr);
        child_ = ::fork();
        if (child_ < 0) {
            ::close(pipeFds[0]);
            ::close(pipeFds[1]);
            throw Error("Cannot open " + quotedPath(path) + ": could not start the sandboxed reader (fork failed).");
        }
        if (child_ == 0) {
            ::close(pipeFds[0]);
            probeInChild(path, cap, pipeFds[1]);
        }
        ::close(pipeFds[1]);
        reportFd_ = pipeFds[0];
        deadline_ = std::chrono::steady_clock::now()
            + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(limits.seconds));
    }

    ~SandboxedReader()
    {
        if (child_ > 0 && !finished_) {
            ::kill(child_, SIGKILL);
            ::waitpid(child_, nullptr, 0);
        }
        ::close(reportFd_);
    }

    SandboxedReader(const SandboxedReader&) = delete;
    SandboxedReader& operator=(const SandboxedReader&) = delete;

    /// Returns once the child has read the archive; throws if it failed doing so.
    void waitUntilArchiveRead()
    {
        while (report_.empty() || report_[0] != kArchiveRead) {
            if (finished_ || !pump()) {
                waitUntilDone();
                if (report_.empty() || report_[0] != kArchiveRead)
                    throw Error("Cannot load " + quotedPath(path_) + " as TorchScript: the sandboxed reader stopped early. " + saveHint);
                return;
            }
        }
    }

    /// Returns once the child has read everything; throws the error it met, if any.
    void waitUntilDone()
    {
        while (!finished_)
            pump();
        throwIfFailed();
    }

private:
    // Waits a little for news from the child; false once it has ended.
    bool pump()
    {
        pollfd fd{reportFd_, POLLIN, 0};
        if (::poll(&fd, 1, 5) > 0) {
            char buffer[4096];
            const ssize_t n = ::read(reportFd_, buffer, sizeof buffer);
            if (n > 0) {
                report_.append(buffer, static_cast<std::size_t>(n));
                return true;
            }
        }
        if (::waitpid(child_, &status_, WNOHANG) == child_) {
            finished_ = true;
            char buffer[4096];
            ssize_t n = 0;
            while ((n = ::read(reportFd_, buffer, sizeof buffer)) > 0)
                report_.append(buffer, static_cast<std::size_t>(n));
            return false;
        }
        if (std::chrono::steady_clock::now() > deadline_) {
            ::kill(child_, SIGKILL);
            ::waitpid(child_, &status_, 0);
            finished_ = timedOut_ = true;
            return false;
        }
        return true;
    }

    void throwIfFailed() const
    {
        const auto mb = [](std::size_t bytes) { return std::to_string(bytes >> 20) + " MB"; };
        if (timedOut_)
            throw Error("Cannot open " + quotedPath(path_) + ": reading it took longer than " + std::to_string(int(limits_.seconds))
                        + " s, so it was stopped. The file may be hostile; if it is a very large model you trust, raise the limit "
                          "with FEATSCOPE_LOAD_SECONDS.");
        if (WIFSIGNALED(status_))
            throw Error("Cannot open " + quotedPath(path_) + ": LibTorch crashed while reading it (" + strsignal(WTERMSIG(status_))
                        + "). The file is corrupt or crafted to crash readers; do not use it, and save the model again from Python.");
        if (WIFEXITED(status_) && WEXITSTATUS(status_) == 0)
            return;
        std::string failure = report_;
        if (!failure.empty() && failure[0] == kArchiveRead)
            failure.erase(0, 1);
        if (!failure.empty() && failure[0] == kOutOfMemory)
            throw Error("Cannot open " + quotedPath(path_) + ": reading it needed more than " + mb(limits_.memoryBytes)
                        + " of memory, so it was stopped. The file may be hostile; if it is a model you trust, raise the limit "
                          "with FEATSCOPE_LOAD_MEMORY_MB.");
        if (!failure.empty() && failure[0] == kError)
            throw Error(failure.substr(1));
        throw Error("Cannot load " + quotedPath(path_) + " as TorchScript: " + (failure.size() > 1 ? failure.substr(1) : "unknown error")
                    + " " + saveHint);
    }

    std::string path_;
    LoadLimits limits_;
    pid_t child_ = -1;
    int reportFd_ = -1;
    int status_ = 0;
    bool finished_ = false;
    bool timedOut_ = false;
    std::string report_;
    std::chrono::steady_clock::time_point deadline_;
};

} // namespace

torch::jit::Module loadModule(const std::string& path, const LoadLimits& limits)
{
    checkFile(path);
    SandboxedReader reader(path, effectiveLoadLimits(path, limits));
    reader.waitUntilArchiveRead();
    try {
        torch::jit::Module module = torch::jit::load(path, torch::kCPU);
        reader.waitUntilDone();
        if (!module.find_method("forward"))
            throw Error("Cannot use " + quotedPath(path) + ": the module has no forward method.");
        return module;
    } catch (const c10::Error& error) {
        throw Error("Cannot load " + quotedPath(path) + " as TorchScript: " + firstLine(error.what_without_backtrace()) + " " + saveHint);
    }
}
namespace {

// A save killed before its rename leaves ".NAME.tmp-PID" behind; remove those whose process is gone.
void removeAbandonedTemporaries(const fs::path& directory, const std::string& prefix)
{
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(directory, error)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind(prefix, 0) != 0)
            continue;
        const std::string pidText = name.substr(prefix.size());
        if (pidText.empty() || pidText.find_first_not_of("0123456789") != std::string::npos || pidText.size() > 9)
            continue;
        const pid_t pid = static_cast<pid_t>(std::stol(pidText));
        if (pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH)
            fs::remove(entry.path(), error);
    }
}

} // namespace

void saveModuleAtomically(const torch::jit::Module& module, const std::string& path)
{
    const fs::path target(path);
    const fs::path directory = target.has_parent_path() ? target.parent_path() : fs::path(".");
    if (!fs::is_directory(directory))
        throw Error("Cannot save " + quotedPath(path) + ": the folder " + quotedPath(directory.string()) + " does not exist.");
    const std::string temporaryPrefix = "." + target.filename().string() + ".tmp-";
    removeAbandonedTemporaries(directory, temporaryPrefix);
    const fs::path temporary = directory / (temporaryPrefix + std::to_string(::getpid()));
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
        throw Error("Cannot save " + quotedPath(path) + ": " + firstLine(error.what()) + ". The previous file, if any, is unchanged.");
    }
}

} // namespace featscope
