#pragma once

#include <cstddef>
#include <optional>
#include <string>

// The conversation between loadModule (the parent, through SandboxedRead) and the reader process it
// starts (the reader's side: core/src/ModuleReader.cpp). The parent writes one request to the reader's
// stdin:
//     "<memory bytes> <seconds> <path length> <libraries length>\n<path><libraries>"
// where <libraries> are the paths of the op libraries to load first (featscope/OpsLibraries.h), joined by
// '\n', and reads the reader's report from its stdout:
// - kRequestReceived once the request is in (the time cap starts then, not while LibTorch starts up);
// - when the archive holds featscope's metadata record (extra/featscope.json), kMetadata, "<length>\n"
//   and the record's first bytes (at most kMaxMetadataMessage), so that the parent need not open the
//   archive again for it;
// - kArchiveRead once torch::jit::load has returned (the parent may start its own load);
// - kReadAll once every part (debug information included) was read;
// - on failure, one of kError, kTorchError or kOutOfMemory followed by the message.
// The parent goes on at kReadAll without waiting for the reader to exit. An idle reader whose stdin
// closes exits 0 without a report.
namespace featscope::reader {

inline constexpr char kRequestReceived = 'R';
inline constexpr char kArchiveRead = 'L';
inline constexpr char kReadAll = 'D';
inline constexpr char kError = 'E';
inline constexpr char kTorchError = 'T';
inline constexpr char kOutOfMemory = 'M';
inline constexpr char kMetadata = 'J';

/// Most bytes of the metadata record a report carries: one more than featscope accepts in the record
/// (kMaxModelMetadataBytes, featscope/ModuleLoader.h), so that the parent can tell a record too large.
inline constexpr std::size_t kMaxMetadataMessage = (std::size_t(1) << 20) + 1;

/// The report's metadata message for a record.
inline std::string metadataMessage(const std::string& record)
{
    const std::string sent = record.substr(0, kMaxMetadataMessage);
    return kMetadata + std::to_string(sent.size()) + "\n" + sent;
}

/// The executable's name, looked for beside the running executable, in libexec/featscope/ and on PATH.
inline constexpr const char* kExecutableName = "featscope-reader";
/// Environment variable that names the executable explicitly.
inline constexpr const char* kExecutableVariable = "FEATSCOPE_READER";

/// Longest path a request may carry.
inline constexpr std::size_t kMaxPathLength = 1 << 16;

/// What the parent asks the reader to read, and under which caps.
struct ReadRequest {
    std::string path;
    std::size_t memoryBytes = 0;
    double seconds = 0;
    /// Paths of the op libraries to load first, joined by '\n' (opslibraries::joinedLibraryPaths).
    std::string opsLibraries;
};

/// The request as the parent writes it (the reader's alarm and the parent's deadline round the seconds up).
std::string encodeRequest(const ReadRequest& request);

/// Reads one request from `fd`; nullopt when the input ends before any byte (an idle spare reader whose
/// parent went away). Throws featscope::Error on a malformed request.
std::optional<ReadRequest> receiveRequest(int fd);

/// Writes all of `text` to the socket `fd`; false if the other side is gone (no SIGPIPE).
bool sendAll(int fd, const std::string& text);

} // namespace featscope::reader
