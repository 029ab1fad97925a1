#include <featscope/ModuleLoader.h>

#include "ModelFileMessages.h"
#include "OpsLibraryLoading.h"
#include "ReaderProtocol.h"

#include <featscope/AtomicFile.h>
#include <featscope/Errors.h>
#include <featscope/ModuleReader.h>
#include <featscope/ProcessLimits.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <system_error>
#include <vector>

#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

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

bool isExecutableFile(const fs::path& path)
{
    std::error_code error;
    return fs::is_regular_file(path, error) && ::access(path.c_str(), X_OK) == 0;
}

// Appends the folders of a colon-separated list (PATH's format), skipping empty entries.
void appendFolders(const std::string& list, std::vector<fs::path>& folders)
{
    for (std::string rest = list; !rest.empty();) {
        const std::string folder = rest.substr(0, rest.find(':'));
        rest.erase(0, std::min(rest.size(), folder.size() + 1));
        if (!folder.empty())
            folders.emplace_back(folder);
    }
}

// The reader executable: $FEATSCOPE_READER, else beside the running executable (the build tree's bin/,
// or libexec/featscope/ for the installed engine), else in the helper folder of the running program's
// installation (bin/FEATSCOPE_HELPERS_FROM_BINDIR: /usr/bin/featscope-cli -> /usr/libexec/featscope/),
// else in the helper folders this build installs to (FEATSCOPE_INSTALLED_HELPER_DIRS, for programs of
// library users that live elsewhere), else on PATH. The folders come from CMake (GNUInstallDirs).
std::string readerExecutable()
{
    if (const char* named = std::getenv(reader::kExecutableVariable); named && *named) {
        if (!isExecutableFile(named))
            throw Error(std::string(reader::kExecutableVariable) + " names " + quotedPath(named) + ", which is not an executable file; "
                        "point it at featscope-reader or unset it");
        return named;
    }
    std::vector<fs::path> folders;
    std::error_code error;
    const fs::path self = fs::read_symlink("/proc/self/exe", error);
    if (!error) {
        folders.push_back(self.parent_path());
        folders.push_back((self.parent_path() / FEATSCOPE_HELPERS_FROM_BINDIR).lexically_normal());
    }
    appendFolders(FEATSCOPE_INSTALLED_HELPER_DIRS, folders);
    const char* path = std::getenv("PATH");
    appendFolders(path ? path : "", folders);
    for (const fs::path& folder : folders)
        if (isExecutableFile(folder / reader::kExecutableName))
            return (folder / reader::kExecutableName).string();
    throw Error(std::string("featscope's model reader (") + reader::kExecutableName + ") was not found beside "
                + (error ? std::string("this program") : self.string()) + ", in " + FEATSCOPE_INSTALLED_HELPER_DIRS
                + " or on PATH; reinstall featscope, or set " + reader::kExecutableVariable + " to the reader's path");
}

bool isSingleThreaded()
{
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("Threads:", 0) == 0)
            return std::strtol(line.c_str() + 8, nullptr, 10) == 1;
    return false;
}

// Starts featscope-reader with `socket` as its stdin and stdout; returns 0 or an errno value.
int spawnReader(const std::string& executable, int socket, pid_t& pid)
{
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, socket, STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, socket, STDOUT_FILENO);
    posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
    std::string flag = "--request-on-stdin";
    char* argv[] = {const_cast<char*>(executable.c_str()), flag.data(), nullptr};
    const int failed = ::posix_spawn(&pid, executable.c_str(), &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    return failed;
}

// Forks a reader that talks over `socket`; returns 0 or an errno value. Only for a single-threaded process.
int forkReader(int socket, pid_t& pid)
{
    std::fflush(nullptr);
    pid = ::fork();
    if (pid == 0) {
        // Only the socket (for request and report) and stderr stay: stdout may be a protocol pipe (the
        // engine's), and a pipe end held open here would hide the parent's exit from whoever reads it.
        ::dup2(socket, STDIN_FILENO);
        ::dup2(STDERR_FILENO, STDOUT_FILENO);
        ::close_range(STDERR_FILENO + 1, ~0U, 0);
        ::_exit(runModuleReader(STDIN_FILENO, STDIN_FILENO));
    }
    return pid < 0 ? errno : 0;
}

