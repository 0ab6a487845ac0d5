#!/usr/bin/env bash
# Step caching (issue 21, docs/caching.md) on the accelerator, in one call of at most ~6 minutes:
#   1. build; test_cache and test_wan_cuda (the forward after the time-embedding change);
#   2. a recording of the embedded model on the GPU (bf16) checked by tools/cache_reference.py, and its
#      TeaCache signal (the time embedding) against the CPU recording's;
#   3. vidsparse eval on the embedded model: easycache and fora at their defaults, dense and SVG, against no
#      cache (32 prompts x 2 seeds) -> $OUT/cache_eval_tiny.json;
#   4. the denoising loop at Wan 14B 720p (random bf16 weights, 81 frames, CFG 5, 512 text tokens), dense and
#      SVG at kept fraction 0.25 in every step: 5 steps under fora N=3 (pattern RR--R), the median ran step
#      against the median reused step -> $OUT/cache_loop_wan14b_720p_{dense,svg}.json, and the 50-step
#      projection at EasyCache's published skip rate -> $OUT/cache_projection_wan14b_720p.json;
#   5. if time is left: eval at easycache thresholds 0.1 and 0.2 and fora N=2.
# Usage on the accelerator: OUT=/tmp/o VS_GIT_COMMIT=$(git rev-parse --short HEAD) bash tools/run_cache_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh
B=build-gpu/vidsparse

note "build"
build_gpu vidsparse_cli test_cache test_wan_cuda || { grep -E "error" "$R/build.log" | head -20; pack; exit 1; }
note "tests"
{ build-gpu/test_cache; build-gpu/test_wan_cuda; } >"$R/tests.log" 2>&1
grep -E "^(ok|FAIL)|passed|failed" "$R/tests.log" | grep -v "^ok" | tail -n 20
pack

note "GPU recording (embedded model, bf16, easycache) against the reference rule; its signal against the CPU's"
$B denoise --model models/vidsparse-tiny -p "two yellow squares moving up on a black background" --frames 2 \
  --height 16 --width 16 --steps 20 --cfg 4 --seed 3 --device cuda --attention dense --cache easycache \
  --cache-record "$R/easycache_gpu.safetensors" -o "$R/lat.safetensors" 2>&1 | grep -E "passes|error"
python3 tools/cache_reference.py "$R/easycache_gpu.safetensors" tests/data/cache/easycache.safetensors | grep -v teacache
python3 - "$R/easycache_gpu.safetensors" tests/data/cache/easycache.safetensors <<'EOF'
import sys
sys.path.insert(0, "tools")
import numpy as np
from cache_reference import read_safetensors
gpu, cpu = (read_safetensors(p)[0]["signal"].astype(np.float64) for p in sys.argv[1:3])
print(f"TeaCache signal (time embedding) GPU vs CPU: rel L2 {np.linalg.norm(gpu - cpu) / np.linalg.norm(cpu):.2e}")
EOF
pack

note "eval: embedded model, 32 prompts x 2 seeds, easycache and fora at their defaults"
timeout 150 $B eval --prompts 32 --seeds 2 --cache easycache,fora -o "$R/cache_eval_tiny.json" >"$R/eval.log" 2>&1 ||
  tail -n 3 "$R/eval.log"
grep -vE "^\[|^vidsparse info" "$R/eval.log" | tail -n 12
cp "$R/cache_eval_tiny.json" "$OUT/" 2>/dev/null
pack

for mode in dense svg; do
  note "loop: wan14b 720p $mode, 5 steps, CFG 5, fora N=3"
  timeout 170 $B bench dit --config wan14b --resolution 720p --steps 5 --cfg 5 --cache fora --cache-threshold 3 \
    --attention $mode --density 0.25 -o "$R/cache_loop_wan14b_720p_$mode.json" >"$R/loop_$mode.log" 2>&1 ||
    tail -n 3 "$R/loop_$mode.log"
  grep -E "step [0-9]+:|^loop|cache fora" "$R/loop_$mode.log" | tail -n 8
  cp "$R/cache_loop_wan14b_720p_$mode.json" "$OUT/" 2>/dev/null
  pack
done

