#!/usr/bin/env bash
# FP8 inference (issue 20, docs/fp8.md) on the accelerator, one call:
#   1. the FP8 tests on CUDA: tests/test_fp8.c (outliers, CUDA codes = CPU codes) and test_backend_ops
#      (every op, FP8 rows included, against the f64 reference);
#   2. bench gemm: BF16 against FP8 linears at the Wan 14B (720p) and 1.3B (480p) shapes, in TFLOP/s;
#   3. vidsparse eval --precision fp8: the embedded model's prompt accuracy with FP8 weights and BF16, and PSNR
#      of the FP8 clips against the BF16 ones (32 prompts x 2 seeds, dense attention);
#   4. bench dit --precision bf16|fp8: Wan forwards at the real dimensions (random weights), FP8 against BF16
#      (the FP8 runs also report the relative L2 distance from a BF16 forward of the same inputs), 14B 720p
#      dense and SVG at kept fraction 0.25 (the default), 1.3B 480p dense.
# Results as JSON in $R (packed into $OUT/results.tgz) and copied to $OUT.
# Usage on the accelerator: OUT=/tmp/o VS_GIT_COMMIT=abc1234 bash tools/run_fp8_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh

note "build"
build_gpu vidsparse_cli test_fp8 test_backend_ops || { grep -E "error" "$R/build.log" | head -20; pack; exit 1; }

note "tests"
for t in test_fp8 test_backend_ops; do
  VS_SOURCE_DIR=$PWD timeout 120 build-gpu/$t >"$R/$t.log" 2>&1
  echo "$t exit $?"
  grep -vE "^ok " "$R/$t.log" | tail -n 25
done
pack

note "bench gemm"
for config in wan14b wan1.3b; do
  timeout 120 build-gpu/vidsparse bench gemm --config $config -o "$R/gemm_$config.json" 2>&1 | tail -n 12
done
VS_FP8_FAST_ACCUM=1 timeout 120 build-gpu/vidsparse bench gemm --config wan14b -o "$R/gemm_wan14b_fast_accum.json" 2>&1 |
  tail -n 12
cp "$R"/gemm_*.json "$OUT/" 2>/dev/null
pack

note "eval: the embedded model, FP8 weights against BF16 (dense)"
timeout 120 build-gpu/vidsparse eval --precision fp8 --prompts 32 --seeds 2 -o "$R/eval_fp8.json" 2>&1 | tail -n 5
cp "$R/eval_fp8.json" "$OUT/" 2>/dev/null
pack

# name config resolution attention precision attention-precision repeats
while read -r name config res attn prec aprec reps; do
  note "dit $name"
  extra=""
  [ "$prec" = fp8 ] && extra="--compare-precision"
  build-gpu/vidsparse bench dit --help 2>&1 | grep -q -- --attention-precision && extra="$extra --attention-precision $aprec"
  timeout 200 build-gpu/vidsparse bench dit --config "$config" --resolution "$res" --attention "$attn" \
    --density 0.25 --precision "$prec" $extra --warmup 1 --repeats "$reps" \
    -o "$R/dit_$name.json" >"$R/dit_$name.log" 2>&1
  echo "exit $?"; tail -n 4 "$R/dit_$name.log"
  cp "$R/dit_$name.json" "$OUT/" 2>/dev/null
  pack
done <<'LIST'
14b_720p_dense_bf16 wan14b 720p dense bf16 bf16 1
14b_720p_dense_fp8 wan14b 720p dense fp8 bf16 1
14b_720p_svg_bf16 wan14b 720p svg bf16 bf16 1
14b_720p_svg_fp8 wan14b 720p svg fp8 bf16 1
1.3b_480p_dense_bf16 wan1.3b 480p dense bf16 bf16 3
1.3b_480p_dense_fp8 wan1.3b 480p dense fp8 bf16 3
LIST
note done
