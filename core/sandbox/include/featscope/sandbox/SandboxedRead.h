#pragma once

#include <featscope/sandbox/ReaderProtocol.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

// The parent's side of the model reader (featscope_sandbox, internal to featscope: no header here is
// installed). loadModule asks a reader process to read a file under caps before reading it itself.
namespace featscope::sandbox {

/// What a forked reader runs in the child (core's runModuleReader); it returns the exit status.
using ReaderMain = int (*)(int requestFd, int reportFd);

class ReaderProcess;

/// Starts the reader of the next SandboxedRead now, so that it does not wait the second or so LibTorch
/// takes to start in a new program. Where this process has one thread the reader is a fork running
/// `forkedMain`; else the featscope-reader program. A reader that cannot start is reported by the read.
void prepareSpareReader(ReaderMain forkedMain);

/// The sandboxed read of one file by a reader process under the request's caps.
///
/// Reading happens in two phases. Once the reader's torch::jit::load has returned, the same bytes cannot
/// crash the parent's load, so the parent loads while the reader goes on to unpickle the debug
/// information (the lazily read part); it then waits for the reader's verdict on that part before it
/// touches the module's debug information itself. Errors are featscope::Error naming the file.
class SandboxedRead {
public:
    /// Takes the spare reader or starts one (see prepareSpareReader) and sends it the request.
    SandboxedRead(const reader::ReadRequest& request, ReaderMain forkedMain);
    ~SandboxedRead();
    SandboxedRead(const SandboxedRead&) = delete;
    SandboxedRead& operator=(const SandboxedRead&) = delete;

    /// Returns once the reader has read the archive; throws if it failed doing so.
    void waitUntilArchiveRead();

    /// Returns once the reader has read everything; throws the error it met, if any.
    void waitUntilDone();

    /// The archive's metadata record as the reader sent it (see reader::kMetadata); nullopt when the
    /// archive has none. Known once waitUntilArchiveRead has returned.
    const std::optional<std::string>& metadata() const { return metadata_; }

private:
    bool pump();
    void parseReport();
    [[noreturn]] void throwFailure() const;

    reader::ReadRequest request_;
    std::unique_ptr<ReaderProcess> process_;
    bool timedOut_ = false;
    std::string report_;
    std::size_t parsed_ = 0; ///< bytes of report_ taken off as messages
    bool requestReceived_ = false;
    bool archiveRead_ = false;
    bool readAll_ = false;
    std::optional<std::string> metadata_;
    std::chrono::steady_clock::time_point deadline_;
};

} // namespace featscope::sandbox
