#!/usr/bin/env bash
# HunyuanVideo's text side on the accelerator (issue 17).
# PHASE=test: a CUDA build of the test targets, then the GPU test of the Llama and CLIP text encoders
#   (tests/gpu/test_hunyuan_text_cuda.c: the transformers / diffusers fixtures at rel L2 2e-2 on CUDA, CUDA
#   against CPU at real head sizes), test_backend_ops (qk_norm_rope's rotation-only row on CUDA), and the
#   CPU tokenizer / encoder tests of that build. Under a minute after the build.
# PHASE=bench: bench/llama_vs_transformers.py, ours against transformers' LlamaModel as
#   HunyuanVideoPipeline calls it (Llama-3-8B dimensions, 8 layers, 351 tokens, batch 1 and 2); its JSON
#   goes to $OUT/llama_text_h200.json (for bench/results/). About 2 minutes after the build.
# PHASE=all (default): both. Logs under $R, packed into $OUT/results.tgz.
# Usage on the accelerator: OUT=/tmp/o VS_GIT_COMMIT=abc1234 PHASE=test bash tools/run_hytext_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh
PHASE=${PHASE:-all}
targets=(test_hunyuan_text_cuda test_hunyuan_text test_bpe test_backend_ops)
[ "$PHASE" = test ] || targets+=(vidsparse_bench)
[ "$PHASE" = bench ] && targets=(vidsparse_bench)

note "build ${targets[*]}"
build_gpu "${targets[@]}" || { grep -E "error" "$R/build.log" | head -30; pack; exit 1; }
tail -1 "$R/build.log"

if [ "$PHASE" != bench ]; then
  for t in test_hunyuan_text_cuda test_backend_ops test_hunyuan_text test_bpe; do
    note "$t"
    timeout 60 build-gpu/$t >"$R/$t.log" 2>&1
    echo "$t exit $?"
    grep -E "rel L2|differ|^FAIL|passed|CHECK|error|failed" "$R/$t.log" | tail -n 16
    pack
  done
fi

if [ "$PHASE" != test ]; then
  note "bench: Llama text encoder vs transformers"
  timeout 200 python3 bench/llama_vs_transformers.py --lib build-gpu/libvidsparse_bench.so --layers 8 \
    --out "$R/llama_text_h200.json" >"$R/bench_llama.log" 2>&1
  echo "bench exit $?"
  tail -n 25 "$R/bench_llama.log"
  cp "$R/llama_text_h200.json" "$OUT/" 2>/dev/null
  pack
fi
note done
