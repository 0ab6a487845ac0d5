#!/usr/bin/env bash
# One accelerator call for the NCCL path (docs/multi-gpu.md) on a one-GPU
# machine: build + every GPU test, the NCCL test's own report, `generate
# --gpus 1` against the plain run (the files must be equal), and the 1-rank
# overhead of `bench dit` at Wan 1.3B 480p (two rounds, to see the noise) and
# 14B 720p SVG. Logs and results go to $OUT/nccl_gpu.tgz (default ./gpu_out).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_out}
work=${WORK:-$(mktemp -d)}
mkdir -p "$OUT" "$work/r1" "$work/r2" "$work/r14b"
step() { # name, seconds, command...
  local name=$1 secs=$2; shift 2
  echo "== $name"
  timeout "$secs" "$@" >"$work/$name.log" 2>&1
  local rc=$?
  tail -n "${TAIL:-12}" "$work/$name.log"
  echo "== $name: exit $rc"
}
step gpu_tests 230 bash tests/gpu/run.sh
bin=build-gpu/vidsparse
[ -x "$bin" ] || { echo "no $bin: stopping"; tar czf "$OUT/nccl_gpu.tgz" -C "$work" .; exit 1; }
TAIL=30 step test_wan_nccl 60 build-gpu/test_wan_nccl
step generate_plain 30 "$bin" generate -o "$work/plain.y4m"
step generate_gpus1 30 "$bin" generate --gpus 1 -o "$work/gpus1.y4m"
cmp "$work/plain.y4m" "$work/gpus1.y4m" && echo "generate --gpus 1: the same video as the plain run"
step gpus2_on_one 30 "$bin" bench dit --gpus 2 --layers 1
for r in r1 r2; do
  TAIL=8 step "overhead_$r" 80 env CONFIG=wan1.3b RESOLUTION=480p GPUS=1 REPEATS=10 OUT="$work/$r" BIN="$bin" \
    bash bench/run_multi_gpu.sh
done
TAIL=6 step overhead_14b 85 env CONFIG=wan14b RESOLUTION=720p GPUS=1 REPEATS=2 ATTENTIONS=svg OUT="$work/r14b" \
  BIN="$bin" bash bench/run_multi_gpu.sh
rm -f "$work"/*.y4m
tar czf "$OUT/nccl_gpu.tgz" -C "$work" .
ls -l "$OUT"
