#!/usr/bin/env bash
# The svg2q round on the accelerator (issue 19): the branch changes the CPU reference's k-means (a GEMM
# assignment; docs/svg2.md), which tests/gpu/test_svg2_cuda uses as the reference of the CUDA kernels, so
# this builds and runs that test only (about a minute on a warm build). The SVG / SVG2 benchmarks and the
# GPU eval are tools/run_svg2_gpu.sh (the CUDA code is unchanged here).
# Usage on the accelerator: OUT=/tmp/o bash tools/run_svg2q_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh

note "build test_svg2_cuda"
build_gpu test_svg2_cuda || { grep -E "error" "$R/build.log" | head -20; pack; exit 1; }
pack

note "test_svg2_cuda (the CUDA kernels against the CPU reference)"
timeout 90 build-gpu/test_svg2_cuda >"$R/test_svg2_cuda.log" 2>&1
echo "exit $?" >>"$R/test_svg2_cuda.log"
grep -vE "^ok " "$R/test_svg2_cuda.log" | tail -n 30
grep -cE "^ok " "$R/test_svg2_cuda.log" | sed 's/$/ tests ok/'
cp "$R/test_svg2_cuda.log" "$OUT/"
pack
note done
