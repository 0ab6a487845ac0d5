#!/usr/bin/env bash
# The CogVideoX 1.5 DiT on the accelerator (issue 18), within 5 minutes, each stage packed as it ends:
#   1. CUDA build; tests/gpu/test_cogvideox_cuda (the golden files of T2V and I2V with every intermediate,
#      device tensors with a poisoned output, SVG, a random I2V model GPU vs CPU, the T5 v1.1 encoder against
#      transformers) and test_umt5_cuda (the umT5 encoder, whose code T5 now shares).
#   2. bench: one forward of the whole 5B text-to-video DiT with random bf16 weights at 768x1360, 81 frames
#      (22 latent frames after the pipeline's padding: 11 x 4080 video tokens), 226 text tokens, batch 1:
#      diffusers' CogVideoXTransformer3DModel (SDPA, eager; one warm-up, median of 2), ours dense and ours SVG
#      at the default kept fraction 0.25 in every layer (no warm-up: `bench dit` measures the sparse path),
#      each after one warm-up forward, median of 2; the ratios against diffusers in the same call:
#      $R/cogvideox_dit.json, copied to $OUT.
#      COMPILE=1: diffusers under torch.compile too (a few minutes more), a column of its own.
#   3. diffusers makes one block at the real 1.5 dimensions with random bf16 weights and its f32 forward
#      (tools/cogvideox_gpu_check.py blocks), and test_cogvideox_cuda checks ours against it.
# PHASE=test: 1 and 3; PHASE=bench: 2 (after the build); PHASE=all (default): 1, 2, 3.
# Usage on the accelerator: OUT=/tmp/o [PHASE=all|test|bench] VS_GIT_COMMIT=abc1234 bash tools/run_cogdit_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh
export VS_GIT_COMMIT=${VS_GIT_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}

# The JSON of the bench: $R/cogvideox_dit.json from diffusers' and our runs.
summarize() {
  python3 - "$R" <<'PY'
import datetime, json, os, sys
r = sys.argv[1]
def load(name):
    try:
        return json.load(open(os.path.join(r, name)))
    except (OSError, ValueError):
        return None
def ours(mode):
    doc = load(f"ours_{mode}.json")
    if not doc:
        return None
    row = doc["results"][0]
    return {"forward_s": row["median_ms"] / 1e3, "min_s": row["min_ms"] / 1e3, "max_s": row["max_ms"] / 1e3,
            "attention_share": row.get("attention_share"), "density": row.get("density"),
            "device": doc.get("device"), "cudnn_version": row.get("cudnn_version")}
diff = load("diffusers.json")
out = {"benchmark": "cogvideox1.5_5b_dit_forward", "commit": os.environ.get("VS_GIT_COMMIT"),
       "date": datetime.date.today().isoformat(), "command": "OUT=/tmp/o PHASE=bench bash tools/run_cogdit_gpu.sh",
       "setting": "CogVideoX 1.5 5B T2V DiT, random bf16 weights, 768x1360, 81 frames (22 latent frames: 11 x 4080 "
                  "video tokens), 226 text tokens, batch 1; median of 2 forwards after 1 warm-up; SVG in every layer",
       "ours_dense": ours("dense"), "ours_svg_0.25": ours("svg"),
       "diffusers": dict(diff, source="measured in this call") if diff else
                    {"forward_s": 3.52, "source": "DESIGN.md (not measured in this call: it failed)"}}
compiled = load("diffusers_compiled.json")
if compiled:
    out["diffusers_compiled"] = dict(compiled, source="measured in this call")
d = out["diffusers"]["forward_s"]
for k in ("ours_dense", "ours_svg_0.25"):
    if out[k]:
        out["speedup_" + k[5:]] = d / out[k]["forward_s"]
        if compiled:
            out["speedup_vs_compiled_" + k[5:]] = compiled["forward_s"] / out[k]["forward_s"]
json.dump(out, open(os.path.join(r, "cogvideox_dit.json"), "w"), indent=1)
for k in ("ours_dense", "ours_svg_0.25"):
    v = out[k]
    if v: print(f"{k:14s} {v['forward_s']:7.3f} s  attention {100 * (v['attention_share'] or 0):.0f}%")
print(f"diffusers      {d:7.3f} s  ({out['diffusers']['source']})")
print({k: round(v, 2) for k, v in out.items() if k.startswith("speedup")}, "targets: dense 1.1, svg_0.25 2.0")
PY
}

