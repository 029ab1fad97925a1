#pragma once

// Ctrl-C and SIGTERM during `features`: finish the current batch, keep it, then stop.

#include <csignal>

namespace featscope::cli {

/// While alive, Ctrl-C / SIGTERM set interruptRequested() instead of killing the process; a second
/// one kills at once (the handler resets itself). The destructor restores the previous handlers.
class InterruptGuard {
public:
    InterruptGuard();
    ~InterruptGuard();
    InterruptGuard(const InterruptGuard&) = delete;
    InterruptGuard& operator=(const InterruptGuard&) = delete;

private:
    struct sigaction oldInt_ {};
    struct sigaction oldTerm_ {};
};

/// True once Ctrl-C or SIGTERM arrived under the current InterruptGuard.
bool interruptRequested();

} // namespace featscope::cli