/// A reader process and the socket to it (its stdin and stdout).
///
/// Where this process has threads (LibTorch's pools, the engine's watchdog), the reader is a fresh
/// featscope-reader program (posix_spawn): a fork would inherit any lock another thread held at that
/// moment (allocators, OpenMP), and it would never open in the child. A single-threaded process, such as
/// a program at the start of main(), is forked instead (unless FEATSCOPE_READER names a reader): that is
/// safe, and the child skips the second or so LibTorch takes to start in a new program.
class ReaderProcess {
public:
    /// Starts a reader; throws Error without a file name when it cannot.
    static std::unique_ptr<ReaderProcess> start()
    {
        const char* named = std::getenv(reader::kExecutableVariable);
        const bool fork = (!named || !*named) && isSingleThreaded();
        const std::string executable = fork ? std::string() : readerExecutable();
        int sockets[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0)
            throw Error(std::string("could not create a socket for the model reader: ") + std::strerror(errno));
        pid_t pid = -1;
        const int failed = fork ? forkReader(sockets[1], pid) : spawnReader(executable, sockets[1], pid);
        ::close(sockets[1]);
        if (failed != 0) {
            ::close(sockets[0]);
            throw Error("could not start the model reader" + (fork ? std::string() : " " + quotedPath(executable)) + ": "
                        + std::strerror(failed));
        }
        return std::unique_ptr<ReaderProcess>(new ReaderProcess(pid, sockets[0]));
    }

    ~ReaderProcess()
    {
        ::close(socket_);
        if (!ended_) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }

    ReaderProcess(const ReaderProcess&) = delete;
    ReaderProcess& operator=(const ReaderProcess&) = delete;

    /// Sends the one request; false if the reader is gone.
    bool send(const std::string& path, const LoadLimits& limits)
    {
        const std::string libraries = opslibraries::joinedLibraryPaths();
        const std::string request = std::to_string(limits.memoryBytes) + " " + std::to_string(static_cast<unsigned long long>(limits.seconds) + 1)
            + " " + std::to_string(path.size()) + " " + std::to_string(libraries.size()) + "\n" + path + libraries;
        return reader::sendAll(socket_, request);
    }

    /// Waits up to `milliseconds` for report bytes and appends them; false once the reader has ended
    /// (its remaining report read, its status kept).
    bool pump(std::string& report, int milliseconds)
    {
        pollfd fd{socket_, POLLIN, 0};
        if (::poll(&fd, 1, milliseconds) > 0) {
            char buffer[4096];
            const ssize_t n = ::read(socket_, buffer, sizeof buffer);
            if (n > 0) {
                report.append(buffer, static_cast<std::size_t>(n));
                return true;
            }
        }
        if (::waitpid(pid_, &status_, WNOHANG) != pid_)
            return true;
        ended_ = true;
        char buffer[4096];
        ssize_t n = 0;
        while ((n = ::recv(socket_, buffer, sizeof buffer, MSG_DONTWAIT)) > 0)
            report.append(buffer, static_cast<std::size_t>(n));
        return false;
    }

    /// Whether the process still runs (a spare may have been killed from outside).
    bool running()
    {
        if (!ended_ && ::waitpid(pid_, &status_, WNOHANG) == pid_)
            ended_ = true;
        return !ended_;
    }

    void kill()
    {
        if (ended_)
            return;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status_, 0);
        ended_ = true;
    }

    int status() const { return status_; }

    /// Whether the process has ended (or was killed) and its status is known.
    bool ended() const { return ended_; }

private:
    ReaderProcess(pid_t pid, int socket) : pid_(pid), socket_(socket) {}

    pid_t pid_;
    int socket_;
    int status_ = 0;
    bool ended_ = false;
};

// One reader started ahead of time (prepareModuleReader), so that a load does not wait for LibTorch to
// start up in a new process.
std::mutex spareMutex;
std::unique_ptr<ReaderProcess> spareReader;

std::unique_ptr<ReaderProcess> takeReader()
{
    {
        const std::lock_guard<std::mutex> lock(spareMutex);
        if (spareReader && spareReader->running())
            return std::move(spareReader);
        spareReader.reset();
    }
    return ReaderProcess::start();
}

// Time a reader may take to start (load LibTorch) before its time cap begins.
constexpr std::chrono::seconds kReaderStartUpTime{120};

/// The sandboxed read of one file by a reader process under the limits.
///
/// Reading happens in two phases. Once the reader's torch::jit::load has returned, the same bytes cannot
/// crash this process's load, so this process loads while the reader goes on to unpickle the debug
/// information (the lazily read part); it then waits for the reader's verdict on that part before it
/// touches the module's debug information itself.
class SandboxedReader {
public:
    SandboxedReader(const std::string& path, const LoadLimits& limits) : path_(path), limits_(limits)
    {
        try {
            process_ = takeReader();
        } catch (const Error& error) {
            throw Error("Cannot open " + quotedPath(path) + ": " + error.what() + ".");
        }
        deadline_ = std::chrono::steady_clock::now() + kReaderStartUpTime;
        // A spare reader may have been killed since it started: one fresh attempt, and if that reader
        // ends before taking the request too, its exit status is the error.
        if (!process_->send(path, limits)) {
            process_ = ReaderProcess::start();
            if (!process_->send(path, limits)) {
                while (pump()) {
                }
                throwIfFailed();
            }
        }
    }

