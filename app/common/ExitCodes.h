#pragma once

// Exit statuses of featscope's programs, shared by the programs that end with them and the ones that
// read them (the GUI reads the engine's). Header only, std only: ui/ includes it without LibTorch.

namespace featscope {

/// The command did what it was asked.
constexpr int kExitSuccess = 0;
/// The command failed on its input (a message on stderr names the file and what to do).
constexpr int kExitFailure = 1;
/// The command line is malformed (unknown option, a value that is not a number, ...).
constexpr int kExitUsage = 2;
/// Stopped by Ctrl-C or SIGTERM after keeping what was finished (128 + SIGINT, as shells report it).
constexpr int kExitInterrupted = 130;
/// featscope-engine answered a request past its time cap and then ended itself (LibTorch work cannot
/// be interrupted); the GUI restarts it. docs/engine-protocol.md#limits.
constexpr int kExitEngineStoppedByTimeCap = 3;

} // namespace featscope
