#!/usr/bin/env bash
# Builds featscope's libFuzzer targets (fuzz/) with clang and runs each for a while. See docs/fuzzing.md.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
all_targets=(fuzz_return_node_spec fuzz_engine_protocol fuzz_image_preprocessing
             fuzz_npy_header fuzz_features_join fuzz_model_load fuzz_frame_decoder)

usage() {
  cat <<EOF
Usage: scripts/fuzz.sh [--minutes N] [--targets a,b,...] [--build-dir DIR] [--results DIR]
                       [--build-only] [--no-build] [--no-run] [--merge]

Builds the libFuzzer targets of fuzz/ with clang-14 (installing clang-14 and libclang-rt-14-dev with
apt-get when they are missing) and runs them all at once, each for N minutes, at nice 19.

  --minutes N      how long each target runs (default 30)
  --targets LIST   comma-separated subset of: ${all_targets[*]}
  --build-dir DIR  build folder (default: build-fuzz in the repository); two CMake trees go in it:
                   DIR/asan (AddressSanitizer + UBSan, every target but fuzz_model_load) and DIR/ubsan
                   (UBSan only, for fuzz_model_load: the model reader's sandbox sets RLIMIT_AS, which ASan
                   cannot run under)
  --results DIR    where crashes, timeouts and OOM inputs go (default: DIR/results/<target>/)
  --build-only     configure and build, do not run
  --no-build       run what is already built
  --no-run         do not run (e.g. --no-build --no-run --merge after a run)
  --merge          after the runs, minimise each grown corpus back into fuzz/corpus/<target>/ (-merge=1)

Each target starts from fuzz/corpus/<target>/ (committed seeds) plus what earlier runs found in
DIR/corpus/<target>/, uses fuzz/dict/ where it has a dictionary, and restarts libFuzzer on the grown corpus
after each finding (crash, timeout, OOM), so one finding does not end the run.
Logs: DIR/fuzz-logs/<target>.log; wall and CPU seconds: DIR/fuzz-logs/<target>.{wall,cpu}. A summary table
(minutes, CPU seconds, executions, coverage, corpus sizes, findings) is printed at the end and written to
DIR/fuzz-logs/summary.md.
EOF
}

minutes=30
targets=("${all_targets[@]}")
build_dir="$repo/build-fuzz"
results=""
build=1
run=1
merge=0
while (($#)); do
  case "$1" in
    --minutes) minutes="$2"; shift 2 ;;
    --targets) IFS=, read -r -a targets <<<"$2"; shift 2 ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    --results) results="$2"; shift 2 ;;
    --build-only) run=0; shift ;;
    --no-build) build=0; shift ;;
    --no-run) run=0; shift ;;
    --merge) merge=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "scripts/fuzz.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "scripts/fuzz.sh: unknown target '$t'" >&2; exit 2; }
done
build_dir=$(mkdir -p "$build_dir" && cd "$build_dir" && pwd)
results=${results:-$build_dir/results}
logs="$build_dir/fuzz-logs"

# Per target: CMake tree, -max_len, -timeout (s), dictionary. Sizes: specs up to past the 4096-character
# limit; .npy and join inputs past a 65,535-byte header; images and archives up to 64 KiB.
declare -A tree=([fuzz_model_load]=ubsan)
declare -A max_len=([fuzz_return_node_spec]=10000 [fuzz_engine_protocol]=4096 [fuzz_image_preprocessing]=65536
                    [fuzz_npy_header]=70000 [fuzz_features_join]=70000
                    [fuzz_model_load]=65536 [fuzz_frame_decoder]=8192)
declare -A timeout=([fuzz_model_load]=60)
# libFuzzer's RSS limit runs a watcher thread; without it fuzz_model_load stays single-threaded, so its model
# reader is a fork (milliseconds) instead of a new featscope-reader (LibTorch's start-up: measured 18 vs 1
# inputs/s). Its memory stays bounded by the engine's load cap (FEATSCOPE_LOAD_MEMORY_MB=1024 in the harness).
declare -A rss_limit=([fuzz_model_load]=0)
declare -A dict=([fuzz_return_node_spec]=return_node_spec [fuzz_engine_protocol]=engine_protocol
                 [fuzz_image_preprocessing]=preprocessing
                 [fuzz_npy_header]=npy [fuzz_features_join]=npy [fuzz_model_load]=torchscript
                 [fuzz_frame_decoder]=frame)
binary() { echo "$build_dir/${tree[$1]:-asan}/bin/$1"; }

