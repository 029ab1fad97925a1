#include <featscope/ProcessLimits.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <sys/resource.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define FEATSCOPE_ADDRESS_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FEATSCOPE_ADDRESS_SANITIZER 1
#endif
#endif

namespace featscope {

bool addressSpaceCapsSupported()
{
#ifdef FEATSCOPE_ADDRESS_SANITIZER
    return false;
#else
    return true;
#endif
}

std::size_t currentAddressSpace()
{
    std::ifstream statm("/proc/self/statm");
    std::size_t pages = 0;
    statm >> pages;
    return pages * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

ScopedAddressSpaceCap::ScopedAddressSpaceCap(std::size_t extraBytes) : extraBytes_(extraBytes)
{
    rlimit limit{};
    if (!addressSpaceCapsSupported() || extraBytes == 0 || ::getrlimit(RLIMIT_AS, &limit) != 0)
        return;
    previousSoftLimit_ = limit.rlim_cur;
    const unsigned long long wanted = currentAddressSpace() + extraBytes;
    limit.rlim_cur = std::min<unsigned long long>({wanted, limit.rlim_max, limit.rlim_cur});
    applied_ = ::setrlimit(RLIMIT_AS, &limit) == 0;
}

ScopedAddressSpaceCap::~ScopedAddressSpaceCap()
{
    rlimit limit{};
    if (!applied_ || ::getrlimit(RLIMIT_AS, &limit) != 0)
        return;
    limit.rlim_cur = previousSoftLimit_;
    ::setrlimit(RLIMIT_AS, &limit);
}

void capAddressSpace(std::size_t bytes)
{
    rlimit limit{};
    if (!addressSpaceCapsSupported() || ::getrlimit(RLIMIT_AS, &limit) != 0)
        return;
    // An inherited hard limit below `bytes` cannot be raised: keep it.
    limit.rlim_cur = limit.rlim_max = std::min<unsigned long long>(bytes, limit.rlim_max);
    ::setrlimit(RLIMIT_AS, &limit);
}

long long limitFromEnvironment(const char* name, long long fallback)
{
    const char* value = std::getenv(name);
    if (!value || !*value)
        return fallback;
    char* end = nullptr;
    const long long parsed = std::strtoll(value, &end, 10);
    return *end == '\0' && parsed >= 0 ? parsed : fallback;
}

bool isOutOfMemoryMessage(const char* message)
{
    return std::strstr(message, "can't allocate memory") || std::strstr(message, "bad_alloc")
        || std::strstr(message, "Cannot allocate memory");
}

} // namespace featscope
