#include "ResumeProtocol.h"

#include "CliText.h"
#include "NpyFile.h"

#include <featscope/Errors.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace featscope::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kProgressMagic = "featscope-features-progress 1 ";

std::optional<Progress> readProgress(const std::string& path, const std::string& job, const std::string& partialPath)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return std::nullopt;
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::size_t firstEnd = content.find('\n');
    if (firstEnd == std::string::npos || content.compare(0, std::strlen(kProgressMagic), kProgressMagic) != 0)
        return std::nullopt; // interrupted before the first line was complete: nothing to keep
    if (content.substr(std::strlen(kProgressMagic), firstEnd - std::strlen(kProgressMagic)) != job)
        throw Error("The unfinished results " + quote(path) + " and " + quote(partialPath)
                    + " come from a different command (model, node, pooling, preprocessing or shard differ). "
                      "Run that command again to finish them, or add --restart to discard them.");
    Progress progress;
    std::size_t pos = firstEnd + 1;
    while (pos < content.size()) {
        const std::size_t end = content.find('\n', pos);
        if (end == std::string::npos)
            break; // a line cut by the interruption
        const std::string line = content.substr(pos, end - pos);
        pos = end + 1;
        const std::size_t tab = line.find('\t');
        if (tab == std::string::npos)
            break;
        const std::string status = line.substr(0, tab);
        std::string rest = line.substr(tab + 1);
        std::string reason;
        if (status == "skip") {
            const std::size_t tab2 = rest.find('\t');
            if (tab2 != std::string::npos) {
                reason = rest.substr(tab2 + 1);
                rest = rest.substr(0, tab2);
            }
        } else if (status != "ok") {
            break;
        }
        progress.done.push_back(rest);
        progress.ok.push_back(status == "ok");
        progress.reasons.push_back(reason);
    }
    return progress;
}

} // namespace

std::string oneLine(std::string text)
{
    for (char& c : text)
        if (c == '\n' || c == '\r' || c == '\t')
            c = ' ';
    return text;
}

std::string progressLine(const std::string& path, bool ok, const std::string& reason)
{
    return ok ? "ok\t" + path + "\n" : "skip\t" + path + "\t" + oneLine(reason) + "\n";
}

Progress resumableProgress(const OutputFiles& files, const std::string& job, const std::vector<std::string>& images,
                           std::uint64_t& cols)
{
    cols = 0;
    std::optional<Progress> progress = readProgress(files.progress, job, files.partial);
    Progress kept;
    if (progress) {
        std::uint64_t available = 0;
        if (fs::exists(files.partial)) {
            try {
                const NpyMatrix m = readNpyHeader(files.partial, true);
                available = m.rows;
                cols = m.cols;
            } catch (const Error&) {
            }
        }
        std::size_t okSoFar = 0;
        for (std::size_t i = 0; i < progress->done.size() && i < images.size(); ++i) {
            if (progress->done[i] != images[i])
                throw Error("The unfinished results in " + quote(files.progress) + " were made from a different list of images (first difference: "
                            + quote(progress->done[i]) + " vs " + quote(images[i])
                            + "). Run again with --restart to start over.");
            if (progress->ok[i] && okSoFar == available)
                break; // its row did not reach the disk
            okSoFar += progress->ok[i] ? 1 : 0;
            kept.done.push_back(progress->done[i]);
            kept.ok.push_back(progress->ok[i]);
            kept.reasons.push_back(progress->reasons[i]);
        }
    }
    if (kept.okCount() == 0)
        cols = 0;
    return kept;
}

ProgressFile::ProgressFile(const OutputFiles& files, bool restart) : path_(files.progress)
{
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0)
        throw Error("Cannot write " + quote(path_) + ": " + std::strerror(errno) + ".");
    file_ = ::fdopen(fd_, "ab");
    if (!file_) {
        ::close(fd_);
        throw Error("Cannot write " + quote(path_) + ".");
    }
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        std::fclose(file_);
        throw Error("Another 'featscope-cli features' is writing " + quote(files.npy) + " right now (it holds "
                    + quote(path_) + "). Wait for it to finish, or write elsewhere with -o.");
    }
    if (restart) {
        std::error_code ignored;
        fs::remove(files.partial, ignored);
        if (::ftruncate(fd_, 0) != 0) {
            std::fclose(file_);
            throw Error("Cannot write " + quote(path_) + ".");
        }
    }
}

ProgressFile::~ProgressFile()
{
    std::fclose(file_);
}

void ProgressFile::rewrite(const std::string& job, const Progress& kept)
{
    std::string content = kProgressMagic + job + "\n";
    for (std::size_t i = 0; i < kept.done.size(); ++i)
        content += progressLine(kept.done[i], kept.ok[i], kept.reasons[i]);
    const bool ok = ::ftruncate(fd_, 0) == 0 && std::fwrite(content.data(), 1, content.size(), file_) == content.size()
                    && std::fflush(file_) == 0 && ::fsync(fd_) == 0;
    if (!ok)
        throw Error("Cannot write " + quote(path_) + " (disk full?).");
}

void ProgressFile::append(const std::string& lines)
{
    if (std::fwrite(lines.data(), 1, lines.size(), file_) != lines.size() || std::fflush(file_) != 0)
        throw Error("Cannot write " + quote(path_) + " (disk full?). Run the command again to resume.");
}

} // namespace featscope::cli
