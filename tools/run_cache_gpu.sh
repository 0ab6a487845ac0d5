#!/usr/bin/env bash
# Step caching (issue 21, docs/caching.md) on the accelerator, in one call of about 5 minutes. Stages, each
# printed in short and packed into $OUT/results.tgz as it ends (later ones skipped when time runs short):
#   1. build; test_cache (CPU, incl. HunyuanVideo's TeaCache signal) and test_cache_cuda (the same signal on
#      the GPU against diffusers);
#   2. a recording of the embedded model on the GPU (bf16, easycache) checked by tools/cache_reference.py, and
#      coverage: denoise with SVG2, FP8 and SVG under easycache and fora, the latents' rel L2 against no cache
#      and the passes run/reused;
#   3. eval on the embedded model, 32 prompts x 2 seeds, easycache and fora at their defaults, dense and SVG
#      against no cache -> $OUT/cache_eval_tiny.json;
#   4. coverage: the same with SVG2 (--attention svg2) and with FP8 weights (--precision fp8), 16 prompts x 1
#      seed: passes run/reused, PSNR against the same arm without a cache;
#   5. the published step count: eval at 50 steps (EasyCache retains 10 of 50 steps, as its Wan script),
#      and a threshold / interval sweep at 20 steps (easycache 0.025 and 0.1, fora 2) -> $OUT/cache_sweep.json;
#   6. timing: the denoising loop at Wan 1.3B 480p (81 frames, CFG 5), dense, SVG 0.25, SVG2, FP8, 4 steps under
#      fora N=3 (pattern R--R): the median ran step against the median reused step -> $OUT/cache_loop_wan1.3b.json;
#   7. HunyuanVideo 13B (random weights, 256x256, 9 frames, no CFG): bench dit --steps 10 with easycache, fora and
#      teacache (its published fit): passes run/reused and step times (needs the family's default scheduler,
#      which the HunyuanVideo pipeline work adds);
#   8. with BUDGET >= ~500: the dense Wan 14B 720p loop (fora N=3, 4 steps) -> $OUT/cache_loop_wan14b_720p_dense.json,
#      and the 50-step projection with the committed SVG loop -> $OUT/cache_projection_wan14b_720p.json.
# PHASE=test: 1 and 2 only (about 30 s after the build). Usage on the accelerator:
#   OUT=/tmp/o VS_GIT_COMMIT=$(git rev-parse --short HEAD) [PHASE=test] [BUDGET=300] bash tools/run_cache_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh
B=build-gpu/vidsparse
BUDGET=${BUDGET:-300}
left() { echo $((BUDGET - SECONDS)); }
# skip a stage that needs about $1 seconds when less is left
enough() { [ "$(left)" -ge "$1" ] || { note "skipped: $2 (needs ~$1 s, $(left) s left)"; return 1; }; }
# the summary rows of an eval log: one per arm and policy
eval_rows() { grep -E "^prompt accuracy|^[a-z0-9.]+ vs |^[a-z0-9.]+ +\+ " "$1" | tail -n 12; }

note "build"
build_gpu vidsparse_cli test_cache test_cache_cuda || { grep -E "error" "$R/build.log" | head -20; pack; exit 1; }
note "tests"
{ build-gpu/test_cache; build-gpu/test_cache_cuda; } >"$R/tests.log" 2>&1
grep -E "^(ok|FAIL)|passed|failed|relative L2" "$R/tests.log" | grep -v "^ok" | tail -n 20
pack

note "GPU recording (embedded model, bf16, easycache) against the reference rule"
$B denoise --model models/vidsparse-tiny -p "two yellow squares moving up on a black background" --frames 2 \
  --height 16 --width 16 --steps 20 --cfg 4 --seed 3 --device cuda --attention dense --cache easycache \
  --cache-record "$R/easycache_gpu.safetensors" -o "$R/lat.safetensors" 2>&1 | grep -E "passes|error"
