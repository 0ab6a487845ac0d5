#!/usr/bin/env bash
# A timeline (tools/cupti_trace.c: CUPTI's activity records, what Nsight Systems would show; the accelerator's
# image has no nsys) of Wan 14B 720p forwards with FP8 weights and attention, SVG 0.25 and dense, each at the
# given layer count after one warm-up forward, and of `bench attention` at that shape (run "attention": SVG 0.25
# in FP8, isolated), read by tools/timeline.py: busy and idle time of the timed forward, its kernels by total
# time and per layer, its longest idle gaps ($R/timeline_<run>.json). nvidia-smi samples the SM clock, power
# and temperature every 100 ms meanwhile ($R/smi_<run>.csv; a summary is printed).
# Usage on the accelerator: OUT=/tmp/o [LAYERS=8] [RUNS="svg dense attention"] bash tools/run_trace_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh
LAYERS=${LAYERS:-8}
build_gpu vidsparse_cli cupti_trace || { grep -E "error" "$R/build.log" | head -20; pack; exit 1; }
for run in ${RUNS:-svg dense attention}; do
  note "trace: $run, FP8"
  if [ "$run" = attention ]; then
    set -- bench attention --shape wan14b-720p --density 0.25 --attention-precision fp8 --warmup 1 --repeats 1
    window=()
  else
    set -- bench dit --config wan14b --resolution 720p --attention "$run" --density 0.25 --precision fp8 \
      --attention-precision fp8 --layers "$LAYERS" --warmup 1 --repeats 1
    window=(--between patchify unpatchify --per "$LAYERS")
  fi
  nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,power.limit,temperature.gpu,clocks_throttle_reasons.active \
    --format=csv,noheader -lms 100 >"$R/smi_$run.csv" 2>/dev/null &
  smi=$!
  CUDA_INJECTION64_PATH=$PWD/build-gpu/libcupti_trace.so VS_CUPTI_TRACE="$R/trace_$run.tsv" \
    timeout 300 build-gpu/vidsparse "$@" -o "$R/$run.json" >"$R/$run.log" 2>&1
  echo "exit $?"; tail -n 3 "$R/$run.log"
  kill "$smi" 2>/dev/null
  python3 - "$R/smi_$run.csv" <<'PY'
import sys
rows = [[x.strip() for x in l.split(",")] for l in open(sys.argv[1]) if l.count(",") >= 5]
busy = [r for r in rows if float(r[2].split()[0]) > 300]  # samples under load (over 300 W)
if busy:
    clocks = sorted(int(r[1].split()[0]) for r in busy)
    power = sorted(float(r[2].split()[0]) for r in busy)
    print(f"nvidia-smi under load: {len(busy)} samples, SM clock {clocks[0]}-{clocks[-1]} MHz "
          f"(median {clocks[len(clocks) // 2]}), power median {power[len(power) // 2]:.0f} W of {busy[0][3]}, "
          f"temperature up to {max(int(r[4]) for r in busy)} C, throttle reasons seen: "
          f"{sorted(set(r[5] for r in busy))}")
PY
  python3 tools/timeline.py "$R/trace_$run.tsv" --every 8 >"$R/segments_$run.txt"
  python3 tools/timeline.py "$R/trace_$run.tsv" "${window[@]}" --json "$R/timeline_$run.json" --top 40 |
    tee "$R/timeline_$run.txt" | head -n 50
  gzip -f "$R/trace_$run.tsv"
  pack
done
