#!/usr/bin/env bash
# One accelerator call for SVG's speed (issue #4's table): the CUDA build, then
# bench/run_attention.sh (our CLI benchmark with each sparse backend and the
# side-by-side comparison with PyTorch SDPA and FlexAttention) and
# bench/dit_vs_diffusers.py (one DiT forward, ours dense and SVG against
# diffusers). Results and logs go to $OUT/results.tgz.
# Usage on the accelerator: VS_GIT_COMMIT=$(git rev-parse --short HEAD) OUT=/tmp/o bash bench/run_svg_gpu.sh
# (SHAPES and SETTINGS narrow the two parts; diffusers' wheel travels in .whl/).
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh

note build
build_gpu vidsparse_cli vidsparse_bench || { grep -E "error" "$R/build.log" | head -20; pack; exit 1; }
note "attention (bench/run_attention.sh)"
OUT=$R SHAPES=${SHAPES:-wan1.3b-480p,wan14b-720p} timeout 260 bash bench/run_attention.sh >"$R/attention.log" 2>&1
grep -E "^(shape|svg |sparse|dense)" "$R/attention.log"; tail -n 4 "$R/attention.log"
pack
note "DiT vs diffusers"
timeout 330 python3 bench/dit_vs_diffusers.py --bin build-gpu/vidsparse --settings "${SETTINGS:-wan1.3b-480p,wan14b-720p}" \
  -o "$R/dit_vs_diffusers.json" >"$R/dit.log" 2>&1
grep -E "diffusers .* ms" "$R/dit.log"; tail -n 3 "$R/dit.log"
pack
note done
