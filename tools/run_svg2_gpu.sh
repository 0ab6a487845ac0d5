#!/usr/bin/env bash
# Sparse VideoGen 2 (docs/svg2.md) on the accelerator. PHASE=test: the CUDA build of tests/gpu/test_svg2_cuda
# and the test (the kernels against the CPU reference; about a minute). PHASE=bench: the CLI build, then
#  1. `vidsparse bench attention --svg2` at Wan 1.3B 480p and 14B 720p: SVG2's whole attention (2 warm-started
#     k-means iterations on q and k, selection, attention with the permutation fused) in fixed-budget mode at
#     kept fraction 0.25 beside SVG's at 0.25, in the same run; then SVG2 at its default top-p 0.9 (14B 720p);
#  2. `vidsparse bench dit` with SVG2 (budget 0.25) and SVG (0.25) at both Wan shapes;
#  3. `vidsparse eval` on the embedded model: SVG at 0.25, SVG2 at budget 0.25 and at top-p 0.9.
# PHASE=all (default): test, then bench. JSON results in $R (packed into $OUT/results.tgz after each phase),
# the final ones copied to $OUT.
# Usage on the accelerator: OUT=/tmp/o VS_GIT_COMMIT=$(git rev-parse --short HEAD) PHASE=test bash tools/run_svg2_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh

PHASE=${PHASE:-all}
if [ "$PHASE" != bench ]; then
  note "build (test)"
  build_gpu test_svg2_cuda || { grep -E "error" "$R/build.log" | head -20; pack; exit 1; }
  note "test_svg2_cuda"
  timeout 120 build-gpu/test_svg2_cuda >"$R/test_svg2_cuda.log" 2>&1
  echo "exit $?" >>"$R/test_svg2_cuda.log"
  tail -n 40 "$R/test_svg2_cuda.log"
  pack
  [ "$PHASE" = test ] && exit 0
fi

note "build (bench)"
build_gpu vidsparse_cli || { grep -E "error" "$R/build.log" | head -20; pack; exit 1; }
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader

note "bench attention (SVG at 0.25, SVG2 fixed budget 0.25)"
for shape in wan1.3b-480p wan14b-720p; do
  timeout 90 build-gpu/vidsparse bench attention --shape "$shape" --density 0.25 --svg2 --svg2-budget 0.25 \
    --warmup 2 --repeats 10 -o "$R/svg2_attention_$shape.json" >"$R/svg2_attention_$shape.log" 2>&1
  echo "exit $?" >>"$R/svg2_attention_$shape.log"
  tail -n 12 "$R/svg2_attention_$shape.log"
  cp "$R/svg2_attention_$shape.json" "$OUT/" 2>/dev/null
  pack
done
note "bench attention (SVG2 at top-p 0.9)"
for shape in wan14b-720p; do
  timeout 60 build-gpu/vidsparse bench attention --shape "$shape" --density 0.25 --svg2 --warmup 2 --repeats 5 \
    -o "$R/svg2_topp_attention_$shape.json" >"$R/svg2_topp_attention_$shape.log" 2>&1
  echo "exit $?" >>"$R/svg2_topp_attention_$shape.log"
  grep -E "^svg|SVG2" "$R/svg2_topp_attention_$shape.log"
  cp "$R/svg2_topp_attention_$shape.json" "$OUT/" 2>/dev/null
  pack
done

note "bench dit"
for setting in "wan1.3b 480p 3 60" "wan14b 720p 2 90"; do
  set -- $setting
  for mode in svg2 svg; do
    name="dit_$1_$2_${mode}"
    timeout "$4" build-gpu/vidsparse bench dit --config "$1" --resolution "$2" --attention "$mode" --density 0.25 \
      --svg2-budget 0.25 --warmup 1 --repeats "$3" -o "$R/$name.json" >"$R/$name.log" 2>&1
    echo "$name exit $?: $(grep -hoE '"(median_ms|attention_share)": [0-9.]+' "$R/$name.json" 2>/dev/null | tr '\n' ' ')"
    cp "$R/$name.json" "$OUT/" 2>/dev/null
    pack
  done
done

note "eval (embedded model)"
for mode in "svg --density 0.25" "svg2 --svg2-budget 0.25" "svg2"; do
  set -- $mode
  name="eval_$(echo "$*" | tr -d ' -' | tr '.' 'p')"
  timeout 50 build-gpu/vidsparse eval --device cuda --prompts 8 --seeds 2 --attention "$@" -o "$R/$name.json" \
    >"$R/$name.log" 2>&1
  echo "$name exit $?"
  grep -E "accuracy|PSNR|time per video" "$R/$name.log"
  cp "$R/$name.json" "$OUT/" 2>/dev/null
  pack
done
note done
