#pragma once

#include <cstddef>

// The conversation between loadModule (the parent) and the reader process it starts, featscope-reader
// (core/src/ModuleReader.cpp). The parent writes one request to the reader's stdin:
//     "<memory bytes> <seconds> <path length>\n<path>"
// and reads the reader's report from its stdout: kRequestReceived once the request is in (the time cap
// starts then, not while LibTorch starts up), kArchiveRead once torch::jit::load has returned (the parent
// may start its own load), kReadAll once every part (debug information included) was read, and on failure
// one of kError, kTorchError or kOutOfMemory followed by the message. The parent goes on at kReadAll without
// waiting for the reader to exit. An idle reader whose stdin closes exits 0 without a report.
namespace featscope::reader {

inline constexpr char kRequestReceived = 'R';
inline constexpr char kArchiveRead = 'L';
inline constexpr char kReadAll = 'D';
inline constexpr char kError = 'E';
inline constexpr char kTorchError = 'T';
inline constexpr char kOutOfMemory = 'M';

/// The executable's name, looked for beside the running executable and on PATH.
inline constexpr const char* kExecutableName = "featscope-reader";
/// Environment variable that names the executable explicitly.
inline constexpr const char* kExecutableVariable = "FEATSCOPE_READER";

/// Longest path a request may carry.
inline constexpr std::size_t kMaxPathLength = 1 << 16;

} // namespace featscope::reader
