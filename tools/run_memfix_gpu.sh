#!/usr/bin/env bash
# The memory plan against the device's own report (issue 20's memory targets; docs/memory.md): `vidsparse
# bench generate` with seeded random weights, 2 steps, and per stage the plan's estimated peak beside the peak
# sampled from cudaMemGetInfo. Runs, most important first (each skipped when too little time is left):
#   Wan 14B FP8 720p 81 frames, CFG 5, SVG 0.25, --gpu-memory 32   (target: every stage within 32 GiB)
#   Wan 14B FP8 480p 81 frames, CFG 5, SVG 0.25, --gpu-memory 24   (target: within 24 GiB)
#   HunyuanVideo 13B bf16 720p 129 frames, 2 steps, --gpu-memory 60
# Summary (plan vs measured per stage, MiB) in $R/memfix_summary.json, copied to $OUT with the run JSONs.
# Usage on the accelerator: OUT=/tmp/o [BUDGET_S=110] bash tools/run_memfix_gpu.sh (main's 720p run took 29 s,
# 480p 10 s, on the H200; HunyuanVideo runs only when 70 s are left)
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh
start=$SECONDS
left() { echo $((${BUDGET_S:-110} - (SECONDS - start))); }

note "build"
build_gpu vidsparse_cli || { grep -E "error" "$R/build.log" | head -20; pack; exit 1; }
bin=build-gpu/vidsparse

# run NAME NEED_S options...: one bench generate, its memory line, skipped with less than NEED_S seconds left
run() {
  local name=$1 need=$2
  shift 2
  note "$name ($(left) s left)"
  [ "$(left)" -gt "$need" ] || { echo "skipped: less than $need s left"; return; }
  timeout "$(left)" $bin bench generate --steps 2 --density 0.25 --extrapolate 0 -o "$R/memfix_$name.json" "$@" \
    >"$R/memfix_$name.log" 2>&1
  echo "exit $?"
  grep -E "^(bench generate|load|GPU memory)|error|Error|memory plan" "$R/memfix_$name.log" | cut -c1-500
  pack
}
run wan14b_720p_fp8_32g 40 --config wan14b --resolution 720p --cfg 5 --attention svg --precision fp8 --gpu-memory 32
run wan14b_480p_fp8_24g 20 --config wan14b --resolution 480p --cfg 5 --attention svg --precision fp8 --gpu-memory 24
run hunyuan13b_720p_129f_60g 70 --config hunyuan13b --resolution 720p --frames 129 --attention svg --gpu-memory 60

python3 - "$R" <<'EOF'
import glob, json, os, sys
r = sys.argv[1]
summary = {"benchmark": "memfix_summary", "unit": "MiB", "runs": {}}
for path in sorted(glob.glob(os.path.join(r, "memfix_*.json"))):
    row = json.load(open(path))["results"][0]
    name = os.path.basename(path)[len("memfix_"):-5]
    out = {"budget_mib": row["gpu_memory_budget_gib"] * 1024, "in_use_before": row["in_use_before_mib"],
           "plan_in_use": row.get("plan_in_use_mib"), "resident": row["plan_resident"],
           "keep_dit_for_decode": row["plan_keep_dit_for_decode"], "tile_vae": row.get("plan_tile_vae"), "open": row.get("peak_open_mib"),
           "vae_reported_activations": row["vae_reported_activations_mib"],
           "vae_reported_workspace": row["vae_reported_workspace_mib"]}
    for stage in ("text", "denoise", "vae"):
        out[stage] = {"measured": row[f"peak_{stage}_mib"], "plan": row[f"plan_peak_{stage}_mib"],
                      "over_plan": row[f"peak_{stage}_mib"] - row[f"plan_peak_{stage}_mib"]}
    for k in ("text", "dit", "vae"):
        out[f"need_{k}"] = {"weights": row[f"need_{k}_weights_mib"], "work": row[f"need_{k}_work_mib"]}
    out["peak"] = row["peak_mib"]
    out["within_budget"] = row["peak_mib"] <= row["gpu_memory_budget_gib"] * 1024
    summary["runs"][name] = out
json.dump(summary, open(os.path.join(r, "memfix_summary.json"), "w"), indent=1)
for name, o in summary["runs"].items():
    print(f"{name}: budget {o['budget_mib']:.0f} peak {o['peak']:.0f} within={o['within_budget']} open {o['open']:.0f} "
          f"keep_dit={o['keep_dit_for_decode']} tile_vae={o['tile_vae']} resident={o['resident']}")
    for stage in ("text", "denoise", "vae"):
        s = o[stage]
        print(f"  {stage:8s} measured {s['measured']:8.0f}  plan {s['plan']:8.0f}  over {s['over_plan']:+7.0f}")
    print("  need " + " ".join(f"{k}={v['weights']:.0f}+{v['work']:.0f}" for k, v in o.items() if k.startswith("need_")) +
          f"; VAE reported activations {o['vae_reported_activations']:.0f} workspace {o['vae_reported_workspace']:.0f}")
EOF
cp "$R"/memfix_*.json "$OUT/" 2>/dev/null
pack
note "done in $((SECONDS - start)) s"
