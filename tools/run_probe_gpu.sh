#!/usr/bin/env bash
# Where CogVideoX 1.5's SVG forward spends its attention time (issue 18): the DiT's attention takes about 25 ms a
# layer at SVG 0.25 against 21.5 ms for `bench attention` at the same shape. Nsight Compute's per-kernel GPU time
# (no hardware counters beyond the duration, clocks left alone) of a 2-layer SVG forward, summed per kernel name.
# Usage on the accelerator: OUT=/tmp/o [BUDGET_S=90] bash tools/run_probe_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh
BUDGET_S=${BUDGET_S:-90}
build_gpu vidsparse_cli || { grep -E "error" "$R/build.log" | head -20; pack; exit 1; }
ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -n 1)
note "ncu: $ncu"
timeout "$((BUDGET_S - 10))" "$ncu" --clock-control none --metrics gpu__time_duration.sum --csv \
  build-gpu/vidsparse bench dit --config cogvideox1.5-5b --resolution 768x1360 --frames 81 --text-len 226 \
  --attention svg --density 0.25 --layers 2 --warmup 1 --repeats 1 >"$R/ncu.csv" 2>"$R/ncu.err"
echo "exit $?"; tail -n 3 "$R/ncu.err"
python3 - "$R/ncu.csv" <<'PY'
import csv, collections, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
if not rows: sys.exit("no kernel rows")
head = rows[0]; name_i = head.index("Kernel Name"); val_i = head.index("Metric Value"); unit_i = head.index("Metric Unit")
total = collections.Counter(); count = collections.Counter()
for r in rows[1:]:
    scale = {"nsecond": 1e-6, "usecond": 1e-3, "msecond": 1.0, "second": 1e3}.get(r[unit_i], 1e-6)
    v = float(r[val_i].replace(",", "")) * scale
    total[r[name_i][:90]] += v; count[r[name_i][:90]] += 1
print("kernel time (ms) over the run (warm-up and timed forward):")
for k, v in total.most_common(30): print(f"{v:9.2f} {count[k]:5d}  {k}")
print(f"{sum(total.values()):9.2f} total")
PY
pack
