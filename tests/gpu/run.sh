#!/usr/bin/env bash
# Builds vidsparse with CUDA and runs every GPU test (ctest label "gpu") plus
# the CPU tests of that build. Meant for the accelerator machine (Ubuntu 24.04,
# CUDA 13, no FFmpeg headers needed). Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
JOBS=${JOBS:-$(nproc)}
BUILD=${BUILD:-build-gpu}
# The accelerator image keeps cmake and ninja in its PyTorch virtual environment.
for d in /opt/torch/.venv/bin; do [ -d "$d" ] && PATH="$PATH:$d"; done
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if ! cmake -S . -B "$BUILD" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DVS_CUDA=ON >"$BUILD.configure.log" 2>&1; then
  cat "$BUILD.configure.log"; echo "0 passed, 1 failed"; exit 1
fi
grep -A9 "vidsparse features" "$BUILD.configure.log"
if ! cmake --build "$BUILD" -j "$JOBS" >"$BUILD.build.log" 2>&1; then
  grep -E "error|Error" "$BUILD.build.log" | head -40; echo "0 passed, 1 failed"; exit 1
fi
passed=0
failed=0
source tests/ctest_counts.sh
run_ctest "$BUILD" -j 1
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
