#!/usr/bin/env bash
# FP8 attention on the H200 (issue 20, docs/fp8.md "FP8 attention"), most important first; each stage runs only
# when BUDGET_S (default 110 s from the start) leaves it room, so a short round still returns the first ones:
#   1. tests/gpu/test_fp8_attention: the probe of cuDNN's FP8 graph forms (which has an engine per head dim and
#      token count, cuDNN's answer to each refused one), then the accuracy cases (f64 references, outliers,
#      ragged sizes, poisoned outputs) on the form vs_cudnn_fp8_pick chooses.
#   2. bench attention wan14b-720p, FP8 then BF16: dense FP8 time and its rel L2 from BF16 dense; SVG 0.25.
#   3. bench dit wan14b 720p SVG 0.25, FP8 weights + FP8 attention, --compare-precision (the FP8-vs-BF16 rel L2 of
#      a whole forward at the real 14B dimensions); then dense FP8.
#   4. bench attention wan1.3b-480p FP8 / BF16; bench dit wan1.3b 480p dense FP8 --compare-precision.
#   5. bench generate wan14b 2 steps with CFG, SVG 0.25, FP8 weights + attention: 720p within --gpu-memory 32,
#      480p within 24.
#   6. bench/attention_vs_torch.py --fp8: PyTorch SDPA (flash, cuDNN) beside our BF16 and FP8 dense in one process.
# JSON in $R, copied to $OUT. Usage on the accelerator: OUT=/tmp/o VS_GIT_COMMIT=abc1234 bash tools/run_fp8att_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh
BUDGET_S=${BUDGET_S:-110}
# room N: true when at least N seconds of the budget are left (SECONDS counts from the script's start).
room() { (( BUDGET_S - SECONDS >= $1 )) || { echo "(skipped: $(( BUDGET_S - SECONDS )) s left)"; return 1; }; }
left() { echo $(( BUDGET_S - SECONDS )); }

note "build"
build_gpu vidsparse_cli test_fp8_attention || { grep -E "error" "$R/build.log" | head -20; pack; exit 1; }

note "test_fp8_attention (probe of cuDNN's FP8 forms, then the accuracy cases)"
VS_SOURCE_DIR=$PWD timeout 60 build-gpu/test_fp8_attention >"$R/test_fp8_attention.log" 2>&1
echo "test_fp8_attention exit $?"
grep -E "forms:|^  D |form for|rel L2|FAIL|^ok|error" "$R/test_fp8_attention.log" | cut -c1-400 | head -n 40
pack

# bench_attention shape precision
bench_attention() {
  room 15 || return
  note "bench attention $1, attention $2, SVG 0.25"
  timeout 30 build-gpu/vidsparse bench attention --shape "$1" --density 0.25 --warmup 1 --repeats 3 \
    --attention-precision "$2" -o "$R/attention_${1}_$2.json" >"$R/attention_${1}_$2.log" 2>&1
  echo "exit $?"; grep -E "^dense|^svg |^sparse/dense|relative|FP8|error" "$R/attention_${1}_$2.log" | cut -c1-300
  pack
}
# bench_dit name config resolution attention [--compare-precision]
bench_dit() {
  room 40 || return
  note "bench dit $1: FP8 weights + FP8 attention"
  timeout "$(left)" build-gpu/vidsparse bench dit --config "$2" --resolution "$3" --attention "$4" --density 0.25 \
    --precision fp8 --attention-precision fp8 ${5:-} --warmup 1 --repeats 1 -o "$R/dit_$1_fp8.json" >"$R/dit_$1.log" 2>&1
  echo "exit $?"; grep -E "refused|error|relative|form" "$R/dit_$1.log" | cut -c1-300 | head -n 6
  tail -n 2 "$R/dit_$1.log" | cut -c1-300
  pack
}
bench_attention wan14b-720p fp8
bench_attention wan14b-720p bf16
bench_dit 14b_720p_svg wan14b 720p svg --compare-precision
bench_dit 14b_720p_dense wan14b 720p dense
bench_attention wan1.3b-480p fp8
bench_attention wan1.3b-480p bf16
bench_dit 1.3b_480p_dense wan1.3b 480p dense --compare-precision

for spec in "720p 32" "480p 24"; do
  read -r res budget <<<"$spec"
  room 90 || break
  note "bench generate wan14b $res, SVG 0.25, FP8 weights + attention, --gpu-memory $budget"
  timeout "$(left)" build-gpu/vidsparse bench generate --config wan14b --resolution "$res" --steps 2 --cfg 5 \
    --attention svg --density 0.25 --precision fp8 --attention-precision fp8 --gpu-memory "$budget" \
    -o "$R/generate_14b_${res}_fp8_${budget}gib.json" >"$R/generate_$res.log" 2>&1
  echo "exit $?"; grep -E "error|refused|peak|memory" "$R/generate_$res.log" | cut -c1-300 | head -n 6
  tail -n 4 "$R/generate_$res.log" | cut -c1-300
  pack
done

if room 120; then
  note "libvidsparse_bench.so; attention_vs_torch --fp8 (SDPA flash / cuDNN, ours BF16 and FP8), density 0.25"
  build_gpu vidsparse_bench || grep -E "error" "$R/build.log" | head -10
  timeout "$(left)" python3 bench/attention_vs_torch.py --lib build-gpu/libvidsparse_bench.so \
    --shapes wan14b-720p,wan1.3b-480p --density 0.25 --reps 5 --skip-flex --fp8 \
    --out "$R/attention_vs_torch_fp8.json" >"$R/attention_vs_torch.log" 2>&1
  echo "exit $?"; grep -E '^\{' "$R/attention_vs_torch.log" | cut -c1-600
  pack
fi
cp "$R"/*.json "$OUT/" 2>/dev/null
pack
note "done ($SECONDS s)"
