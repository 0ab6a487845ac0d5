#!/usr/bin/env bash
# One accelerator call's worth of attention measurements (see bench/README.md):
# our CLI benchmark on the reference shapes, then the side-by-side PyTorch
# comparison. Results go to ${OUT:-bench/results}. Expects a CUDA build in
# build-gpu (tests/gpu/run.sh makes one).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-bench/results}
bin=build-gpu/vidsparse
for shape in wan1.3b-480p wan14b-720p hunyuan-720p; do
  "$bin" bench attention --shape "$shape" --density 0.15 --repeats 10 -o "$out/bench_attention_$shape.json"
done
PYTHONUNBUFFERED=1 python3 bench/attention_vs_torch.py --lib build-gpu/libvidsparse.so \
  --shapes "${SHAPES:-wan1.3b-480p,wan14b-720p,hunyuan-720p}" --density 0.15 --out "$out/attention_vs_torch.json"
