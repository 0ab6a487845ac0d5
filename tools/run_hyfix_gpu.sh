#!/usr/bin/env bash
# HunyuanVideo VAE precision and the TeaCache signal on the device (issues 17, 21): the VAE's GPU test (its
# kernels, among them the cuDNN 3D convolution, and the decodes against diffusers' f64 golden files and our
# CPU path, bound 2e-2), the step-cache GPU test (vs_op_rel_l1 against double and the CPU, HunyuanVideo's
# TeaCache signal and its change reduced on the device), then the 720x1280, 129-frame tiled decode, ours
# against diffusers' bf16 AutoencoderKLHunyuanVideo (bench/hunyuan_vae_vs_diffusers.py, the bench stage of
# tools/run_hyvae_gpu.sh, PHASE=bench; needs the diffusers wheel in .whl/): what the f32 residual stream and the 3D
# convolutions cost against the 17.0 s / 4.6 GiB of bench/results' earlier run. About 4 minutes.
# Usage on the accelerator: OUT=/tmp/o VS_GIT_COMMIT=abc1234 bash tools/run_hyfix_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh

note "build"
build_gpu test_hunyuan_vae_cuda test_cache_cuda test_backend_ops vidsparse_cli || { grep -E "error" "$R/build.log" | head -20; pack; exit 1; }
pack

note "VAE GPU test (kernels; decodes vs diffusers f64 and our CPU, bound 2e-2)"
timeout 150 build-gpu/test_hunyuan_vae_cuda >"$R/test_vae_gpu.log" 2>&1
echo "exit $?"; grep -E "^(ok|FAIL)|rel L2|conv3d|passed|error|Error" "$R/test_vae_gpu.log" | tail -n 30
pack

note "step-cache GPU test (rel_l1 on the device, HunyuanVideo's TeaCache signal)"
timeout 60 build-gpu/test_cache_cuda >"$R/test_cache_gpu.log" 2>&1
echo "exit $?"; grep -E "^(ok|FAIL)|values:|relative|passed|error|Error" "$R/test_cache_gpu.log" | tail -n 20
timeout 60 build-gpu/test_backend_ops >"$R/test_backend_ops.log" 2>&1 # every op on the CPU and CUDA, rel_l1 too
echo "backend ops exit $?"; grep -E "^FAIL|rows passed|rel_l1|passed" "$R/test_backend_ops.log" | tail -n 8
pack

# tools/run_hyvae_gpu.sh's bench stage: $OUT/hunyuan_vae_720p.json and $OUT/bench.log
PHASE=bench bash tools/run_hyvae_gpu.sh
cp "$OUT/hunyuan_vae_720p.json" "$OUT/bench.log" "$R/" 2>/dev/null
pack