PHASE=${PHASE:-all}
note "build"
build_gpu test_cogvideox_cuda test_umt5_cuda vidsparse_cli || { grep -E "error" "$R/build.log" | head -20; pack; exit 1; }
if [ "$PHASE" != bench ]; then
  note "test_cogvideox_cuda (the real-dimension block comes after the bench)"
  timeout 100 build-gpu/test_cogvideox_cuda >"$R/test_cogvideox_cuda.log" 2>&1
  echo "test_cogvideox_cuda exit $?"; grep -vE "^vidsparse info" "$R/test_cogvideox_cuda.log" | tail -n 16
  note "test_umt5_cuda (umT5 shares the encoder code with T5 now)"
  timeout 60 build-gpu/test_umt5_cuda >"$R/test_umt5_cuda.log" 2>&1
  echo "test_umt5_cuda exit $?"; grep -E "^(ok|FAIL)|passed" "$R/test_umt5_cuda.log" | tail -n 8
  pack
fi
if [ "$PHASE" != test ]; then
  note "diffusers: the 5B forward at 768x1360, 81 frames"
  timeout 120 python3 tools/cogvideox_gpu_check.py time "$R/diffusers.json" >"$R/diffusers.log" 2>&1
  echo "exit $?"; grep -vE "Warning|warn\(|float32: \[\]" "$R/diffusers.log" | tail -n 4
  pack
  if [ -n "${COMPILE:-}" ]; then
    note "diffusers under torch.compile"
    timeout 240 python3 tools/cogvideox_gpu_check.py time "$R/diffusers_compiled.json" --compile >"$R/diffusers_compiled.log" 2>&1
    echo "exit $?"; grep -vE "Warning|warn\(|float32: \[\]" "$R/diffusers_compiled.log" | tail -n 4
    pack
  fi
  for mode in dense svg; do
    note "ours $mode"
    timeout 90 build-gpu/vidsparse bench dit --config cogvideox1.5-5b --resolution 768x1360 --frames 81 --text-len 226 \
      --attention "$mode" --density 0.25 --warmup 1 --repeats 2 -o "$R/ours_$mode.json" >"$R/ours_$mode.log" 2>&1
    echo "exit $?"; grep -E "forward|tokens|error" "$R/ours_$mode.log" | tail -n 4
    pack
  done
  summarize
  cp "$R/cogvideox_dit.json" "$OUT/" 2>/dev/null
  pack
fi
if [ "$PHASE" != bench ]; then
  note "diffusers: one block at the real dimensions"
  real=$(mktemp -d)
  timeout 100 python3 tools/cogvideox_gpu_check.py blocks "$real" >"$R/blocks.log" 2>&1
  echo "blocks exit $?"; grep -vE "Warning|warn\(|float32: \[\]|^\s*$" "$R/blocks.log" | tail -n 6
  note "test_cogvideox_cuda: the real-dimension block against diffusers"
  VS_TEST_ONLY=real_dimensions VS_COGVIDEOX_REAL_DIR=$real timeout 100 build-gpu/test_cogvideox_cuda \
    >"$R/test_cogvideox_cuda_real.log" 2>&1
  echo "exit $?"; grep -vE "^vidsparse info" "$R/test_cogvideox_cuda_real.log" | tail -n 6
  rm -rf "$real"
  pack
fi
note done
