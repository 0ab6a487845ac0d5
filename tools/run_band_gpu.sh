#!/usr/bin/env bash
# The band path with SVG's dense text tail (CogVideoX, HunyuanVideo) and clipped bands (every model) on the
# accelerator: the GPU tests of the attention paths and of the two families with text (SVG through the model),
# then `bench attention` SVG 0.25 and dense at the four
# reference shapes (sparse rows on cuDNN), each packed as it ends.
# Usage on the accelerator: OUT=/tmp/o [BUDGET_S=120] bash tools/run_band_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh
BUDGET_S=${BUDGET_S:-120}
room() { (( BUDGET_S - SECONDS >= $1 )) || { echo "(skipped: $(( BUDGET_S - SECONDS )) s left)"; return 1; }; }

note "build"
build_gpu vidsparse_cli test_flash_attention test_backend_ops test_svg_profile test_cogvideox_cuda test_hunyuan_cuda ||
  { grep -E "error" "$R/build.log" | head -20; pack; exit 1; }
for t in test_flash_attention test_backend_ops test_svg_profile test_cogvideox_cuda test_hunyuan_cuda; do
  room 20 || break
  note "$t"
  timeout 120 "build-gpu/$t" >"$R/$t.log" 2>&1
  echo "exit $?"; grep -E "FAIL|band rows|passed|error" "$R/$t.log" | cut -c1-200 | tail -n 30
  pack
done
for shape in cogvideox1.5-768p wan14b-720p hunyuan-720p wan1.3b-480p; do
  room 15 || break
  note "bench attention $shape"
  timeout 60 build-gpu/vidsparse bench attention --shape "$shape" --density 0.25 --warmup 1 --repeats 3 \
    -o "$R/attention_$shape.json" >"$R/attention_$shape.log" 2>&1
  echo "exit $?"; grep -E "^(dense|svg|sparse|SVG mask)|error|warn" "$R/attention_$shape.log" | cut -c1-200
  pack
done
cp "$R"/*.json "$OUT/" 2>/dev/null
pack
note "done ($SECONDS s)"
