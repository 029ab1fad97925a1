#include <featscope/sandbox/SandboxedRead.h>

#include <featscope/Errors.h>
#include <featscope/sandbox/ModelFileMessages.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <system_error>
#include <vector>

#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace featscope::sandbox {
namespace {

namespace fs = std::filesystem;
using messages::kSaveHint;
using messages::quotedPath;

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
int forkReader(ReaderMain forkedMain, int socket, pid_t& pid)
{
    std::fflush(nullptr);
    pid = ::fork();
    if (pid == 0) {
        // Only the socket (for request and report) and stderr stay: stdout may be a protocol pipe (the
        // engine's), and a pipe end held open here would hide the parent's exit from whoever reads it.
        ::dup2(socket, STDIN_FILENO);
        ::dup2(STDERR_FILENO, STDOUT_FILENO);
        ::close_range(STDERR_FILENO + 1, ~0U, 0);
        ::_exit(forkedMain(STDIN_FILENO, STDIN_FILENO));
    }
    return pid < 0 ? errno : 0;
}

} // namespace

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
    static std::unique_ptr<ReaderProcess> start(ReaderMain forkedMain)
    {
        const char* named = std::getenv(reader::kExecutableVariable);
        const bool fork = (!named || !*named) && isSingleThreaded();
        const std::string executable = fork ? std::string() : readerExecutable();
        int sockets[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0)
            throw Error(std::string("could not create a socket for the model reader: ") + std::strerror(errno));
        pid_t pid = -1;
        const int failed = fork ? forkReader(forkedMain, sockets[1], pid) : spawnReader(executable, sockets[1], pid);
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
    bool send(const reader::ReadRequest& request) { return reader::sendAll(socket_, reader::encodeRequest(request)); }

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

namespace {

// One reader started ahead of time (prepareSpareReader), so that a load does not wait for LibTorch to
// start up in a new process.
std::mutex spareMutex;
std::unique_ptr<ReaderProcess> spareReader;

std::unique_ptr<ReaderProcess> takeReader(ReaderMain forkedMain)
{
    {
        const std::lock_guard<std::mutex> lock(spareMutex);
        if (spareReader && spareReader->running())
            return std::move(spareReader);
        spareReader.reset();
    }
    return ReaderProcess::start(forkedMain);
}

// Time a reader may take to start (load LibTorch) before its time cap begins.
constexpr std::chrono::seconds kReaderStartUpTime{120};

} // namespace

void prepareSpareReader(ReaderMain forkedMain)
{
    const std::lock_guard<std::mutex> lock(spareMutex);
    if (spareReader && spareReader->running())
        return;
    try {
        spareReader = ReaderProcess::start(forkedMain);
    } catch (const Error&) {
        spareReader.reset(); // the read reports it, with the file it was asked to open
    }
}

SandboxedRead::SandboxedRead(const reader::ReadRequest& request, ReaderMain forkedMain) : request_(request)
{
    try {
        process_ = takeReader(forkedMain);
    } catch (const Error& error) {
        throw Error("Cannot open " + quotedPath(request_.path) + ": " + error.what() + ".");
    }
    deadline_ = std::chrono::steady_clock::now() + kReaderStartUpTime;
    // A spare reader may have been killed since it started: one fresh attempt, and if that reader
    // ends before taking the request too, its exit status is the error.
    if (!process_->send(request_)) {
        process_ = ReaderProcess::start(forkedMain);
        if (!process_->send(request_)) {
            while (pump()) {
            }
            throwFailure();
        }
    }
}

SandboxedRead::~SandboxedRead() = default;

void SandboxedRead::waitUntilArchiveRead()
{
    while (!archiveRead_) {
        if (process_->ended() || !pump())
            throwFailure();
    }
}

void SandboxedRead::waitUntilDone()
{
    while (!readAll_ && !process_->ended())
        pump();
    if (!readAll_)
        throwFailure();
}

// Waits a little for news from the reader; false once it has ended.
bool SandboxedRead::pump()
{
    const bool started = requestReceived_;
    const bool running = process_->pump(report_, 5);
    parseReport();
    if (!running)
        return false;
    if (!started && requestReceived_)
        deadline_ = std::chrono::steady_clock::now()
            + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(request_.seconds));
    if (std::chrono::steady_clock::now() > deadline_) {
        process_->kill();
        timedOut_ = true;
        return false;
    }
    return true;
}

// Takes the complete messages off the report; a failure message (the rest of the report) stays.
void SandboxedRead::parseReport()
{
    while (parsed_ < report_.size()) {
        const char step = report_[parsed_];
        if (step == reader::kRequestReceived || step == reader::kArchiveRead || step == reader::kReadAll) {
            requestReceived_ = requestReceived_ || step == reader::kRequestReceived;
            archiveRead_ = archiveRead_ || step == reader::kArchiveRead;
            readAll_ = readAll_ || step == reader::kReadAll;
            ++parsed_;
            continue;
        }
        if (step != reader::kMetadata)
            return;
        const std::size_t newline = report_.find('\n', parsed_);
        if (newline == std::string::npos || newline - parsed_ > 16)
            return; // incomplete, or not a length: a malformed report is reported as the reader's failure
        const std::size_t length = std::strtoull(report_.c_str() + parsed_ + 1, nullptr, 10);
        if (length > reader::kMaxMetadataMessage || report_.size() - newline - 1 < length)
            return;
        metadata_ = report_.substr(newline + 1, length);
        parsed_ = newline + 1 + length;
    }
}

void SandboxedRead::throwFailure() const
{
    const auto mb = [](std::size_t bytes) { return std::to_string(bytes >> 20) + " MB"; };
    if (timedOut_)
        throw Error("Cannot open " + quotedPath(request_.path) + ": reading it took longer than " + std::to_string(int(request_.seconds))
                    + " s, so it was stopped. The file may be hostile; if it is a very large model you trust, raise the limit "
                      "with FEATSCOPE_LOAD_SECONDS.");
    const int status = process_->status();
    if (WIFSIGNALED(status))
        throw Error("Cannot open " + quotedPath(request_.path) + ": LibTorch crashed while reading it (" + strsignal(WTERMSIG(status))
                    + "). The file is corrupt or crafted to crash readers; do not use it, and save the model again from Python.");
    const std::string failure = report_.substr(parsed_);
    if (!failure.empty() && failure[0] == reader::kOutOfMemory)
        throw Error("Cannot open " + quotedPath(request_.path) + ": reading it needed more than " + mb(request_.memoryBytes)
                    + " of memory, so it was stopped. The file may be hostile; if it is a model you trust, raise the limit "
                      "with FEATSCOPE_LOAD_MEMORY_MB.");
    if (!failure.empty() && failure[0] == reader::kError)
        throw Error(failure.substr(1));
    if (failure.size() > 1)
        throw Error("Cannot load " + quotedPath(request_.path) + " as TorchScript: " + failure.substr(1) + " " + kSaveHint);
    throw Error("Cannot open " + quotedPath(request_.path) + ": the model reader stopped (exit status " + std::to_string(WEXITSTATUS(status))
                + ") without saying why; its error output, if any, is above. The file may be corrupt; try saving the model again.");
}

} // namespace featscope::sandbox
