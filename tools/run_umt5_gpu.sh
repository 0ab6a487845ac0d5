#!/usr/bin/env bash
# One accelerator session for the umT5 CUDA path: a CUDA build of what it
# needs, the umT5 and op GPU tests, the umT5-XXL benchmark against
# transformers (bench/umt5_vs_transformers.py), `vidsparse encode` on both
# devices with the embedded model. Every step has its own time limit and log;
# results and logs go to $OUT (default ./gpu_out). The limits add up to 6.5
# minutes. The rest of the GPU suite is tests/gpu/run.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_out}
BUILD=${BUILD:-build-gpu}
mkdir -p "$OUT"
PY=python3
[ -x /opt/torch/.venv/bin/python3 ] && PY=/opt/torch/.venv/bin/python3
for d in /opt/torch/.venv/bin; do [ -d "$d" ] && PATH="$PATH:$d"; done
step() { # name, seconds, command...
  local name=$1 secs=$2; shift 2
  echo "== $name"
  timeout "$secs" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  tail -n 25 "$OUT/$name.log"
  echo "== $name: exit $rc"
}
build() {
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVS_CUDA=ON &&
    cmake --build "$BUILD" -j "$(nproc)" --target vidsparse_bench vidsparse_cli test_umt5_cuda test_ops_cuda test_umt5
}
export BUILD OUT PY
export -f build
step build 150 bash -c build
[ -x "$BUILD/vidsparse" ] || { echo "no $BUILD/vidsparse: stopping"; exit 1; }
step umt5_tests 40 bash -c "$BUILD/test_umt5_cuda && $BUILD/test_ops_cuda && $BUILD/test_umt5"
step bench 170 "$PY" bench/umt5_vs_transformers.py --lib "$BUILD/libvidsparse_bench.so" --out "$OUT/umt5_h100.json"
encode() {
  for dev in cuda cpu; do
    echo "--device $dev"
    time "$BUILD/vidsparse" encode --model models/vidsparse-tiny --device $dev -p "a red fox runs through snow" \
      -o "$OUT/enc_$dev.safetensors" || return 1
  done
  "$PY" - "$OUT" <<'PYEOF'
import sys
from safetensors.torch import load_file
a, b = load_file(f"{sys.argv[1]}/enc_cuda.safetensors"), load_file(f"{sys.argv[1]}/enc_cpu.safetensors")
for k in a:
    print(k, "rel L2 cuda vs cpu", float((a[k] - b[k]).norm() / b[k].norm()))
PYEOF
  rm -f "$OUT"/enc_*.safetensors
}
export -f encode
step encode 30 bash -c encode
ls -l "$OUT"
