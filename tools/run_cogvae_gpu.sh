#!/usr/bin/env bash
# CogVideoX VAE on the accelerator (branch cogvae): the CPU and GPU tests of the VAE (fixtures against
# diffusers, the group norm kernel), then the decode of 81 frames at 768x1360 (CogVideoX 1.5's VAE,
# random weights, diffusers' tiling) timed with its GPU memory, ours and diffusers' AutoencoderKLCogVideoX
# in bf16 in the same call (and the one-frame encode of image-to-video), combined into $R/cogvideox_vae_decode.json (copied to $OUT).
# Usage on the accelerator: OUT=/tmp/o bash tools/run_cogvae_gpu.sh   (about 4 minutes; diffusers from .whl/)
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh
H=${H:-768} W=${W:-1360} F=${F:-81}

note "build"
build_gpu test_cogvideox_vae_cuda test_cogvideox_vae test_cogvideox_scheduler cogvideox_vae_bench ||
  { grep -E "error" "$R/build.log" | head -20; pack; exit 1; }
tail -1 "$R/build.log"

note "tests"
for t in test_cogvideox_vae_cuda test_cogvideox_vae test_cogvideox_scheduler; do
  timeout 120 build-gpu/$t >"$R/$t.log" 2>&1
  echo "$t exit $?"
  grep -vE "^ok " "$R/$t.log" | tail -n 12
done
pack

note "ours: decode ${F} frames ${W}x${H}, tiled"
timeout 150 build-gpu/cogvideox_vae_bench --height "$H" --width "$W" --frames "$F" --warmup 1 --repeats 1 \
  -o "$R/ours.json" >"$R/ours.log" 2>&1
echo "exit $?"; tail -n 4 "$R/ours.log"
pack

note "diffusers: the same"
timeout 150 python3 bench/cogvideox_vae_vs_diffusers.py --height "$H" --width "$W" --frames "$F" --warmup 1 \
  --repeats 1 --out "$R/diffusers.json" >"$R/diffusers.log" 2>&1
echo "exit $?"; tail -n 4 "$R/diffusers.log"
pack

python3 - "$R" "$H" "$W" "$F" <<'PY'
import datetime, json, os, subprocess, sys
r, h, w, f = sys.argv[1], *map(int, sys.argv[2:])
def load(name):
    try:
        return json.load(open(os.path.join(r, name)))
    except Exception as e:
        print(f"{name}: {e}")
        return None
ours, theirs = load("ours.json"), load("diffusers.json")
doc = {"benchmark": "cogvideox_vae_decode", "height": h, "width": w, "frames": f, "tiled": True,
       "weights": "random (CogVideoX 1.5 VAE config), bf16", "date": datetime.date.today().isoformat(),
       "command": f"OUT=... bash tools/run_cogvae_gpu.sh (H={h} W={w} F={f})",
       "ours": ours, "diffusers": theirs}
if ours and theirs:
    row = ours["results"][0]
    o, mem = row["median_ms"], row.get("device_used_mib", ours.get("device_used_mib", 0))
    doc["speedup_vs_diffusers"] = theirs["median_ms"] / o
    print(f"decode {f}x{w}x{h}: ours {o:.0f} ms, diffusers {theirs['median_ms']:.0f} ms, "
          f"{doc['speedup_vs_diffusers']:.2f}x; ours device use {mem:.0f} MiB, "
          f"diffusers peak allocated {theirs['peak_allocated_mib']:.0f} MiB")
    if len(ours["results"]) > 1 and "encode_1_frame_median_ms" in theirs:
        e, te = ours["results"][1]["median_ms"], theirs["encode_1_frame_median_ms"]
        doc["encode_speedup_vs_diffusers"] = te / e
        print(f"encode 1 frame {w}x{h}: ours {e:.0f} ms, diffusers {te:.0f} ms, {te / e:.2f}x")
json.dump(doc, open(os.path.join(r, "cogvideox_vae_decode.json"), "w"), indent=2)
PY
cp "$R/cogvideox_vae_decode.json" "$OUT/" 2>/dev/null
pack
