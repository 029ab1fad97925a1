#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds featscope and runs the whole test suite under CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cd build
QT_QPA_PLATFORM=offscreen ctest --output-on-failure --timeout 1800 "$@"
