#include <featscope/AtomicFile.h>

#include <featscope/sandbox/ModelFileMessages.h>

#include <featscope/Errors.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

namespace featscope {
namespace {

namespace fs = std::filesystem;
using messages::printableFirstLine;
using messages::quotedPath;

// A write killed before its rename leaves ".NAME.tmp-PID" behind; remove those whose process is gone.
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

bool syncFile(const fs::path& path)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    const bool ok = ::fsync(fd) == 0;
    return ::close(fd) == 0 && ok;
}

} // namespace

void writeFileAtomically(const std::string& path, const std::function<void(const std::string& temporaryPath)>& write)
{
    const fs::path target(path);
    const fs::path directory = target.has_parent_path() ? target.parent_path() : fs::path(".");
    if (!fs::is_directory(directory))
        throw Error("Cannot write " + quotedPath(path) + ": the folder " + quotedPath(directory.string())
                    + " does not exist.");
    const std::string temporaryPrefix = "." + target.filename().string() + ".tmp-";
    removeAbandonedTemporaries(directory, temporaryPrefix);
    const fs::path temporary = directory / (temporaryPrefix + std::to_string(::getpid()));
    std::error_code error;
    try {
        write(temporary.string());
    } catch (const std::exception& failure) {
        fs::remove(temporary, error);
        std::string reason = printableFirstLine(failure.what());
        if (!reason.empty() && reason.back() == '.')
            reason.pop_back();
        throw Error("Cannot write " + quotedPath(path) + ": " + reason + ". The previous file, if any, is unchanged.");
    }
    if (!syncFile(temporary)) {
        fs::remove(temporary, error);
        throw Error("Cannot write " + quotedPath(path) + " (disk full or no permission?). The previous file, if any, "
                    "is unchanged.");
    }
    fs::rename(temporary, target, error);
    if (error) {
        const std::string reason = error.message();
        fs::remove(temporary, error);
        throw Error("Cannot write " + quotedPath(path) + ": " + reason + ". The previous file, if any, is unchanged.");
    }
}

void writeFileAtomically(const std::string& path, const std::string& content)
{
    writeFileAtomically(path, [&](const std::string& temporary) {
        std::FILE* file = std::fopen(temporary.c_str(), "wb");
        if (!file)
            throw Error("cannot create the file (no permission?)");
        bool ok = std::fwrite(content.data(), 1, content.size(), file) == content.size();
        ok = std::fclose(file) == 0 && ok;
        if (!ok)
            throw Error("the disk is full");
    });
}

} // namespace featscope