    SandboxedReader(const SandboxedReader&) = delete;
    SandboxedReader& operator=(const SandboxedReader&) = delete;

    /// Returns once the reader has read the archive; throws if it failed doing so.
    void waitUntilArchiveRead()
    {
        while (report_.size() < 2 || report_[1] != reader::kArchiveRead) {
            if (process_->ended() || !pump()) {
                throwIfFailed();
                throw Error("Cannot load " + quotedPath(path_) + " as TorchScript: the model reader stopped early. " + kSaveHint);
            }
        }
    }

    /// Returns once the reader has read everything; throws the error it met, if any.
    void waitUntilDone()
    {
        while (!readAll() && !process_->ended())
            pump();
        if (!readAll())
            throwIfFailed();
    }

private:
    bool readAll() const
    {
        return report_.size() == 3 && report_[2] == reader::kReadAll;
    }

    // Waits a little for news from the reader; false once it has ended.
    bool pump()
    {
        const bool started = !report_.empty();
        if (!process_->pump(report_, 5))
            return false;
        if (!started && !report_.empty() && report_[0] == reader::kRequestReceived)
            deadline_ = std::chrono::steady_clock::now()
                + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(limits_.seconds));
        if (std::chrono::steady_clock::now() > deadline_) {
            process_->kill();
            timedOut_ = true;
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
        const int status = process_->status();
        if (WIFSIGNALED(status))
            throw Error("Cannot open " + quotedPath(path_) + ": LibTorch crashed while reading it (" + strsignal(WTERMSIG(status))
                        + "). The file is corrupt or crafted to crash readers; do not use it, and save the model again from Python.");
        std::string failure = report_;
        for (const char step : {reader::kRequestReceived, reader::kArchiveRead, reader::kReadAll})
            if (!failure.empty() && failure[0] == step)
                failure.erase(0, 1);
        if (!failure.empty() && failure[0] == reader::kOutOfMemory)
            throw Error("Cannot open " + quotedPath(path_) + ": reading it needed more than " + mb(limits_.memoryBytes)
                        + " of memory, so it was stopped. The file may be hostile; if it is a model you trust, raise the limit "
                          "with FEATSCOPE_LOAD_MEMORY_MB.");
        if (!failure.empty() && failure[0] == reader::kError)
            throw Error(failure.substr(1));
        if (failure.size() > 1)
            throw Error("Cannot load " + quotedPath(path_) + " as TorchScript: " + failure.substr(1) + " " + kSaveHint);
        throw Error("Cannot open " + quotedPath(path_) + ": the model reader stopped (exit status " + std::to_string(WEXITSTATUS(status))
                    + ") without saying why; its error output, if any, is above. The file may be corrupt; try saving the model again.");
    }

    std::string path_;
    LoadLimits limits_;
    std::unique_ptr<ReaderProcess> process_;
    bool timedOut_ = false;
    std::string report_;
    std::chrono::steady_clock::time_point deadline_;
};

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
    const std::lock_guard<std::mutex> lock(spareMutex);
    if (spareReader && spareReader->running())
        return;
    try {
        spareReader = ReaderProcess::start();
    } catch (const Error&) {
        spareReader.reset(); // loadModule reports it, with the file it was asked to open
    }
}

torch::jit::Module loadModule(const std::string& path, const LoadLimits& limits)
{
    checkFile(path);
    SandboxedReader reader(path, effectiveLoadLimits(path, limits));
    reader.waitUntilArchiveRead();
    try {
        // The reader has read this archive's code and loaded the same libraries; do as it did.
        {
            caffe2::serialize::PyTorchStreamReader archive(path);
            opslibraries::loadOpsLibrariesCalledBy(opslibraries::codeTexts(archive));
        }
        torch::jit::Module module = torch::jit::load(path, torch::kCPU);
        reader.waitUntilDone();
        if (!module.find_method("forward"))
            throw Error("Cannot use " + quotedPath(path) + ": the module has no forward method.");
        return module;
    } catch (const c10::Error& error) {
        throw Error("Cannot load " + quotedPath(path) + " as TorchScript: " + printableFirstLine(error.what_without_backtrace()) + " " + kSaveHint);
    } catch (const torch::jit::ErrorReport& error) {
        const std::string missingOp = opslibraries::describeMissingOp(error.what(), path);
        throw Error(missingOp.empty() ? "Cannot load " + quotedPath(path) + " as TorchScript: " + printableFirstLine(error.what()) + " " + kSaveHint
                                      : missingOp);
    }
}

void saveModuleAtomically(const torch::jit::Module& module, const std::string& path)
{
    writeFileAtomically(path, [&module](const std::string& temporary) { module.save(temporary); });
}

} // namespace featscope
