#include <featscope/Runtime.h>

#include <ATen/Parallel.h>

#include <dlfcn.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace featscope {
namespace {

bool environmentSetsThreads()
{
    for (const char* name : {"OMP_NUM_THREADS", "MKL_NUM_THREADS"}) {
        const char* value = std::getenv(name);
        if (value && std::atoi(value) > 0)
            return true;
    }
    return false;
}

// The library that provides the single-precision matrix product LibTorch calls (sgemm_), with links resolved.
// Asking for the symbol, not for a file name, matters: Debian's liblapack.so.3 may pull in OpenBLAS while
// libblas.so.3 is netlib's, and then both are loaded but only the first one's sgemm_ runs.
std::string blasProviderFile()
{
    Dl_info info{};
    void* sgemm = dlsym(RTLD_DEFAULT, "sgemm_");
    if (!sgemm || !dladdr(sgemm, &info) || !info.dli_fname)
        return {};
    char* resolved = realpath(info.dli_fname, nullptr);
    if (!resolved)
        return info.dli_fname;
    std::string path = resolved;
    std::free(resolved);
    return path;
}

} // namespace

int availableCores()
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 1;
    return std::max(1, CPU_COUNT(&set));
}

int configureThreads(int requested)
{
    if (requested > 0)
        at::set_num_threads(requested);
    else if (!environmentSetsThreads())
        at::set_num_threads(availableCores());
    return intraOpThreads();
}

int intraOpThreads()
{
    return at::get_num_threads();
}

BlasInfo loadedBlas()
{
    BlasInfo info;
    info.path = blasProviderFile();
    if (info.path.empty()) {
        info.name = "no BLAS library found";
        return info;
    }
    using ConfigFunction = const char* (*)();
    if (void* library = dlopen(info.path.c_str(), RTLD_LAZY | RTLD_NOLOAD)) {
        const auto openblasConfig = reinterpret_cast<ConfigFunction>(dlsym(library, "openblas_get_config"));
        const bool blis = dlsym(library, "bli_info_get_version_str") != nullptr;
        dlclose(library);
        if (openblasConfig) {
            info.name = openblasConfig();
            return info;
        }
        if (blis) {
            info.name = "BLIS";
            return info;
        }
    }
    // netlib's reference BLAS exports nothing that names it; Debian installs it under .../blas/.
    if (info.path.find("/blas/") != std::string::npos) {
        info.name = "reference BLAS (netlib)";
        info.reference = true;
    } else {
        info.name = info.path.substr(info.path.rfind('/') + 1);
    }
    return info;
}

std::string describeBlas()
{
    const BlasInfo info = loadedBlas();
    return info.path.empty() ? info.name : info.name + " (" + info.path + ")";
}

void warnIfReferenceBlas(const char* program)
{
    static std::atomic<bool> warned{false};
    if (!loadedBlas().reference || warned.exchange(true))
        return;
    std::fprintf(stderr,
                 "%s: warning: LibTorch's matrix products use the reference BLAS, which makes transformers "
                 "10-20x slower. Install OpenBLAS: apt-get install libopenblas0-openmp\n",
                 program);
}

} // namespace featscope
