#!/usr/bin/env bash
# Sparse VideoGen 2 (docs/svg2.md) on the accelerator, in one call of about 5 minutes, stage by stage in
# order of importance (a stage is skipped once the call has run BUDGET_S seconds, default 270):
#  1. the CUDA build of tests/gpu/test_svg2_cuda and the CLI (one build);
#  2. test_svg2_cuda: the kernels (k-means, the page selection, attention through cuDNN's paged attention
#     and through our kernel) against the CPU reference, and the method end to end;
#  3. `vidsparse bench attention --svg2` at Wan 1.3B 480p and 14B 720p: SVG at --density 0.25 and SVG2's
#     whole attention (2 warm-started k-means iterations on q and k, the selection, the gathers, cuDNN's
#     paged attention, the scatter) in fixed-budget mode at SVG's kept fraction (SVG's band is rounded up to
#     whole blocks and adds the first frame: it keeps 0.301 of the map at 480p, 0.295 at 720p), same run;
#  4. `vidsparse eval` on the embedded model: SVG at --density 0.25 (it keeps 0.364 there: 16 frames of
#     256 tokens) and SVG2 at budget 0.364, PSNR against dense;
#  5. bench/dit_vs_diffusers.py --layers 4: the Wan DiT cut to 4 layers (both ours and diffusers'), ours
#     dense, SVG 0.25 and SVG2 budget 0.3 against diffusers at both shapes (needs the carried diffusers wheel);
#  6. SVG2 at its default top-p 0.9 at Wan 14B 720p (bench attention).
# JSON results in $R (packed into $OUT/results.tgz after each stage), the final ones copied to $OUT.
# Usage on the accelerator: OUT=/tmp/o VS_GIT_COMMIT=$(git rev-parse --short HEAD) bash tools/run_svg2_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh
BUDGET_S=${BUDGET_S:-270}
time_left() { [ "$SECONDS" -lt "$BUDGET_S" ] || { note "skipped (time): $*"; false; }; }
keep() { cp "$R/$1" "$OUT/" 2>/dev/null; pack; }

note "build"
build_gpu test_svg2_cuda vidsparse_cli || { grep -E "error" "$R/build.log" | head -20; pack; exit 1; }
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader

note "test_svg2_cuda"
timeout 120 build-gpu/test_svg2_cuda >"$R/test_svg2_cuda.log" 2>&1
echo "exit $?" >>"$R/test_svg2_cuda.log"
grep -vE "^ok " "$R/test_svg2_cuda.log" | tail -n 45
pack

for setting in "wan1.3b-480p 0.301" "wan14b-720p 0.295"; do
  set -- $setting
  shape=$1
  time_left "bench attention $shape" || break
  note "bench attention $shape (SVG 0.25, SVG2 budget $2)"
  timeout 90 build-gpu/vidsparse bench attention --shape "$shape" --density 0.25 --svg2 --svg2-budget "$2" \
    --warmup 2 --repeats 5 -o "$R/svg2_attention_$shape.json" >"$R/svg2_attention_$shape.log" 2>&1
  echo "exit $?" >>"$R/svg2_attention_$shape.log"
  tail -n 14 "$R/svg2_attention_$shape.log"
  keep "svg2_attention_$shape.json"
done

for mode in "svg --density 0.25" "svg2 --svg2-budget 0.364"; do
  set -- $mode
  name="svg2_eval_$(echo "$*" | tr -d ' -' | tr '.' 'p')"
  time_left "eval $*" || break
  note "eval $*"
  timeout 60 build-gpu/vidsparse eval --device cuda --prompts 8 --seeds 2 --attention "$@" -o "$R/$name.json" \
    >"$R/$name.log" 2>&1
  echo "$name exit $?"
  grep -E "accuracy|PSNR|selected|time per video" "$R/$name.log" | tail -n 6
  keep "$name.json"
done

if time_left "dit against diffusers"; then
  note "dit against diffusers (4 layers; dense, SVG 0.25, SVG2 budget 0.3)"
  timeout 150 python3 bench/dit_vs_diffusers.py --bin build-gpu/vidsparse --layers 4 --density 0.25 \
    --svg2-budget 0.3 -o "$R/svg2_dit_vs_diffusers.json" >"$R/dit_vs_diffusers.log" 2>&1
  echo "exit $?" >>"$R/dit_vs_diffusers.log"
  grep -vE "INFO|forward [0-9]" "$R/dit_vs_diffusers.log" | tail -n 8 | cut -c1-600
  keep svg2_dit_vs_diffusers.json
fi

if time_left "bench attention top-p"; then
  note "bench attention wan14b-720p (SVG2 at top-p 0.9)"
  timeout 60 build-gpu/vidsparse bench attention --shape wan14b-720p --density 0.25 --svg2 --warmup 2 --repeats 3 \
    -o "$R/svg2_topp_attention_wan14b-720p.json" >"$R/svg2_topp.log" 2>&1
  echo "exit $?" >>"$R/svg2_topp.log"
  grep -E "^svg|SVG2|exit" "$R/svg2_topp.log"
  keep svg2_topp_attention_wan14b-720p.json
fi
note done
