#!/usr/bin/env bash
# The Python package on the accelerator (issue #22): builds the extension module (vidsparse._native, CUDA) and
# libvidsparse_bench.so, then
# PHASE=test (under a minute past the build): the package's pytest suite on that build (its CUDA test of
#   vidsparse.diffusers included) and the check below at 4 of 1.3B's layers;
# PHASE=all (default; PHASES=check,speed, either alone): tools/python_gpu_check.py: diffusers' Wan
# transformer with enable_svg against our C forward with SVG (1.3B, rel L2 <= 2e-2), and diffusers' forward
# with and without the processor at 1.3B 480p and 14B 720p, kept fractions 0.25 and 0.15. JSON:
# $OUT/python_gpu_check.json. diffusers comes from the carried wheel (.whl/).
# Usage on the accelerator: OUT=/tmp/o VS_GIT_COMMIT=abc1234 bash tools/run_python_gpu.sh   (about 3 minutes
# past the build: the check ~40 s, 1.3B ~15 s, 14B ~100 s with the model's random init)
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh

note "build (vidsparse_python, vidsparse_bench) for $(command -v python3)"
python3 -c 'import sysconfig, os; p = os.path.join(sysconfig.get_paths()["include"], "Python.h"); print(p, os.path.exists(p))'
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DVS_CUDA=ON -DPython3_EXECUTABLE="$(command -v python3)" \
  >"$R/configure.log" 2>&1 || { tail -30 "$R/configure.log"; pack; exit 1; }
grep -E "CUDA kernels|Python module" "$R/configure.log"
build_gpu vidsparse_python vidsparse_bench || { grep -E "error|Error" "$R/build.log" | head -30; pack; exit 1; }
export PYTHONPATH="$PWD/build-gpu/python${PYTHONPATH:+:$PYTHONPATH}"
python3 -c 'import vidsparse; print("vidsparse", vidsparse.version(), "CUDA devices", vidsparse.cuda_device_count())'

if [ "${PHASE:-all}" = test ]; then # under a minute past the build
  note "pytest tests/python (the CUDA test of vidsparse.diffusers included)"
  timeout 60 python3 -m pytest -q -rs -p no:cacheprovider tests/python >"$R/pytest.log" 2>&1
  tail -n 15 "$R/pytest.log"
  pack
  note "diffusers + enable_svg against our C forward: 4 layers of 1.3B at 480p"
  timeout 60 python3 tools/python_gpu_check.py --lib build-gpu/libvidsparse_bench.so --out "$R" --phases check \
    --layers 4 2>&1 | grep -vE "^\s*$|it/s\]|Warning" | tail -n 30
else
  note "diffusers + enable_svg against our C forward (30 layers), and timed (phases ${PHASES:-check,speed})"
  timeout 330 python3 tools/python_gpu_check.py --lib build-gpu/libvidsparse_bench.so --out "$R" \
    --phases "${PHASES:-check,speed}" 2>&1 | grep -vE "^\s*$|it/s\]|Warning" | tail -n 60
fi
cp "$R/python_gpu_check.json" "$OUT/" 2>/dev/null
pack
note done
