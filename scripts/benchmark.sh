#!/usr/bin/env bash
# Benchmarks featscope against torchvision on this machine and writes BENCHMARKS.md and bench/results.json.
#
#   scripts/benchmark.sh                      # everything: about 30-60 minutes on 2 cores
#   scripts/benchmark.sh --figures names,create --models resnet50
#   scripts/benchmark.sh --help               # the driver's options (bench/benchmark.py)
#
# Builds the benchmark executables in build-bench/ (Release), then runs bench/benchmark.py with
# Debian's Python (/usr/bin/python3, which has torch and torchvision). Needs scripts/setup.sh's packages.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ " $* " != *" --help "* && " $* " != *" -h "* && " $* " != *" --report-only "* ]]; then
  cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build-bench --parallel "$(nproc)" \
    --target featscope-bench featscope-bench-gui featscope-bench-bare-load featscope featscope-engine featscope-cli
fi
exec /usr/bin/python3 bench/benchmark.py --bin-dir build-bench/bin --work-dir build-bench/bench-work "$@"