install_clang() {
  local missing=()
  for p in clang-14 libclang-rt-14-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

build_targets() {
  "$repo/scripts/setup.sh"
  install_clang
  local asan_targets=() ubsan_targets=()
  for t in "${targets[@]}"; do
    if [ "${tree[$t]:-asan}" = ubsan ]; then ubsan_targets+=("$t"); else asan_targets+=("$t"); fi
  done
  local name sanitize list
  for name in asan ubsan; do
    if [ $name = asan ]; then sanitize=address,undefined; list=("${asan_targets[@]}"); else sanitize=undefined; list=("${ubsan_targets[@]}"); fi
    ((${#list[@]})) || continue
    CC=clang-14 CXX=clang++-14 cmake -S "$repo" -B "$build_dir/$name" -G Ninja \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFEATSCOPE_FUZZ=ON -DFEATSCOPE_SANITIZE=$sanitize >/dev/null
    nice -n 5 cmake --build "$build_dir/$name" --target "${list[@]}"
  done
}

# Sanitizer reports must stop the input so libFuzzer saves it; the model reader's child exits on its own.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=0:allocator_may_return_null=1:handle_abort=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}

# One libFuzzer process per target. A finding (crash, timeout, OOM) ends a libFuzzer process, so the target
# is restarted on its grown corpus until its time is used up; libFuzzer's -fork mode would do the same but
# restarts its worker every few seconds, and these targets take seconds to start (LibTorch, Qt, a model).
run_target() {
  local t=$1 corpus="$build_dir/corpus/$1"
  mkdir -p "$corpus" "$results/$t" "$logs"
  cp -n "$repo/fuzz/corpus/$t/"* "$corpus/" 2>/dev/null || true
  echo "$(ls "$corpus" | wc -l) $(du -sk "$corpus" | cut -f1)" >"$logs/$t.corpus-before"
  local flags=(-print_final_stats=1 -rss_limit_mb="${rss_limit[$t]:-2048}" -timeout="${timeout[$t]:-25}" -max_len="${max_len[$t]}"
               -artifact_prefix="$results/$t/")
  [ -z "${dict[$t]:-}" ] || flags+=(-dict="$repo/fuzz/dict/${dict[$t]}.dict")
  : >"$logs/$t.log"
  local start=$SECONDS end=$((SECONDS + minutes * 60)) runs=0
  while ((SECONDS < end)); do
    runs=$((runs + 1))
    echo "=== scripts/fuzz.sh: run $runs, $((end - SECONDS)) s left" >>"$logs/$t.log"
    (cd "$results/$t" && nice -n 19 "$(binary "$t")" "${flags[@]}" -max_total_time=$((end - SECONDS)) "$corpus" \
       >>"$logs/$t.log" 2>&1) || true
  done
  echo "$((SECONDS - start)) $runs" >"$logs/$t.wall"
  echo "$(ls "$corpus" | wc -l) $(du -sk "$corpus" | cut -f1)" >"$logs/$t.corpus-after"
}

merge_corpus() {
  local t=$1 merged="$build_dir/merged/$1"
  rm -rf "$merged" && mkdir -p "$merged"
  nice -n 19 "$(binary "$t")" -merge=1 -rss_limit_mb="${rss_limit[$t]:-2048}" -timeout="${timeout[$t]:-25}" -max_len="${max_len[$t]}" \
    "$merged" "$repo/fuzz/corpus/$t" "$build_dir/corpus/$t" >"$logs/$t.merge.log" 2>&1
  rm -rf "$repo/fuzz/corpus/$t" && cp -r "$merged" "$repo/fuzz/corpus/$t"
  echo "$t: fuzz/corpus/$t now has $(ls "$merged" | wc -l) files, $(du -sh "$merged" | cut -f1)"
}

summary() {
  echo "| target | wall min | CPU s | libFuzzer runs | execs | cov | ft | corpus files/KiB before → after | crashes | timeouts | OOMs |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  local t
  for t in "${targets[@]}"; do
    [ -f "$logs/$t.log" ] || continue
    local execs cov ft wall runs cpu
    execs=$(grep -a 'stat::number_of_executed_units' "$logs/$t.log" | awk '{s += $2} END {print s + 0}')
    cov=$(grep -aoE ' cov: [0-9]+' "$logs/$t.log" | awk '{print $2}' | sort -n | tail -1)
    ft=$(grep -aoE ' ft: [0-9]+' "$logs/$t.log" | awk '{print $2}' | sort -n | tail -1)
    read -r wall runs <"$logs/$t.wall"
    cpu=$(cat "$logs/$t.cpu" 2>/dev/null || echo "?")
    echo "| $t | $(awk -v w="$wall" 'BEGIN {printf "%.1f", w / 60}') | $cpu | $runs | $execs | ${cov:-?} | ${ft:-?} |" \
         "$(tr ' ' / <"$logs/$t.corpus-before") → $(tr ' ' / <"$logs/$t.corpus-after") |" \
         "$(ls "$results/$t" | grep -c '^crash-' || true) | $(ls "$results/$t" | grep -c '^timeout-' || true) |" \
         "$(ls "$results/$t" | grep -c '^oom-' || true) |"
  done
}

((build)) && build_targets
if ((run)); then
  for t in "${targets[@]}"; do
    [ -x "$(binary "$t")" ] || { echo "scripts/fuzz.sh: $(binary "$t") is not built (drop --no-build)" >&2; exit 1; }
  done
  echo "Running ${targets[*]} for $minutes min each; logs in $logs, findings in $results"
  for t in "${targets[@]}"; do
    # `times` in the subshell: CPU seconds of every process of the target it waited for (second line).
    (run_target "$t"; times >"$logs/$t.times") &
  done
  wait
  for t in "${targets[@]}"; do
    sed -n 2p "$logs/$t.times" | awk '{n = split($1 " " $2, f, " "); s = 0
      for (i = 1; i <= n; i++) { split(f[i], p, "m"); s += p[1] * 60 + p[2] } printf "%.0f\n", s}' >"$logs/$t.cpu"
  done
  summary | tee "$logs/summary.md"
fi
if ((merge)); then
  for t in "${targets[@]}"; do merge_corpus "$t"; done
fi
