#!/usr/bin/env bash
# One accelerator call for the embedded model and SVG's sparse backends:
#   - the CUDA build (in the background, on the CPU) while the GPU trains the
#     tiny model further (tools/train_tiny.py --init, cosine learning rate,
#     TRAIN_MINUTES, 0 skips it) and the attention and DiT GPU tests run beside it
#     (TESTS=all: every GPU test, tests/gpu/run.sh; TESTS=none: no test);
#   - then, on the idle GPU: `vidsparse bench attention` with each sparse
#     backend (VS_SPARSE_ATTN=cudnn|ours) and `vidsparse eval` of the model
#     under each SVG setting of EVAL_SETTINGS.
# Everything lands in $OUT/results.tgz (logs, JSON, the new weights), packed
# again after each phase so that a call cut short still returns what it did.
# Usage on the accelerator: OUT=/tmp/o TRAIN_MINUTES=6 bash tools/run_tiny_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh

note "build (background)"
build_gpu vidsparse_cli vidsparse_bench test_flash_attention test_wan_cuda test_svg_profile &
build_pid=$!

model=models/vidsparse-tiny
if [ "${TRAIN_MINUTES:-0}" != 0 ]; then
  note "training ${TRAIN_MINUTES} min (background)"
  python3 tools/train_tiny.py --init models/vidsparse-tiny --seed "${TRAIN_SEED:-20261201}" --warmup 100 \
    --schedule cosine --lr "${TRAIN_LR:-3e-4}" --minutes "$TRAIN_MINUTES" --fit --steps 100000 --ckpt /tmp/tiny-ckpt \
    --ckpt-every 100 --export /tmp/tiny-new >"$R/train.log" 2>&1 &
  train_pid=$!
fi

wait "$build_pid"
tail -n 3 "$R/build.log"
if [ "${TESTS:-attention}" = all ]; then
  note "every GPU test (tests/gpu/run.sh, beside the training)"
  timeout 300 bash tests/gpu/run.sh >"$R/gpu_tests.log" 2>&1
  grep -E "Failed|passed, " "$R/gpu_tests.log" | tail -n 8
elif [ "${TESTS:-attention}" != none ] && grep -q "build exit 0" "$R/build.log"; then
  for t in test_flash_attention test_svg_profile test_wan_cuda; do
    note "$t"
    timeout 240 "build-gpu/$t" >"$R/$t.log" 2>&1
    echo "$t exit $?"; grep -E "^(ok|FAIL)|band rows|rel L2" "$R/$t.log" | grep -v "^ok" | tail -n 12
  done
else
  grep -E "error" "$R/build.log" | head -20
fi
pack

if [ -n "${train_pid:-}" ]; then
  wait "$train_pid"
  tail -n 4 "$R/train.log"
  if [ -f /tmp/tiny-new/transformer/diffusion_pytorch_model.safetensors ]; then
    model=/tmp/tiny-new
    mkdir -p "$R/weights"
    cp /tmp/tiny-new/transformer/diffusion_pytorch_model.safetensors "$R/weights/transformer.safetensors"
    cp /tmp/tiny-new/text_encoder/model.safetensors "$R/weights/text_encoder.safetensors"
  fi
fi
pack
[ -x build-gpu/vidsparse ] || { echo "no build-gpu/vidsparse"; exit 1; }

shapes=${BENCH_SHAPES-wan1.3b-480p,wan14b-720p} # empty: no benchmark
for shape in ${shapes//,/ }; do
  for backend in cudnn ours; do
    note "bench attention $shape sparse=$backend"
    VS_SPARSE_ATTN=$backend timeout 90 build-gpu/vidsparse bench attention --shape "$shape" --density 0.15 \
      --repeats 10 -o "$R/bench_attention_${shape}_sparse_$backend.json" >"$R/bench_${shape}_$backend.log" 2>&1
    grep -E "^(svg|sparse|dense)" "$R/bench_${shape}_$backend.log"
  done
done 2>&1
pack

# "name:options" entries separated by ';', one eval each (32 prompts x 2 seeds, dense and SVG).
settings=${EVAL_SETTINGS:-"default:;steps30:--dense-steps 0.3;layer1:--dense-layers 0.25;d35:--density 0.35"}
IFS=';' read -r -a entries <<<"$settings"
for entry in "${entries[@]}"; do
  name=${entry%%:*} opts=${entry#*:}
  note "eval $name ($opts)"
  timeout 120 build-gpu/vidsparse eval --model "$model" --prompts 32 --seeds 2 $opts -o "$R/eval_$name.json" \
    >"$R/eval_$name.log" 2>&1
  tail -n 4 "$R/eval_$name.log"
  pack
done
note done
