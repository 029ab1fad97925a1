#include <featscope/sandbox/ReaderProtocol.h>

#include <featscope/Errors.h>

#include <algorithm>
#include <cstdlib>

namespace featscope::reader {
namespace {

// Reads exactly `size` bytes; false at end of input or on error.
bool readExactly(int fd, char* data, std::size_t size)
{
    std::size_t done = 0;
    while (done < size) {
        const ssize_t n = ::read(fd, data + done, size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

} // namespace

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
