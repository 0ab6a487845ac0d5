#!/usr/bin/env bash
# The HunyuanVideo VAE decoder on the accelerator (issue 17): its GPU test against diffusers' golden files and
# the CPU decode (tests/gpu/test_hunyuan_vae_cuda.c), then the 720x1280, 129-frame tiled decode, ours against
# diffusers' AutoencoderKLHunyuanVideo (bench/hunyuan_vae_vs_diffusers.py; needs the diffusers wheel in .whl/):
# time and peak GPU memory side by side in $OUT/hunyuan_vae_720p.json (and $R). Also Wan's VAE GPU test
# (its pool and tiling moved to core/ and models/common/). About 4 minutes. PHASE=bench: the 720p decode
# only, on the build-gpu folder a caller has built (tools/run_hyfix_gpu.sh).
# Usage on the accelerator: OUT=/tmp/o VS_GIT_COMMIT=abc1234 bash tools/run_hyvae_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh

if [ "${PHASE:-all}" != bench ]; then
note "build"
build_gpu test_hunyuan_vae_cuda test_hunyuan_vae test_vae_cuda vidsparse_cli || { grep -E "error" "$R/build.log" | head -20; pack; exit 1; }
pack

note "tests (CPU, then GPU against diffusers and the CPU)"
timeout 60 build-gpu/test_hunyuan_vae >"$R/test_cpu.log" 2>&1
tail -n 12 "$R/test_cpu.log"
timeout 120 build-gpu/test_hunyuan_vae_cuda >"$R/test_gpu.log" 2>&1
echo "exit $?"; tail -n 20 "$R/test_gpu.log"
timeout 60 build-gpu/test_vae_cuda >"$R/test_wan_vae_gpu.log" 2>&1 # Wan's VAE, now on core/devpool and models/common/vae_tiles
echo "Wan VAE GPU test exit $?"; grep -E "^FAIL|passed" "$R/test_wan_vae_gpu.log"
pack
fi

note "720x1280x129 tiled decode: ours vs diffusers"
# Straight into $OUT: what it has written comes back even if the call is cut short.
timeout 300 python3 bench/hunyuan_vae_vs_diffusers.py --bin build-gpu --diffusers-warmup 0 -o "$OUT/hunyuan_vae_720p.json" >"$OUT/bench.log" 2>&1
echo "exit $?"; grep -vE '^\s*"|^[{}]' "$OUT/bench.log" | tail -n 25
python3 - "$OUT/hunyuan_vae_720p.json" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    sys.exit(f"no results: {e}")
o, d = r.get("ours", {}), r.get("diffusers_bf16", {})
print(f"ours ({r.get('ours_measured_by')}): {o.get('median_ms')} ms, activations {o.get('activations_mib')} MiB, "
      f"weights {o.get('weights_mib')} MiB, device used {o.get('device_used_mib')} MiB")
if d:
    print(f"diffusers: {d['median_ms']:.1f} ms, peak allocated {d['peak_allocated_mib']:.0f} MiB, "
          f"reserved {d['peak_reserved_mib']:.0f} MiB; speedup {r.get('speedup_vs_diffusers', 0):.2f}x")
PY
cp "$OUT/hunyuan_vae_720p.json" "$R/" 2>/dev/null
pack
