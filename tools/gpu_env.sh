# Sourced by the accelerator scripts (tools/run_tiny_gpu.sh, bench/run_svg_gpu.sh): the image's
# PyTorch virtual environment first on PATH (python3, cmake, ninja), the carried wheels of .whl/
# installed (diffusers; see the device README), and a results folder $R packed into
# $OUT/results.tgz by `pack` (call it after each phase: a call cut short still returns its part).
export PYTHONUNBUFFERED=1
for d in /opt/torch/.venv/bin; do [ -d "$d" ] && PATH="$d:$PATH"; done
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl &&
    export PYTHONPATH=/tmp/site
fi
# Our binaries load the cuDNN that PyTorch ships, the library diffusers runs on (the image's system copy
# is older, and its paged attention, which SVG's rows outside the band use, runs at about half the speed).
cudnn_lib=$(python3 -c "import os, nvidia.cudnn as c; print(os.path.join(list(c.__path__)[0], 'lib'))" 2>/dev/null)
[ -d "$cudnn_lib" ] && export LD_LIBRARY_PATH="$cudnn_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
R=$(mktemp -d)
pack() { tar czf "$OUT/results.tgz" -C "$R" . 2>/dev/null; }
note() { echo "== $(date +%T) $*"; }
# The CUDA build of the given targets in build-gpu; its log in $R/build.log, which ends "build exit N".
build_gpu() {
  { cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DVS_CUDA=ON && cmake --build build-gpu -j "$(nproc)" \
      --target "$@"; } >"$R/build.log" 2>&1
  local rc=$?
  echo "build exit $rc" >>"$R/build.log"
  return $rc
}
