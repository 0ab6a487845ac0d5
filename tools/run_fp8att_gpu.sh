#!/usr/bin/env bash
# FP8 attention on the H200 (issue 20, docs/fp8.md "FP8 attention"), in order of what a short round must tell:
#   1. tests/gpu/test_fp8_attention: the probe of cuDNN's FP8 graph forms (which form has an engine per head dim
#      and token count, cuDNN's answer to each refused one), then the accuracy cases (f64 references, outliers,
#      ragged sizes, poisoned outputs) on the form vs_cudnn_fp8_pick chooses.
#   2. bench attention at wan14b-720p and wan1.3b-480p, BF16 and FP8 (dense FP8, SVG 0.25 with its BF16 rows).
#   3. bench dit wan14b 720p, FP8 weights + FP8 attention: SVG 0.25 with --compare-precision (FP8-vs-BF16 rel L2 at
#      the real 14B dimensions), then dense; wan1.3b 480p dense with --compare-precision.
#   4. bench generate wan14b, 2 steps with CFG, SVG 0.25, FP8 weights + attention: 720p within --gpu-memory 32,
#      480p within 24 (peak from cudaMemGetInfo).
#   5. bench/attention_vs_torch.py --fp8: PyTorch SDPA (flash, cuDNN) beside our BF16 and FP8 dense in one process.
# PHASE (comma-separated: test,attn,dit,generate,torch; default all) picks stages. JSON in $R, copied to $OUT.
# Usage on the accelerator: OUT=/tmp/o VS_GIT_COMMIT=abc1234 bash tools/run_fp8att_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh
PHASE=${PHASE:-test,attn,dit,generate,torch}
has() { [[ ",$PHASE," == *",$1,"* ]]; }

note "build"
build_gpu vidsparse_cli test_fp8_attention || { grep -E "error" "$R/build.log" | head -20; pack; exit 1; }
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader
python3 -c "import torch; print('cuDNN (PyTorch)', torch.backends.cudnn.version())" 2>/dev/null

if has test; then
  note "test_fp8_attention (probe of cuDNN's FP8 forms, then the accuracy cases)"
  VS_SOURCE_DIR=$PWD timeout 150 build-gpu/test_fp8_attention >"$R/test_fp8_attention.log" 2>&1
  echo "test_fp8_attention exit $?"
  grep -E "forms:|^  D |form for|rel L2|FAIL|^ok|error" "$R/test_fp8_attention.log" | cut -c1-400 | head -n 60
  pack
fi

if has attn; then
  for shape in wan14b-720p wan1.3b-480p; do
    for prec in bf16 fp8; do
      note "bench attention $shape, attention $prec, SVG 0.25"
      timeout 60 build-gpu/vidsparse bench attention --shape $shape --density 0.25 --warmup 1 --repeats 3 \
        --attention-precision $prec -o "$R/attention_${shape}_$prec.json" >"$R/attention_${shape}_$prec.log" 2>&1
      echo "exit $?"; grep -E "^dense|^svg |^sparse/dense|rel|FP8|error" "$R/attention_${shape}_$prec.log" | cut -c1-300
      pack
    done
  done
fi

if has dit; then
  # name config resolution attention compare
  while read -r name config res attn compare; do
    note "bench dit $name: FP8 weights + FP8 attention"
    extra=""
    [ "$compare" = yes ] && extra="--compare-precision"
    timeout 200 build-gpu/vidsparse bench dit --config "$config" --resolution "$res" --attention "$attn" \
      --density 0.25 --precision fp8 --attention-precision fp8 $extra --warmup 1 --repeats 1 \
      -o "$R/dit_${name}_fp8.json" >"$R/dit_$name.log" 2>&1
    echo "exit $?"; grep -E "refused|error|rel|form" "$R/dit_$name.log" | cut -c1-300 | head -n 6
    tail -n 3 "$R/dit_$name.log" | cut -c1-300
    pack
  done <<'LIST'
14b_720p_svg wan14b 720p svg yes
14b_720p_dense wan14b 720p dense no
1.3b_480p_dense wan1.3b 480p dense yes
LIST
fi

if has generate; then
  # res budget
  while read -r res budget; do
    note "bench generate wan14b $res, SVG 0.25, FP8 weights + attention, --gpu-memory $budget"
    timeout 300 build-gpu/vidsparse bench generate --config wan14b --resolution "$res" --steps 2 --cfg 5 \
      --attention svg --density 0.25 --precision fp8 --attention-precision fp8 --gpu-memory "$budget" \
      -o "$R/generate_14b_${res}_fp8_${budget}gib.json" >"$R/generate_$res.log" 2>&1
    echo "exit $?"; grep -E "error|refused|plan|peak|memory" "$R/generate_$res.log" | cut -c1-300 | head -n 6
    tail -n 6 "$R/generate_$res.log" | cut -c1-300
    pack
  done <<'LIST'
720p 32
480p 24
LIST
fi

if has torch; then
  note "build libvidsparse_bench.so; attention_vs_torch --fp8 (SDPA flash / cuDNN, ours BF16 and FP8), density 0.25"
  build_gpu vidsparse_bench || { grep -E "error" "$R/build.log" | head -10; }
  timeout 200 python3 bench/attention_vs_torch.py --lib build-gpu/libvidsparse_bench.so --shapes wan1.3b-480p,wan14b-720p \
    --density 0.25 --reps 5 --skip-flex --fp8 --out "$R/attention_vs_torch_fp8.json" >"$R/attention_vs_torch.log" 2>&1
  echo "exit $?"
  python3 - "$R/attention_vs_torch_fp8.json" <<'EOF' 2>&1 || tail -n 8 "$R/attention_vs_torch.log"
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(r["shape"], {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()
                       if k.startswith(("sdpa_", "ours_cudnn", "ours_fp8", "speedup_ours_fp8", "ours_band_ms"))})
EOF
  pack
fi
cp "$R"/*.json "$OUT/" 2>/dev/null
pack
note done
