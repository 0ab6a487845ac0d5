#!/usr/bin/env bash
# The embedded model's quality evals on the accelerator with enough clips that one clip moves prompt accuracy by
# less than half a point (128 prompts x 2 seeds = 256 clips an arm; about 30 ms a clip on an H200):
#   cache  issue 21: easycache and fora at their defaults against no cache, dense and SVG   -> cache_eval_256.json
#   fp8    issue 20: FP8 weights (fp8, fp8-ffn) and FP8 weights + FP8 attention against BF16 -> fp8_eval_<p>.json
#          (FP8_ARMS: "weights:attention ...", default "fp8:bf16 fp8-ffn:bf16 fp8:fp8"; FP8_ATTENTION=svg: both
#          arms under SVG, not dense, so FP8 attention covers SVG's band path -> fp8_eval_<p>_svg.json)
#   svg2   issue 19: SVG at --density 0.25 (it keeps 0.364 of this model's map) and SVG2 at the matched budget
#          0.364 against dense (SVG2_MODES="svg2 --svg2-budget 0.5;svg2": other settings)        -> svg2_eval_<m>.json
#   fp8keep issue 20, an experiment: `--precision fp8` with one group of block linears left in BF16 at a time
#          (tools/experiments/fp8_keep_layers.patch applied for a second build, reverted after; FP8_KEEP="g1 g2":
#          other groups, each a comma-separated list of name parts)                           -> fp8keep_<g>.json
# PHASE selects them (comma-separated, default cache,fp8); each packed as it ends.
# Usage on the accelerator: OUT=/tmp/o [PHASE=cache,fp8] [PROMPTS=128] [SEEDS=2] bash tools/run_evals_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh
PHASE=${PHASE:-cache,fp8}
PROMPTS=${PROMPTS:-128}
SEEDS=${SEEDS:-2}
has() { [[ ",$PHASE," == *",$1,"* ]]; }
# The summary rows of an eval log.
rows() { grep -E "^prompt accuracy|^[a-z0-9.+-]+ vs |^[a-z0-9.]+ +\+ |PSNR|accuracy" "$1" | tail -n 14; }

note "build"
build_gpu vidsparse_cli || { grep -E "error" "$R/build.log" | head -20; pack; exit 1; }
if has cache; then
  note "eval: easycache and fora at their defaults, dense and SVG, $PROMPTS prompts x $SEEDS seeds"
  timeout 240 build-gpu/vidsparse eval --prompts "$PROMPTS" --seeds "$SEEDS" --cache easycache,fora \
    -o "$R/cache_eval_256.json" >"$R/cache_eval.log" 2>&1
  echo "exit $?"; rows "$R/cache_eval.log"
  pack
fi
if has fp8; then
  for run in ${FP8_ARMS:-fp8:bf16 fp8-ffn:bf16 fp8:fp8}; do
    IFS=: read -r precision attention <<<"$run"
    name=${precision}_attention_$attention${FP8_ATTENTION:+_$FP8_ATTENTION}
    note "eval: --precision $precision --attention-precision $attention ${FP8_ATTENTION:-dense} against BF16, $PROMPTS prompts x $SEEDS seeds"
    timeout 120 build-gpu/vidsparse eval --precision "$precision" --attention-precision "$attention" \
      ${FP8_ATTENTION:+--attention $FP8_ATTENTION} --prompts "$PROMPTS" --seeds "$SEEDS" -o "$R/fp8_eval_$name.json" \
      >"$R/fp8_eval_$name.log" 2>&1
    echo "exit $?"; rows "$R/fp8_eval_$name.log"
    pack
  done
fi
if has svg2; then
  IFS=';' read -ra modes <<<"${SVG2_MODES:-svg --density 0.25;svg2 --svg2-budget 0.364}"
  for mode in "${modes[@]}"; do
    set -- $mode
    note "eval: --attention $* against dense, $PROMPTS prompts x $SEEDS seeds"
    name=$(echo "$*" | tr -d ' -' | tr '.' 'p')
    timeout 150 build-gpu/vidsparse eval --device cuda --attention "$@" --prompts "$PROMPTS" --seeds "$SEEDS" \
      -o "$R/svg2_eval_$name.json" >"$R/svg2_eval_$name.log" 2>&1
    echo "exit $?"; rows "$R/svg2_eval_$name.log"
    pack
  done
fi
if has fp8keep && git apply tools/experiments/fp8_keep_layers.patch; then
  build_gpu vidsparse_cli || { grep -E "error" "$R/build.log" | head -20; }
  for keep in ${FP8_KEEP:-attn1.to_q,attn1.to_k attn1.to_v,attn1.to_out attn2.to_q,attn2.to_out attn2.to_k,attn2.to_v \
              blocks.0. blocks.3.}; do
    name=$(echo "$keep" | tr -c 'a-z0-9\n' '_')
    note "eval: --precision fp8 with $keep in BF16, $PROMPTS prompts x $SEEDS seeds"
    VS_FP8_KEEP=$keep timeout 100 build-gpu/vidsparse eval --precision fp8 --prompts "$PROMPTS" --seeds "$SEEDS" \
      -o "$R/fp8keep_$name.json" >"$R/fp8keep_$name.log" 2>&1
    echo "exit $?"; rows "$R/fp8keep_$name.log"
    pack
  done
  git apply -R tools/experiments/fp8_keep_layers.patch
  build_gpu vidsparse_cli >/dev/null
fi
cp "$R"/*.json "$OUT/" 2>/dev/null
pack
note "done ($SECONDS s)"