python3 - "$R" <<'EOF'
import json, os, sys, datetime
r = sys.argv[1]
def loop(mode):
    doc = json.load(open(os.path.join(r, f"cache_loop_wan14b_720p_{mode}.json")))
    rows = {row["name"].rsplit(" ", 2)[-2]: row for row in doc["results"]}
    return rows["ran"]["median_ms"] / 1e3, rows["reused"]["median_ms"] / 1e3, doc
try:
    dense_s, dense_reuse_s, doc = loop("dense")
    svg_s, svg_reuse_s, _ = loop("svg")
except (OSError, KeyError, ValueError) as e:
    sys.exit(f"projection: no loop results ({e})")
steps, warm = 50, 10         # 50 steps; SVG's dense warm-up (0.2) = EasyCache's retained steps (10 of 50)
published = 6862 / 2884      # EasyCache4Wan2.1 README: Wan2.1-T2V-14B 720p, H20: 6862 s -> 2884 s
ran = round(steps / published)   # DiT passes that speed-up implies: 21 of 50 steps
reuse_s = max(dense_reuse_s, svg_reuse_s)
diffusers_s = steps * 2 * 12.5   # diffusers' WanPipeline, 12.5 s per forward on the H200 (DESIGN.md), 2 per step
rows = {
    "dense, no cache": steps * dense_s,
    "svg 0.25, no cache": warm * dense_s + (steps - warm) * svg_s,
    "dense + easycache (published rate)": ran * dense_s + (steps - ran) * reuse_s,
    "svg 0.25 + easycache (published rate)": warm * dense_s + (ran - warm) * svg_s + (steps - ran) * reuse_s,
}
out = {"benchmark": "cache_projection", "device": doc.get("device"), "commit": os.environ.get("VS_GIT_COMMIT"),
       "date": datetime.date.today().isoformat(),
       "command": "bash tools/run_cache_gpu.sh (bench dit --config wan14b --resolution 720p --steps 5 --cfg 5 "
                  "--cache fora --cache-threshold 3 --attention dense|svg --density 0.25)",
       "note": "end-to-end DiT time of 50 steps with CFG composed from measured step times (one call, random bf16 "
               "weights): ran steps of the dense and SVG loops, the slower reused step; SVG runs dense for its "
               "warm-up (the first 10 steps, which EasyCache also runs); EasyCache's published rate: "
               f"{published:.2f}x on Wan2.1-T2V-14B 720p (EasyCache4Wan2.1 README, 6862 s -> 2884 s on an H20) = "
               f"{ran} of {steps} steps run. diffusers: 12.5 s per forward on the H200 (DESIGN.md), 2 per step.",
       "ran_step_dense_s": dense_s, "ran_step_svg_s": svg_s, "reused_step_s": reuse_s,
       "reused_over_ran_dense": dense_reuse_s / dense_s, "reused_over_ran_svg": svg_reuse_s / svg_s,
       "steps": steps, "steps_run_published_rate": ran, "diffusers_s": diffusers_s,
       "results": [{"name": k, "projected_s": v, "speedup_vs_diffusers": diffusers_s / v} for k, v in rows.items()]}
json.dump(out, open(os.path.join(r, "cache_projection_wan14b_720p.json"), "w"), indent=1)
print(f"ran step: dense {dense_s:.2f} s, svg {svg_s:.2f} s; reused {reuse_s * 1e3:.1f} ms "
      f"({100 * dense_reuse_s / dense_s:.3f}% / {100 * svg_reuse_s / svg_s:.3f}% of a ran step)")
for k, v in rows.items():
    print(f"{k:40s} {v:8.1f} s  {diffusers_s / v:5.2f}x diffusers ({diffusers_s:.0f} s)")
EOF
cp "$R/cache_projection_wan14b_720p.json" "$OUT/" 2>/dev/null
pack

for extra in "easycache 0.1" "easycache 0.2" "fora 2"; do
  [ "$SECONDS" -gt 300 ] && { note "no time left for the threshold sweep"; break; }
  set -- $extra
  note "eval sweep: $1 threshold $2"
  timeout $((350 - SECONDS)) $B eval --prompts 32 --seeds 2 --cache "$1" --cache-threshold "$2" \
    -o "$R/cache_eval_tiny_$1_$2.json" >"$R/eval_$1_$2.log" 2>&1
  grep -E "^(dense|svg) *\+" "$R/eval_$1_$2.log"
  pack
done
note "done"
