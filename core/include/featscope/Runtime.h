#pragma once

#include <string>

namespace featscope {

/// Cores this process may run on (its CPU affinity mask, so taskset and cgroup cpusets count), at least 1.
int availableCores();

/// Sets LibTorch's intra-op thread count for a program that runs models, and returns the count in effect.
///
/// Why: LibTorch 1.13 defaults to the number of *physical* cores it detects, which is 1 on a 2-vCPU
/// machine, and at one thread it also sends 1x1 convolutions at batch 1 down a slower path. So every
/// program that runs a model calls this once:
///   - `requested` > 0 (a --threads option): that many;
///   - else OMP_NUM_THREADS or MKL_NUM_THREADS set: LibTorch's own reading of them is kept;
///   - else availableCores().
/// Call it after the first loadModule or prepareModuleReader: sizing the pool starts threads, and a
/// process with threads can no longer fork its model reader.
int configureThreads(int requested = 0);

/// LibTorch's intra-op thread count in effect now.
int intraOpThreads();

/// The BLAS library behind LibTorch's matrix products (linear layers, attention), as loaded in this process.
struct BlasInfo {
    std::string name;      ///< "OpenBLAS 0.3.21 ...", "reference BLAS (netlib)", or the library's file name
    std::string path;      ///< the loaded file with links resolved, empty when none was found
    bool reference = false; ///< the unoptimised netlib BLAS: transformers run 10-20x slower on it
};
BlasInfo loadedBlas();

/// One line for --version and the engine's hello: "OpenBLAS 0.3.21 ... (/usr/lib/.../libblas.so.3)".
std::string describeBlas();

/// Prints a warning to stderr, once per process, when the reference BLAS is loaded, naming `program`
/// and the package that fixes it.
void warnIfReferenceBlas(const char* program);

} // namespace featscope
