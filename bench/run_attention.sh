#!/usr/bin/env bash
# One accelerator call's worth of attention measurements (see bench/README.md):
# our CLI benchmark on the reference shapes with each sparse backend (the band
# rows through cuDNN, the default, and every row on our flash kernel:
# VS_SPARSE_ATTN=ours; dense attention is cuDNN's in both), then the
# side-by-side PyTorch comparison. Results go to ${OUT:-bench/results}.
# Expects a CUDA build in build-gpu (tests/gpu/run.sh makes one).
# SHAPES (comma-separated) and TORCH_FLAGS (e.g. --skip-flex) narrow the run.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-bench/results}
bin=build-gpu/vidsparse
shapes=${SHAPES:-wan1.3b-480p,wan14b-720p,hunyuan-720p}
for shape in ${shapes//,/ }; do
  VS_SPARSE_ATTN=cudnn "$bin" bench attention --shape "$shape" --density 0.15 --repeats 10 \
    -o "$out/bench_attention_$shape.json"
  VS_SPARSE_ATTN=ours "$bin" bench attention --shape "$shape" --density 0.15 --repeats 10 \
    -o "$out/bench_attention_${shape}_sparse_ours.json"
done
PYTHONUNBUFFERED=1 python3 bench/attention_vs_torch.py --lib build-gpu/libvidsparse_bench.so \
  --shapes "$shapes" --density 0.15 ${TORCH_FLAGS:-} --out "$out/attention_vs_torch.json"
