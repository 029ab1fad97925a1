#include <featscope/sandbox/ReaderProtocol.h>

#include <featscope/Errors.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include <sys/socket.h>
#include <unistd.h>

namespace featscope::reader {
namespace {

// Calls `step(done)`, one read or write of the bytes from `done` on, until `size` bytes have moved;
// retries on EINTR. False at end of input or on error.
template <typename Step>
bool moveAll(std::size_t size, Step step)
{
    std::size_t done = 0;
    while (done < size) {
        const ssize_t n = step(done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

bool readExactly(int fd, char* data, std::size_t size)
{
    return moveAll(size, [&](std::size_t done) { return ::read(fd, data + done, size - done); });
}

} // namespace

bool sendAll(int fd, const std::string& text)
{
    return moveAll(text.size(), [&](std::size_t done) {
        const ssize_t n = ::send(fd, text.data() + done, text.size() - done, MSG_NOSIGNAL);
        return n < 0 && errno == ENOTSOCK ? ::write(fd, text.data() + done, text.size() - done) : n; // a pipe or file
    });
}

std::string encodeRequest(const ReadRequest& request)
{
    return std::to_string(request.memoryBytes) + " " + std::to_string(static_cast<unsigned long long>(request.seconds) + 1)
        + " " + std::to_string(request.path.size()) + " " + std::to_string(request.opsLibraries.size()) + "\n"
        + request.path + request.opsLibraries;
}

std::optional<ReadRequest> receiveRequest(int fd)
{
    std::string header;
    char c = 0;
    while (header.size() < 64 && readExactly(fd, &c, 1) && c != '\n')
        header += c;
    if (header.empty())
        return std::nullopt;
    ReadRequest request;
    char* end = nullptr;
    request.memoryBytes = std::strtoull(header.c_str(), &end, 10);
    request.seconds = static_cast<double>(std::min(std::strtoull(end, &end, 10), 1ULL << 20));
    const unsigned long long length = std::strtoull(end, &end, 10);
    const unsigned long long librariesLength = std::strtoull(end, &end, 10);
    if (c != '\n' || *end != '\0' || length == 0 || length > kMaxPathLength || librariesLength > kMaxPathLength)
        throw Error("The model reader received a malformed request; it is started by featscope, not by hand.");
    request.path.resize(length);
    request.opsLibraries.resize(librariesLength);
    if (!readExactly(fd, request.path.data(), length) || !readExactly(fd, request.opsLibraries.data(), librariesLength))
        throw Error("The model reader's request ended early.");
    return request;
}

} // namespace featscope::reader
