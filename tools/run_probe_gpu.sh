#!/usr/bin/env bash
# Nsight Compute's per-kernel GPU time (no hardware counters beyond the duration, clocks left alone), summed per
# kernel name, of one of:
#   WHAT=cogvideox (default; issue 18): a 2-layer CogVideoX 1.5 SVG forward and `bench attention` at the same
#        shape (bench/results/cogvideox_svg_kernels_probe_h200.json reads it);
#   WHAT=svg2 (issue 19): `bench attention --svg2` at Wan 1.3B 480p and 14B 720p, budgets 0.301 and 0.295 (SVG's
#        kept fractions there): where SVG2's k-means, selection and attention time goes;
#   WHAT=fp8 (issue 20): 2-layer Wan 14B 720p forwards with FP8 weights and attention, dense and SVG 0.25, and
#        the dense one in BF16: where an FP8 forward's time goes beside the attention (GEMMs, quantisation,
#        epilogues, norms); FP8_WITH_BF16=1 adds the dense BF16 forward.
#   WHAT=engines (issue 20): `bench attention` at Wan 14B 720p, SVG 0.25, BF16 and FP8, once per engine config
#        cuDNN's heuristics offer (VS_CUDNN_ENGINE_CONFIG=i; the log names the engine taken): is the first-ranked
#        config the fastest?
# Usage on the accelerator: OUT=/tmp/o [WHAT=cogvideox|svg2|fp8] [BUDGET_S=90] bash tools/run_probe_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh
BUDGET_S=${BUDGET_S:-90}
build_gpu vidsparse_cli || { grep -E "error" "$R/build.log" | head -20; pack; exit 1; }
ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -n 1)
note "ncu: $ncu"
ncu_run() { # NAME SECONDS COMMAND...: the command under ncu into $R/ncu_NAME.csv
  local name=$1 secs=$2; shift 2
  timeout "$secs" "$ncu" --clock-control none --metrics gpu__time_duration.sum --csv "$@" >"$R/ncu_$name.csv" 2>"$R/ncu_$name.err"
  echo "exit $?"; tail -n 3 "$R/ncu_$name.err"
}
if [ "${WHAT:-cogvideox}" = svg2 ]; then
  ncu_run svg2_480p "$((BUDGET_S / 3))" build-gpu/vidsparse bench attention --shape wan1.3b-480p --density 0.25 \
    --svg2 --svg2-budget 0.301 --warmup 1 --repeats 1
  ncu_run svg2_720p "$((BUDGET_S * 2 / 3 - 10))" build-gpu/vidsparse bench attention --shape wan14b-720p --density 0.25 \
    --svg2 --svg2-budget 0.295 --warmup 1 --repeats 1
elif [ "${WHAT:-cogvideox}" = engines ]; then
  for precision in fp8 bf16; do
    for config in -1 0 1 2 3 4 5 6 7; do
      note "engine config $config, $precision"
      VS_CUDNN_ENGINE_CONFIG=$config timeout "$((BUDGET_S / 18))" build-gpu/vidsparse bench attention \
        --shape wan14b-720p --density 0.25 --attention-precision "$precision" --warmup 1 --repeats 3 2>&1 |
        grep -E "engine config|^dense |^svg |rror" | sort | uniq -c | head -n 12
    done
  done
  pack; exit 0
elif [ "${WHAT:-cogvideox}" = fp8 ]; then
  for run in "dense fp8 fp8" "svg fp8 fp8" ${FP8_WITH_BF16:+"dense bf16 bf16"}; do
    read -r attention precision attention_precision <<<"$run"
    ncu_run "wan14b_${attention}_$precision" "$((BUDGET_S / 3))" build-gpu/vidsparse bench dit --config wan14b \
      --resolution 720p --attention "$attention" --density 0.25 --precision "$precision" \
      --attention-precision "$attention_precision" --layers 2 --warmup 0 --repeats 1
  done
else # the forward first, then `bench attention` at the same shape (the isolated number)
  ncu_run dit "$((BUDGET_S / 2))" build-gpu/vidsparse bench dit --config cogvideox1.5-5b --resolution 768x1360 \
    --frames 81 --text-len 226 --attention svg --density 0.25 --layers 2 --warmup 1 --repeats 1
  ncu_run attention "$((BUDGET_S / 2 - 10))" build-gpu/vidsparse bench attention --shape cogvideox1.5-768p \
    --density 0.25 --warmup 1 --repeats 1
fi
for f in "$R"/ncu_*.csv; do
python3 - "$f" <<'PY'
import csv, collections, os, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
if not rows: sys.exit("no kernel rows in " + sys.argv[1])
head = rows[0]; name_i = head.index("Kernel Name"); val_i = head.index("Metric Value"); unit_i = head.index("Metric Unit")
total = collections.Counter(); count = collections.Counter()
for r in rows[1:]:
    scale = {"ns": 1e-6, "nsecond": 1e-6, "us": 1e-3, "usecond": 1e-3, "ms": 1.0, "msecond": 1.0, "s": 1e3, "second": 1e3}[r[unit_i]]
    v = float(r[val_i].replace(",", "")) * scale
    total[r[name_i][:90]] += v; count[r[name_i][:90]] += 1
print(f"{sys.argv[1]}: kernel time (ms) over the run (warm-up and timed calls):")
for k, v in total.most_common(int(os.environ.get("TOP", "30"))): print(f"{v:9.2f} {count[k]:5d}  {k}")
print(f"{sum(total.values()):9.2f} total")
PY
done
pack
