#!/usr/bin/env bash
# HunyuanVideo's text side on the accelerator (issue 17): a CUDA build of what it needs, the GPU test of
# the Llama and CLIP text encoders (tests/gpu/test_hunyuan_text_cuda.c: the transformers / diffusers
# fixtures at rel L2 2e-2, CUDA against CPU at real head sizes), the op rows of test_backend_ops
# (rmsnorm_rope's rotation-only row on CUDA), the CPU tokenizer and encoder tests of that build, then
# bench/llama_vs_transformers.py (ours against transformers' LlamaModel as HunyuanVideoPipeline calls it,
# Llama-3-8B dimensions, 8 layers). Results under $R, packed into $OUT/results.tgz; the benchmark's JSON
# also in $OUT. About 5 minutes.
# Usage on the accelerator: OUT=/tmp/o VS_GIT_COMMIT=abc1234 bash tools/run_hytext_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh

note "build"
build_gpu test_hunyuan_text_cuda test_hunyuan_text test_bpe test_backend_ops vidsparse_bench ||
  { grep -E "error" "$R/build.log" | head -30; pack; exit 1; }
tail -1 "$R/build.log"
for t in test_hunyuan_text_cuda test_backend_ops test_hunyuan_text test_bpe; do
  note "$t"
  timeout 120 build-gpu/$t >"$R/$t.log" 2>&1
  echo "$t exit $?"
  grep -E "rel L2|differ|^FAIL|passed|CHECK|error|failed" "$R/$t.log" | tail -n 16
  pack
done
note "bench: Llama text encoder vs transformers"
timeout 200 python3 bench/llama_vs_transformers.py --lib build-gpu/libvidsparse_bench.so --layers 8 \
  --out "$R/llama_text_h200.json" >"$R/bench_llama.log" 2>&1
echo "bench exit $?"
tail -n 25 "$R/bench_llama.log"
cp "$R/llama_text_h200.json" "$OUT/" 2>/dev/null
pack
note done
