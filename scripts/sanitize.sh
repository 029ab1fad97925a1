#!/usr/bin/env bash
# Builds featscope with AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/) and runs the whole
# test suite under CTest against those binaries. Not part of CI (the build alone takes ~30 minutes on 2
# cores); run it before a release and after changes to parsers, loaders or the engine.
#   scripts/sanitize.sh [ctest arguments, e.g. -R reliability]
# LibTorch, Qt and Python come from Debian uninstrumented: errors are found in featscope's own code.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--help" || "${1:-}" == "-h" ]]; then
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
scripts/setup.sh
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFEATSCOPE_SANITIZE=address,undefined
cmake --build build-asan --parallel "$(nproc)"
cd build-asan
# RLIMIT_AS caps are off under ASan (it reserves terabytes of shadow memory), so hostile allocations
# are stopped by ASan's allocator instead: anything over 3 GB fails as it would under the cap.
# Leak checking is off: LibTorch's and Qt's process-lifetime allocations would drown our own.
# abort_on_error: a report ends the process by SIGABRT, so a reader process that ASan stops on a hostile
# file (LibTorch freeing a bad pointer) is reported as crashed, as it is without ASan.
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:max_allocation_size_mb=3072:halt_on_error=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
QT_QPA_PLATFORM=offscreen ctest --output-on-failure --timeout 3600 "$@"
