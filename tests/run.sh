#!/usr/bin/env bash
# The whole CPU test suite, as `make test` and CI run it:
#   1. the Release build (CUDA code compiled when nvcc is present), its CPU tests and the Python package's
#      tests (pytest, tests/python)
#   2. the same C tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   3. the libFuzzer targets, each for FUZZ_SECONDS on its seed corpus
# Ends with one line: "N passed, N failed" (N counts test programs, pytest tests and fuzz runs).
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

# The Python package (tests/python, pytest) under the interpreter CMake built the Release build's module
# for: against that module, and when the interpreter has scikit-build-core also through `pip install
# ./python`. Each pytest test counts.
run_pytest() { # what, command...
  local what=$1 log ok bad
  shift
  echo "== pytest: $what"
  log=$("$@" 2>&1)
  echo "$log" | tail -n 40
  ok=$(echo "$log" | tail -1 | grep -oE '[0-9]+ passed' | cut -d' ' -f1)
  bad=$(echo "$log" | tail -1 | grep -oE '[0-9]+ (failed|error)' | awk '{n += $1} END {print n + 0}')
  if [ -z "$ok" ] && [ "$bad" -eq 0 ]; then bad=1; fi # pytest never ran (not installed, a failed build)
  passed=$((passed + ${ok:-0}))
  failed=$((failed + bad))
}
python_tests() {
  local dir=$1 py
  py=$(cat "$dir/python/interpreter" 2>/dev/null)
  if [ -z "$py" ] || ! ls "$dir"/python/vidsparse/_native*.so >/dev/null 2>&1; then
    echo "FAILED: no Python module in $dir (python3-dev missing? see tools/install_deps.sh)"; failed=$((failed + 1)); return
  fi
  run_pytest "the module of $dir ($py)" env PYTHONPATH="$PWD/$dir/python" "$py" -m pytest -q -p no:cacheprovider tests/python
  if "$py" -c 'import scikit_build_core' 2>/dev/null; then
    run_pytest "pip install ./python" bash tests/python/pip_install.sh "$py"
  fi
}

mkdir -p build-logs
if build build -DCMAKE_BUILD_TYPE=Release; then run_ctest build -L cpu -j "$JOBS"; python_tests build; else echo "FAILED: Release build"; failed=$((failed + 1)); fi

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
