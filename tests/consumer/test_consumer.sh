#!/usr/bin/env bash
# Builds tests/consumer/project, a program outside featscope's tree, against an installed featscope SDK
# (find_package(featscope) -> featscope::core) and runs it on the bundled model.
# Usage: test_consumer.sh WORK_DIR MODEL.pt [BUILD_DIR]
#   with BUILD_DIR: `cmake --install BUILD_DIR` into WORK_DIR/prefix first and build against that prefix;
#     the consumer is installed there too and run from prefix/bin, as an installed program finds
#     featscope-reader (prefix/libexec/featscope).
#   without: build against the system's SDK (the featscope-dev package) and run from the build folder
#     (core then finds the reader in /usr/libexec/featscope).
set -euo pipefail
work=$1 model=$2 featscope_build=${3:-}
project="$(cd "$(dirname "$0")" && pwd)/project"
unset FEATSCOPE_READER  # the consumer must find the installed reader by itself
fail() { echo "FAIL: $*" >&2; exit 1; }

rm -rf "$work" && mkdir -p "$work"
configure=(-S "$project" -B "$work/build" -DCMAKE_BUILD_TYPE=Release)
command -v ninja >/dev/null && configure+=(-G Ninja)
if [ -n "$featscope_build" ]; then
  cmake --install "$featscope_build" --prefix "$work/prefix" --strip >"$work/install.log" 2>&1 \
    || { cat "$work/install.log"; fail "cmake --install of featscope"; }
  configure+=(-DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_INSTALL_PREFIX="$work/prefix")
fi
cmake "${configure[@]}" >"$work/configure.log" 2>&1 || { cat "$work/configure.log"; fail "configuring the consumer"; }
grep -q "featscope_DIR:PATH=${featscope_build:+$work/prefix}" "$work/build/CMakeCache.txt" \
  || fail "find_package(featscope) found $(grep featscope_DIR "$work/build/CMakeCache.txt"), not the SDK under test"
cmake --build "$work/build" >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "building the consumer"; }
program="$work/build/featscope_consumer"
if [ -n "$featscope_build" ]; then
  cmake --install "$work/build" >/dev/null || fail "installing the consumer"
  program="$work/prefix/bin/featscope_consumer"
fi
"$program" "$model" >"$work/run.log" 2>&1 || { cat "$work/run.log"; fail "the consumer failed"; }
cat "$work/run.log"
grep -qx "has features.block3.pool: yes" "$work/run.log" || fail "node names"
grep -qx "block3: \[1, 128, 3, 3\]" "$work/run.log" || fail "extractor output"
echo "the consumer built against $(grep featscope_DIR: "$work/build/CMakeCache.txt" | cut -d= -f2) and ran"
