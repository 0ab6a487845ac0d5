#!/usr/bin/env bash
# FP8 inference (issue 20, docs/fp8.md) on the accelerator.
#   PHASE=test: the FP8 tests on CUDA (under a minute after the build): tests/test_fp8.c (quantise + GEMM with
#     outliers against the exact product, CUDA codes = CPU codes, Wan DiT and umT5 in FP8, the FP8 checkpoint)
#     and test_backend_ops (every op, FP8 rows included, against the f64 reference, NaN-poisoned outputs).
#   PHASE=bench (default): bench gemm (BF16 against FP8 linears at the Wan 14B 720p and 1.3B 480p shapes, in
#     TFLOP/s; 14B again with VS_FP8_FAST_ACCUM=1); eval --precision fp8 (the embedded model, FP8 weights
#     against BF16: prompt accuracy, PSNR); bench dit --precision bf16|fp8 (random weights, real sizes; the
#     FP8 runs report the relative L2 distance from a BF16 forward of the same inputs) at 14B 720p dense and
#     SVG at kept fraction 0.25 (the default), and 1.3B 480p dense.
#   PHASE=all: both.
# JSON results in $R (packed into $OUT/results.tgz), copied to $OUT. The cuBLASLt form each FP8 GEMM shape
# runs in is logged ("FP8 GEMM ... runs with ...").
# Usage on the accelerator: OUT=/tmp/o VS_GIT_COMMIT=abc1234 PHASE=all bash tools/run_fp8_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh
PHASE=${PHASE:-bench}

note "build"
build_gpu vidsparse_cli test_fp8 test_backend_ops || { grep -E "error" "$R/build.log" | head -20; pack; exit 1; }

if [ "$PHASE" != bench ]; then
  note "tests"
  for t in test_fp8 test_backend_ops; do
    VS_SOURCE_DIR=$PWD timeout 60 build-gpu/$t >"$R/$t.log" 2>&1
    echo "$t exit $?"
    grep -vE "^ok " "$R/$t.log" | tail -n 25
  done
  pack
fi
[ "$PHASE" = test ] && { note done; exit 0; }

note "bench gemm"
for config in wan14b wan1.3b; do
  timeout 60 build-gpu/vidsparse bench gemm --config $config -o "$R/gemm_$config.json" 2>&1 | tail -n 12
done
VS_FP8_FAST_ACCUM=1 timeout 60 build-gpu/vidsparse bench gemm --config wan14b -o "$R/gemm_wan14b_fast_accum.json" 2>&1 |
  tail -n 10
pack

note "eval: the embedded model, FP8 weights against BF16 (dense)"
timeout 120 build-gpu/vidsparse eval --precision fp8 --prompts 32 --seeds 2 -o "$R/eval_fp8.json" 2>&1 | tail -n 5
pack

# name config resolution attention precision repeats
while read -r name config res attn prec reps; do
  note "dit $name"
  extra=""
  [ "$prec" = fp8 ] && extra="--compare-precision"
  timeout 200 build-gpu/vidsparse bench dit --config "$config" --resolution "$res" --attention "$attn" \
    --density 0.25 --precision "$prec" $extra --warmup 1 --repeats "$reps" \
    -o "$R/dit_$name.json" >"$R/dit_$name.log" 2>&1
  echo "exit $?"; grep -E "FP8 GEMM|refused|error" "$R/dit_$name.log" | head -n 4; tail -n 3 "$R/dit_$name.log"
  pack
done <<'LIST'
14b_720p_dense_bf16 wan14b 720p dense bf16 1
14b_720p_dense_fp8 wan14b 720p dense fp8 1
14b_720p_svg_bf16 wan14b 720p svg bf16 1
14b_720p_svg_fp8 wan14b 720p svg fp8 1
1.3b_480p_dense_bf16 wan1.3b 480p dense bf16 3
1.3b_480p_dense_fp8 wan1.3b 480p dense fp8 3
LIST
cp "$R"/*.json "$OUT/" 2>/dev/null
pack
note done
