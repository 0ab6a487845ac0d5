#!/usr/bin/env bash
# The whole CPU test suite, as `make test` and CI run it:
#   1. the Release build (CUDA code compiled when nvcc is present) and its CPU tests
#   2. the same tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   3. the libFuzzer targets, each for FUZZ_SECONDS on its seed corpus
# Ends with one line: "N passed, N failed" (N counts test programs and fuzz runs).
set -uo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
passed=0
failed=0

source tests/ctest_counts.sh

build() {
  local dir=$1; shift
  echo "== configure and build $dir"
  cmake -S . -B "$dir" "$@" >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; return 1; }
  grep -A6 "vidsparse features" "$dir.configure.log" || true
  cmake --build "$dir" -j "$JOBS" 2>&1 | grep -vE '^\[ *[0-9]+%\]' || true
  [ "${PIPESTATUS[0]}" -eq 0 ]
}

mkdir -p build-logs
if build build -DCMAKE_BUILD_TYPE=Release; then run_ctest build -L cpu -j "$JOBS"; else echo "FAILED: Release build"; failed=$((failed + 1)); fi

if build build-asan -DCMAKE_BUILD_TYPE=Debug -DVS_SANITIZE=ON -DVS_CUDA=OFF; then
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 run_ctest build-asan -L cpu -j "$JOBS"
else echo "FAILED: sanitizer build"; failed=$((failed + 1)); fi

if command -v clang >/dev/null; then
  if build build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DVS_FUZZ=ON -DVS_CUDA=OFF -DVS_WERROR=OFF; then
    for fuzzer in build-fuzz/fuzz_*; do
      [ -x "$fuzzer" ] || continue
      name=$(basename "$fuzzer")
      corpus=fuzz/corpus/${name#fuzz_}
      work=$(mktemp -d)
      echo "== $name for ${FUZZ_SECONDS}s on $corpus"
      if "$fuzzer" -max_total_time="$FUZZ_SECONDS" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
           -artifact_prefix="build-fuzz/$name-" "$work" "$corpus" >"build-fuzz/$name.log" 2>&1; then
        tail -2 "build-fuzz/$name.log"; passed=$((passed + 1))
      else
        tail -40 "build-fuzz/$name.log"; echo "FAILED: $name"; failed=$((failed + 1))
      fi
      rm -rf "$work"
    done
  else echo "FAILED: fuzz build"; failed=$((failed + 1)); fi
else
  echo "clang not found: fuzz targets not run"; failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
