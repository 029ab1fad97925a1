#pragma once

#include <cstddef>

namespace featscope {

/// Whether address-space caps (RLIMIT_AS) can be used in this build. False under AddressSanitizer,
/// which reserves terabytes of shadow memory at start-up: there, set ASAN_OPTIONS
/// (allocator_may_return_null=1, max_allocation_size_mb=N) to make huge allocations fail instead.
bool addressSpaceCapsSupported();

/// Bytes of address space this process maps now (/proc/self/statm).
std::size_t currentAddressSpace();

/// Caps this process's address space at its current size plus `extraBytes` until destroyed, then
/// restores the previous soft limit. Never raises the hard limit; a no-op where caps are unsupported.
/// Allocations beyond the cap fail (std::bad_alloc, or LibTorch's "can't allocate memory").
class ScopedAddressSpaceCap {
public:
    explicit ScopedAddressSpaceCap(std::size_t extraBytes);
    ~ScopedAddressSpaceCap();
    ScopedAddressSpaceCap(const ScopedAddressSpaceCap&) = delete;
    ScopedAddressSpaceCap& operator=(const ScopedAddressSpaceCap&) = delete;

    /// The extra bytes allowed, as given.
    std::size_t extraBytes() const { return extraBytes_; }

private:
    std::size_t extraBytes_;
    bool applied_ = false;
    unsigned long long previousSoftLimit_ = 0;
};

/// Sets this process's soft and hard address-space limit to `bytes`, or to the hard limit it already
/// has if that is lower (for sandboxed reader processes).
void capAddressSpace(std::size_t bytes);

/// The non-negative whole number in environment variable `name` (e.g. FEATSCOPE_LOAD_SECONDS), or
/// `fallback` when it is unset, empty or not such a number.
long long limitFromEnvironment(const char* name, long long fallback);

/// True when `message` is an out-of-memory error from LibTorch's allocator or the C++ runtime.
bool isOutOfMemoryMessage(const char* message);

} // namespace featscope