python3 tools/cache_reference.py "$R/easycache_gpu.safetensors" | grep -v teacache
pack

note "coverage: denoise on the embedded model (its eval settings: 16 x 32 x 32, 20 steps, CFG 4), cached vs uncached"
for arm in "--attention svg2" "--precision fp8" "--attention svg"; do
  tag=${arm##* }
  for policy in none easycache fora; do
    $B denoise --model models/vidsparse-tiny -p "three red circles moving right on a white background" --seed 5 \
      --frames 16 --height 32 --width 32 --steps 20 --cfg 4 --device cuda $arm --cache $policy -o "$R/cov_${tag}_$policy.safetensors" >"$R/cov_${tag}_$policy.log" 2>&1 ||
      tail -n 2 "$R/cov_${tag}_$policy.log"
  done
  python3 - "$R" "$tag" <<'EOF'
import sys
sys.path.insert(0, "tools")
import numpy as np
from cache_reference import read_safetensors
r, tag = sys.argv[1:3]
base = next(iter(read_safetensors(f"{r}/cov_{tag}_none.safetensors")[0].values())).astype(np.float64)
for policy in ("easycache", "fora"):
    try:
        got = next(iter(read_safetensors(f"{r}/cov_{tag}_{policy}.safetensors")[0].values())).astype(np.float64)
        passes = [l for l in open(f"{r}/cov_{tag}_{policy}.log") if "DiT passes" in l]
        print(f"{tag:5s} + {policy:9s} latents rel L2 vs no cache {np.linalg.norm(got - base) / np.linalg.norm(base):.4f}; "
              f"{passes[-1].split(': ', 2)[-1].strip() if passes else 'no pass count'}")
    except (OSError, KeyError, StopIteration) as e:
        print(f"{tag} + {policy}: no result ({e})")
EOF
done
pack
[ "${PHASE:-all}" = test ] && { note "done (tests)"; exit 0; }

note "eval: embedded model, 32 prompts x 2 seeds, easycache and fora at their defaults, dense and SVG"
timeout 120 $B eval --prompts 32 --seeds 2 --cache easycache,fora -o "$R/cache_eval_tiny.json" >"$R/eval.log" 2>&1 ||
  tail -n 3 "$R/eval.log"
eval_rows "$R/eval.log"
cp "$R/cache_eval_tiny.json" "$OUT/" 2>/dev/null
pack

for arm in "--attention svg2" "--precision fp8"; do
  enough 40 "eval $arm" || break
  tag=${arm##* }
  note "eval coverage $arm: 16 prompts x 1 seed, easycache and fora"
  timeout 60 $B eval --prompts 16 --seeds 1 $arm --cache easycache,fora -o "$R/cache_eval_tiny_$tag.json" \
    >"$R/eval_$tag.log" 2>&1 || tail -n 3 "$R/eval_$tag.log"
  eval_rows "$R/eval_$tag.log"
  pack
done

for run in "steps50 --steps 50 --cache easycache,fora" "easycache0.025 --cache easycache --cache-threshold 0.025" \
           "easycache0.1 --cache easycache --cache-threshold 0.1" "fora2 --cache fora --cache-threshold 2"; do
  set -- $run
  tag=$1
  shift
  enough 40 "eval $tag" || break
  note "eval $tag: 32 prompts x 2 seeds ($*)"
  timeout 100 $B eval --prompts 32 --seeds 2 "$@" -o "$R/cache_eval_tiny_$tag.json" >"$R/eval_$tag.log" 2>&1 ||
    tail -n 3 "$R/eval_$tag.log"
  eval_rows "$R/eval_$tag.log"
  pack
done
python3 - "$R" <<'EOF'
import glob, json, os, sys
r = sys.argv[1]
out = {}
for path in sorted(glob.glob(os.path.join(r, "cache_eval_tiny*.json"))):
    tag = os.path.basename(path)[len("cache_eval_tiny"):-5].lstrip("_") or "defaults"
    doc = json.load(open(path))
    out[tag] = {"command": doc.get("command"), "commit": doc.get("commit"), "device": doc.get("device"),
                "results": [{k: row.get(k) for k in ("name", "prompt_accuracy", "prompt_accuracy_change", "psnr_db",
                                                      "psnr_min_db", "ssim", "passes_run", "passes_reused",
                                                      "passes_fraction_run", "cache_threshold")}
                            for row in doc["results"]]}
json.dump(out, open(os.path.join(r, "cache_sweep.json"), "w"), indent=1)
EOF
cp "$R/cache_sweep.json" "$OUT/" 2>/dev/null
pack

for mode in "dense" "svg" "svg2" "fp8"; do
  enough 35 "loop wan1.3b 480p $mode" || break
  note "loop: wan1.3b 480p $mode, 4 steps, CFG 5, fora N=3"
  opts="--attention $mode --density 0.25"
  [ "$mode" = fp8 ] && opts="--attention dense --precision fp8"
  timeout 90 $B bench dit --config wan1.3b --resolution 480p --steps 4 --cfg 5 --cache fora --cache-threshold 3 \
    $opts -o "$R/cache_loop_wan1.3b_480p_$mode.json" >"$R/loop_$mode.log" 2>&1 || tail -n 3 "$R/loop_$mode.log"
  grep -E "step [0-9]+:|^loop|cache fora|reused" "$R/loop_$mode.log" | tail -n 4
  pack
done
python3 - "$R" <<'EOF'
import glob, json, os, sys
r = sys.argv[1]
rows = []
for path in sorted(glob.glob(os.path.join(r, "cache_loop_wan1.3b_480p_*.json"))):
    doc = json.load(open(path))
    by = {row["name"].rsplit(" ", 2)[-2]: row for row in doc["results"]}
    if "ran" in by and "reused" in by:
        mode = os.path.basename(path)[len("cache_loop_wan1.3b_480p_"):-5]
        ran, reused = by["ran"]["median_ms"], by["reused"]["median_ms"]
        rows.append({"mode": mode, "ran_step_ms": ran, "reused_step_ms": reused, "reused_over_ran": reused / ran,
                     "device": doc.get("device"), "command": doc.get("command")})
        print(f"wan1.3b 480p {mode:6s} ran step {ran:8.1f} ms  reused {reused:6.1f} ms  = {100 * reused / ran:.2f}%")
if rows:
    json.dump({"benchmark": "cache_loop_wan1.3b_480p", "commit": os.environ.get("VS_GIT_COMMIT"),
               "note": "bench dit --config wan1.3b --resolution 480p --steps 4 --cfg 5 --cache fora --cache-threshold 3 "
                       "(pattern R--R; the first step left out of the medians), random bf16 weights, 81 frames, "
                       "512 text tokens; SVG/SVG2 at kept fraction 0.25 in every step; fp8: dense attention, FP8 linears",
               "results": rows}, open(os.path.join(r, "cache_loop_wan1.3b.json"), "w"), indent=1)
EOF
cp "$R/cache_loop_wan1.3b.json" "$OUT/" 2>/dev/null
pack

for policy in "easycache -1" "fora 2" "teacache -1"; do
  set -- $policy
  enough 30 "hunyuan13b $1" || break
  note "hunyuan13b 256x256 9 frames, 10 steps, no CFG (embedded guidance), $1"
  timeout 60 $B bench dit --config hunyuan13b --resolution 256x256 --frames 9 --text-len 256 --steps 10 --cfg 1 \
    --cache "$1" --cache-threshold "$2" -o "$R/cache_loop_hunyuan_$1.json" >"$R/hunyuan_$1.log" 2>&1
  rc=$?
  grep -E "step [0-9]+:|^loop|cache|reused|error" "$R/hunyuan_$1.log" | grep -v "^vidsparse info: bench" | tail -n 6
  pack
  [ $rc -eq 0 ] || break
done
# 8. only with a larger BUDGET: the dense 14B 720p loop, which no earlier call had time for (docs/caching.md)
if enough 200 "wan14b 720p dense loop" 2>/dev/null; then
  note "loop: wan14b 720p dense, 4 steps, CFG 5, fora N=3"
  timeout 190 $B bench dit --config wan14b --resolution 720p --steps 4 --cfg 5 --cache fora --cache-threshold 3 \
    --attention dense -o "$R/cache_loop_wan14b_720p_dense.json" >"$R/loop14b.log" 2>&1 || tail -n 3 "$R/loop14b.log"
  grep -E "^loop|cache fora" "$R/loop14b.log"
  cp "$R/cache_loop_wan14b_720p_dense.json" "$OUT/" 2>/dev/null
  # the 50-step projection: this dense loop, the SVG loop of bench/results (H200, commit fc522be)
  python3 - "$R/cache_loop_wan14b_720p_dense.json" bench/results/cache_loop_wan14b_720p_svg_h200.json <<'EOF'
import json, os, sys
def loop(path):
    rows = {row["name"].rsplit(" ", 2)[-2]: row for row in json.load(open(path))["results"]}
    return rows["ran"]["median_ms"] / 1e3, rows["reused"]["median_ms"] / 1e3
try:
    (dense_s, dense_reuse_s), (svg_s, svg_reuse_s) = loop(sys.argv[1]), loop(sys.argv[2])
except (OSError, KeyError, ValueError) as e:
    sys.exit(f"projection: no loop results ({e})")
steps, warm = 50, 10           # SVG's dense warm-up (0.2 of 50) = EasyCache's 10 retained steps
ran = round(steps / (6862 / 2884))  # EasyCache4Wan2.1 README: Wan2.1-T2V-14B 720p 6862 s -> 2884 s: 21 of 50 run
reuse_s, diffusers_s = max(dense_reuse_s, svg_reuse_s), steps * 2 * 12.322  # diffusers: 12.32 s per forward (H200)
rows = {"dense, no cache": steps * dense_s, "svg 0.25, no cache": warm * dense_s + (steps - warm) * svg_s,
        "dense + easycache (published rate)": ran * dense_s + (steps - ran) * reuse_s,
        "svg 0.25 + easycache (published rate)": warm * dense_s + (ran - warm) * svg_s + (steps - ran) * reuse_s}
print(f"ran step dense {dense_s:.2f} s (reused {100 * dense_reuse_s / dense_s:.2f}%), svg {svg_s:.2f} s")
for k, v in rows.items():
    print(f"{k:40s} {v:8.1f} s  {diffusers_s / v:5.2f}x diffusers ({diffusers_s:.0f} s)")
json.dump({"benchmark": "cache_projection", "commit": os.environ.get("VS_GIT_COMMIT"),
           "note": "50 steps with CFG composed from measured steps: the dense loop of this call, the SVG loop of "
                   "bench/results/cache_loop_wan14b_720p_svg_h200.json, the slower reused step; EasyCache's published "
                   f"rate ({ran} of 50 steps run); diffusers 12.322 s per forward (bench/results/python_diffusers_svg_h200.json)",
           "ran_step_dense_s": dense_s, "ran_step_svg_s": svg_s, "reused_step_s": reuse_s, "diffusers_s": diffusers_s,
           "results": [{"name": k, "projected_s": v, "speedup_vs_diffusers": diffusers_s / v} for k, v in rows.items()]},
          open(os.path.join(os.path.dirname(sys.argv[1]), "cache_projection_wan14b_720p.json"), "w"), indent=1)
EOF
  cp "$R/cache_projection_wan14b_720p.json" "$OUT/" 2>/dev/null
  pack
fi
note "done ($SECONDS s)"
