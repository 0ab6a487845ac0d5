#!/usr/bin/env bash
# CogVideoX 1.5 as a whole family on the accelerator (issue 18), most important first, each stage packed as it
# ends, within BUDGET_S seconds (default 120; a stage that cannot fit in what is left is skipped, said so):
#   test       tests/gpu/test_cogvideox_pipeline_cuda (pipeline case only): the tiny random CogVideoXPipeline and
#              CogVideoXImageToVideoPipeline folders (tests/data/cogvideox_pipeline) run whole (T5, the first
#              frame's VAE encode, 3 DPM steps with CFG 6, VAE decode) against diffusers' f32 frames at rel L2
#              2e-2 (T2V, T2V with dynamic CFG, I2V, and the VAE alone on diffusers' latents).
#   ours       `vidsparse bench generate --config cogvideox1.5-5b-i2v` with random weights for T5-XXL, the 5B I2V
#              DiT and the VAE at their real configurations: 768x1360, 81 frames, CFG 6, SVG 0.25 (one dense
#              layer of 42), 4 steps of which the first 2 dense (--dense-steps 0.5): a steady dense step (2), the
#              first SVG step (3, which sets SVG up) and a steady one (4), text, first-frame encode, tiled VAE
#              decode, peak GPU memory.
#   diffusers  tools/cogvideox_pipeline_bench.py: CogVideoXImageToVideoPipeline with random bf16 weights at the
#              same configurations and settings (2 timed steps of a 50-step schedule, tiled VAE).
# Then $R/cogvideox_i2v_e2e.json (copied to $OUT): both 50-step estimates side by side (extrapolated from the
# timed steps, said so), ours with the reference's warm-up (10 dense, 40 SVG steps) and all dense. A diffusers
# stage cut short is completed from the component numbers the cogdit / cogvae scripts measured on main bd647a3
# (forward 3.81 s, decode 16.1 s, encode 0.15 s), marked as such.
# PHASE=all (default) | test | ours | diffusers.
# Usage on the accelerator: OUT=/tmp/o [PHASE=all] [BUDGET_S=120] VS_GIT_COMMIT=abc1234 bash tools/run_cogfam_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
source tools/gpu_env.sh
export VS_GIT_COMMIT=${VS_GIT_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
PHASE=${PHASE:-all}
BUDGET_S=${BUDGET_S:-120}
left() { echo $((BUDGET_S - ($(date +%s) - start))); }
# run_stage NAME NEEDED_S MAX_S: whether stage NAME runs now, and its timeout in $limit (what is left, at most MAX_S).
run_stage() {
  if [ "$PHASE" != all ] && [ "$PHASE" != "$1" ]; then return 1; fi
  local l; l=$(left)
  if [ "$l" -lt "$2" ]; then echo "skipped $1: $l s left of BUDGET_S=$BUDGET_S, it needs about $2"; return 1; fi
  limit=$((l < $3 ? l : $3))
}

summarize() {
  python3 - "$R" <<'PY'
import datetime, json, os, sys
r = sys.argv[1]
def load(name):
    try:
        return json.load(open(os.path.join(r, name)))
    except (OSError, ValueError):
        return None
ours, theirs = load("ours.json"), load("diffusers.json")
out = {"benchmark": "cogvideox1.5_5b_i2v_end_to_end", "commit": os.environ.get("VS_GIT_COMMIT"),
       "date": datetime.date.today().isoformat(), "command": "OUT=/tmp/o bash tools/run_cogfam_gpu.sh",
       "setting": "CogVideoX 1.5 5B I2V, random bf16 weights for T5-XXL, the DiT and the VAE at their real "
                  "configurations, 768x1360, 81 frames, 226 text tokens, CFG 6 (batch 2), 50-step schedule, "
                  "tiled VAE; loading and building the weights not counted",
       "extrapolation": "50-step totals are extrapolated from timed steps (ours: 4, diffusers: 2), not full runs",
       "kept_fraction": 0.25}
if ours:
    row = ours["results"][-1]  # bench generate's numbers are fields of its row
    get = row.get
    steps = [get("step_%d_s" % i) for i in range(1, 5)]
    fixed = get("text_s") + get("image_s") + get("vae_s")
    dense, first_sparse, sparse = steps[1], steps[2], steps[3]
    out["ours"] = {"text_s": get("text_s"), "image_s": get("image_s"), "vae_s": get("vae_s"), "step_s": steps,
                   "dense_step_s": dense, "first_svg_step_s": first_sparse, "svg_step_s": sparse,
                   "peak_mib": get("peak_mib"),
                   "peak_text_mib": get("peak_text_mib"), "peak_denoise_mib": get("peak_denoise_mib"),
                   "peak_vae_mib": get("peak_vae_mib"), "plan_resident": get("plan_resident"),
                   "svg_50_steps_s": fixed + steps[0] + 9 * dense + first_sparse + 39 * sparse,
                   "dense_50_steps_s": fixed + steps[0] + 49 * dense,
                   "how": "text + image + step 1 + (9 dense + the first SVG + 39 SVG | 49 dense) x the step of "
                          "each kind (step 2 dense; step 3 the first SVG; step 4 SVG) + VAE"}
# What the cogdit / cogvae scripts measured on main bd647a3 (13:15 UTC), for a diffusers stage cut short.
MAIN = {"forward_s": 3.81424853515625, "decode_s": 16.057, "encode_s": 0.1464}
if not theirs:
    theirs = {"source": "not run in this call: only the component numbers of main bd647a3"}
if not theirs.get("end_to_end_50_steps_s_extrapolated"):
    steps = theirs.get("step_s") or []
    step = theirs.get("step_steady_s") or 2 * MAIN["forward_s"]
    first = steps[0] if steps else step + MAIN["encode_s"]
    decode = theirs.get("decode_s") or MAIN["decode_s"]
    theirs["end_to_end_50_steps_s_extrapolated"] = theirs.get("text_s", 0) + first + 49 * step + decode
    theirs["completed_from_main_bd647a3"] = [k for k, v in (("steps", steps), ("decode_s", theirs.get("decode_s")))
                                              if not v]
out["diffusers"] = theirs
d = theirs["end_to_end_50_steps_s_extrapolated"]
if ours and d:
    out["speedup_svg_0.25"] = d / out["ours"]["svg_50_steps_s"]
    out["speedup_dense"] = d / out["ours"]["dense_50_steps_s"]
json.dump(out, open(os.path.join(r, "cogvideox_i2v_e2e.json"), "w"), indent=1)
if ours:
    o = out["ours"]
    print("ours: text %.2f s, image %.2f s, steps %s s, VAE %.1f s; 50 steps: SVG %.1f s, dense %.1f s; peak %.0f MiB"
          % (o["text_s"], o["image_s"], ["%.2f" % x for x in o["step_s"]], o["vae_s"], o["svg_50_steps_s"],
             o["dense_50_steps_s"], o["peak_mib"] or 0))
print("diffusers: text %s s, steps %s s, decode %s s; 50 steps %.1f s%s" % (theirs.get("text_s"), theirs.get("step_s"),
      theirs.get("decode_s"), d, " (completed from main bd647a3: %s)" % theirs["completed_from_main_bd647a3"]
      if theirs.get("completed_from_main_bd647a3") else ""))
print({k: round(v, 2) for k, v in out.items() if k.startswith("speedup")}, "target: svg_0.25 >= 1.8")
PY
}

note "build"
build_gpu test_cogvideox_pipeline_cuda vidsparse_cli || { grep -E "error" "$R/build.log" | head -20; pack; exit 1; }
if run_stage test 15 40; then
  note "test_cogvideox_pipeline_cuda"
  VS_TEST_ONLY=pipeline_matches timeout "$limit" build-gpu/test_cogvideox_pipeline_cuda >"$R/test_pipeline_cuda.log" 2>&1
  echo "exit $?"; grep -vE "^vidsparse (info|warn)" "$R/test_pipeline_cuda.log" | tail -n 10
  pack
fi
if run_stage ours 40 90; then
  note "ours: bench generate cogvideox1.5-5b-i2v 768x1360, 81 frames, 4 steps (2 dense, 2 SVG 0.25), CFG 6"
  timeout "$limit" build-gpu/vidsparse bench generate --config cogvideox1.5-5b-i2v --resolution 768x1360 --frames 81 \
    --steps 4 --cfg 6 --attention svg --density 0.25 --dense-steps 0.5 -o "$R/ours.json" >"$R/ours.log" 2>&1
  echo "exit $?"; grep -vE "^vidsparse info" "$R/ours.log" | tail -n 6
  pack
fi
if run_stage diffusers 25 70; then
  note "diffusers: CogVideoXImageToVideoPipeline, same settings, 2 steps (cut at $limit s)"
  timeout "$limit" python3 tools/cogvideox_pipeline_bench.py "$R/diffusers.json" --steps 2 >"$R/diffusers.log" 2>&1
  echo "exit $?"; grep -vE "Warning|warn\(|^\s*$" "$R/diffusers.log" | tail -n 6
  pack
fi
summarize
cp "$R/cogvideox_i2v_e2e.json" "$OUT/" 2>/dev/null
pack
note "done in $(( $(date +%s) - start )) s"
