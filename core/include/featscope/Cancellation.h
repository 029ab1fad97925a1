#pragma once

// Stopping a running forward from another thread. LibTorch cannot interrupt a forward, but a graph can
// look at a flag between its ops: insertCancellationPoints puts such checks into a module, and a run on a
// thread that installed a flag (ScopedCancellationFlag) stops at the next check once the flag is set.

#include <featscope/Errors.h>

#include <torch/script.h>

#include <atomic>

namespace featscope {

/// A run stopped because its cancellation flag was set.
class CancelledError : public Error {
public:
    using Error::Error;
};

/// Makes `flag` the calling thread's cancellation flag while in scope (none outside: checks pass).
class ScopedCancellationFlag {
public:
    explicit ScopedCancellationFlag(const std::atomic<bool>& flag);
    ~ScopedCancellationFlag();
    ScopedCancellationFlag(const ScopedCancellationFlag&) = delete;
    ScopedCancellationFlag& operator=(const ScopedCancellationFlag&) = delete;

private:
    const std::atomic<bool>* previous_;
};

/// True when the calling thread's flag is set.
bool cancellationRequested();
/// Throws CancelledError when the calling thread's flag is set: a check for code between forwards.
void throwIfCancelled();

/// Makes `module`'s forward check the calling thread's flag before each of its ops (see
/// core/src/InsertCancellationPoints.h). Meant for a module that is run, not saved: the checks are a
/// featscope op that a saved file would need featscope to load. Call it before the module's first run.
void insertCancellationPoints(torch::jit::Module& module);

} // namespace featscope
