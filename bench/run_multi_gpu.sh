#!/usr/bin/env bash
# Scaling of one Wan DiT forward over GPUs (issue #8), sequence-parallel through
# NCCL, one process per GPU: `vidsparse bench dit --gpus N` for each N in $GPUS
# (those above the GPUs present are skipped), dense and SVG, next to the plain
# one-GPU run without NCCL. Default: Wan 2.1 14B at 720p, 81 frames (75600
# tokens), 1, 2, 4 and 8 GPUs. Writes
#   $OUT/multi_gpu_<config>_<res>_<attention>_plain.json   one GPU, no NCCL
#   $OUT/multi_gpu_<config>_<res>_<attention>_<N>gpu.json  N GPUs through NCCL
# and prints the table (forward ms, speed-up over plain, efficiency).
# Usage: bash bench/run_multi_gpu.sh            (expects build-gpu from tests/gpu/run.sh)
#        CONFIG=wan1.3b RESOLUTION=480p GPUS=1 bash bench/run_multi_gpu.sh   (the 1-rank overhead)
#        (also REPEATS, default 3; ATTENTIONS, default "dense svg"; OUT; BIN)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-bench/results}
bin=${BIN:-build-gpu/vidsparse}
config=${CONFIG:-wan14b}
res=${RESOLUTION:-720p}
gpu_counts=${GPUS:-1 2 4 8}
repeats=${REPEATS:-3}
attentions=${ATTENTIONS:-dense svg}
present=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
mkdir -p "$out"
echo "$present GPU(s) present; $config $res, GPUs: $gpu_counts"
for attention in $attentions; do
  base="$out/multi_gpu_${config}_${res}_${attention}"
  "$bin" bench dit --config "$config" --resolution "$res" --attention "$attention" --repeats "$repeats" \
    -o "${base}_plain.json" || echo "plain $attention run failed"
  for n in $gpu_counts; do
    if [ "$n" -gt "$present" ]; then echo "skipping $n GPUs: $present present"; continue; fi
    "$bin" bench dit --config "$config" --resolution "$res" --attention "$attention" --repeats "$repeats" \
      --gpus "$n" -o "${base}_${n}gpu.json" || echo "$n-GPU $attention run failed"
  done
done
python3 - "$out" "$config" "$res" <<'PY'
import glob, json, os, re, sys
out, config, res = sys.argv[1:4]
print(f"\n{config} {res}: one forward (median ms)")
print(f"{'attention':<10}{'run':<14}{'ms':>10}{'speed-up':>10}{'per GPU':>9}")
for attention in ("dense", "svg"):
    base = os.path.join(out, f"multi_gpu_{config}_{res}_{attention}_")
    def load(path):
        with open(path) as f:
            return json.load(f)["results"][0]["median_ms"]
    plain = load(base + "plain.json") if os.path.exists(base + "plain.json") else None
    if plain:
        print(f"{attention:<10}{'1 GPU plain':<14}{plain:>10.1f}{1.0:>10.2f}{1.0:>9.2f}")
    runs = sorted(glob.glob(base + "*gpu.json"), key=lambda p: int(re.search(r"_(\d+)gpu\.json$", p).group(1)))
    for path in runs:
        n = int(re.search(r"_(\d+)gpu\.json$", path).group(1))
        ms = load(path)
        up = plain / ms if plain else float("nan")
        print(f"{attention:<10}{f'{n} GPU NCCL':<14}{ms:>10.1f}{up:>10.2f}{up / n:>9.2f}")
PY
