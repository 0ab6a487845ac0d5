#!/usr/bin/env bash
# One accelerator session for the Wan CUDA path: build + GPU tests, the 1.3B
# check against the torch reference, and `vidsparse bench dit` at 1.3B/480p and
# 14B/720p, dense and svg. Every step has its own time limit and log; results
# and logs go to $OUT (default ./gpu_out). The limits add up to under 10 minutes.
# Usage: bash tools/run_wan_gpu.sh   (SKIP_TESTS=1 reuses an existing build-gpu)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_out}
mkdir -p "$OUT"
PY=python3
[ -x /opt/torch/.venv/bin/python3 ] && PY=/opt/torch/.venv/bin/python3
step() { # name, seconds, command...
  local name=$1 secs=$2; shift 2
  echo "== $name"
  timeout "$secs" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  tail -n 25 "$OUT/$name.log"
  echo "== $name: exit $rc"
}
[ -n "${SKIP_TESTS:-}" ] || step gpu_tests 240 bash tests/gpu/run.sh
[ -x build-gpu/vidsparse ] || { echo "no build-gpu/vidsparse: stopping"; exit 1; }
step build_bench_lib 300 cmake --build build-gpu --target vidsparse_bench
step wan_gpu_check 130 "$PY" tools/wan_gpu_check.py --lib build-gpu/libvidsparse_bench.so --out "$OUT"
for a in dense svg; do
  step "dit_wan1.3b_480p_$a" 45 build-gpu/vidsparse bench dit --config wan1.3b --resolution 480p \
    --attention "$a" --repeats 3 -o "$OUT/dit_wan1.3b_480p_$a.json"
done
for a in dense svg; do
  step "dit_wan14b_720p_$a" 65 build-gpu/vidsparse bench dit --config wan14b --resolution 720p \
    --attention "$a" --warmup 1 --repeats 2 -o "$OUT/dit_wan14b_720p_$a.json"
done
ls -l "$OUT"
