#!/usr/bin/env bash
# Where CogVideoX 1.5's SVG forward spends its attention time (issue 18): the DiT's attention takes about 25 ms a
# layer at SVG 0.25 against 21.5 ms for `bench attention` at the same shape. Nsight Compute's per-kernel GPU time
# (no hardware counters beyond the duration, clocks left alone) of a 2-layer SVG forward and of `bench attention`
# at the same shape, summed per kernel name.
# Usage on the accelerator: OUT=/tmp/o [BUDGET_S=90] bash tools/run_probe_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh
BUDGET_S=${BUDGET_S:-90}
build_gpu vidsparse_cli || { grep -E "error" "$R/build.log" | head -20; pack; exit 1; }
ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -n 1)
note "ncu: $ncu"
# The forward first, then `bench attention` at the same shape (the isolated number), each summed per kernel.
timeout "$((BUDGET_S / 2))" "$ncu" --clock-control none --metrics gpu__time_duration.sum --csv \
  build-gpu/vidsparse bench dit --config cogvideox1.5-5b --resolution 768x1360 --frames 81 --text-len 226 \
  --attention svg --density 0.25 --layers 2 --warmup 1 --repeats 1 >"$R/ncu_dit.csv" 2>"$R/ncu_dit.err"
echo "exit $?"; tail -n 3 "$R/ncu_dit.err"
timeout "$((BUDGET_S / 2 - 10))" "$ncu" --clock-control none --metrics gpu__time_duration.sum --csv \
  build-gpu/vidsparse bench attention --shape cogvideox1.5-768p --density 0.25 --warmup 1 --repeats 1 \
  >"$R/ncu_attention.csv" 2>"$R/ncu_attention.err"
echo "exit $?"; tail -n 3 "$R/ncu_attention.err"
for f in "$R/ncu_dit.csv" "$R/ncu_attention.csv"; do
python3 - "$f" <<'PY'
import csv, collections, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
if not rows: sys.exit("no kernel rows in " + sys.argv[1])
head = rows[0]; name_i = head.index("Kernel Name"); val_i = head.index("Metric Value"); unit_i = head.index("Metric Unit")
total = collections.Counter(); count = collections.Counter()
for r in rows[1:]:
    scale = {"nsecond": 1e-6, "usecond": 1e-3, "msecond": 1.0, "second": 1e3}.get(r[unit_i], 1e-6)
    v = float(r[val_i].replace(",", "")) * scale
    total[r[name_i][:90]] += v; count[r[name_i][:90]] += 1
print(f"{sys.argv[1]}: kernel time (ms) over the run (warm-up and timed calls):")
for k, v in total.most_common(30): print(f"{v:9.2f} {count[k]:5d}  {k}")
print(f"{sum(total.values()):9.2f} total")
PY
done
pack
