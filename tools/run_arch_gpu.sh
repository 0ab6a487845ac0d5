#!/usr/bin/env bash
# The architecture change (issue "Seams for many model families ...") on the accelerator, side by side in one
# call. PHASE=bench (default): the CUDA builds of this tree and of the commit before the change (its sources
# carried in .carry/base; make them here with
#   rm -rf .carry/base && mkdir -p .carry/base && git archive BASE CMakeLists.txt src include tests | tar x -C .carry/base
# and name .carry/base in the call's carry), then `vidsparse bench dit` at Wan 1.3B 480p and 14B 720p, dense
# and SVG at kept fractions 0.25 (the default) and 0.15 (the earlier tables'), the two binaries alternating,
# combined into $R/arch_dit.json with the ratios new / base. PHASE=test: every GPU test of this tree.
# PHASE=all: the benchmark, then the GPU tests in what is left of TEST_SECONDS (default 240).
# Usage on the accelerator: OUT=/tmp/o BASE_COMMIT=d225ae2 VS_GIT_COMMIT=abc1234 bash tools/run_arch_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh

if [ "${PHASE:-bench}" = test ]; then
  note "GPU tests"
  bash tests/gpu/run.sh >"$R/gpu_tests.log" 2>&1
  grep -E "^(ok|FAIL)|passed|Failed|error" "$R/gpu_tests.log" | tail -n 80
  cp build-gpu.build.log "$R/" 2>/dev/null
  pack
  exit 0
fi

note "build (this tree and base, side by side)"
(cd .carry/base && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DVS_CUDA=ON &&
  cmake --build build -j "$(nproc)" --target vidsparse_cli) >"$R/build_base.log" 2>&1 &
base_build=$!
build_gpu vidsparse_cli || { grep -E "error" "$R/build.log" | head -20; pack; exit 1; }
wait $base_build || { grep -E "error" "$R/build_base.log" | head -20; pack; exit 1; }
declare -A bin=([new]=build-gpu/vidsparse [base]=.carry/base/build/vidsparse)
declare -A commit=([new]=${VS_GIT_COMMIT:-unknown} [base]=${BASE_COMMIT:-unknown})
for setting in "wan1.3b 480p 5" "wan14b 720p 2"; do
  set -- $setting
  for mode in dense svg0.25 svg0.15; do
    attention=${mode%%0*} density=${mode#svg}
    [ "$mode" = dense ] && density=0.25
    order="base new"
    [ "$mode" != dense ] && order="new base" # alternate which binary goes first
    for side in $order; do
      note "dit $1 $2 $mode $side"
      VS_GIT_COMMIT=${commit[$side]} timeout 300 "${bin[$side]}" bench dit --config "$1" --resolution "$2" --attention "$attention" --density "$density" \
        --warmup 1 --repeats "$3" -o "$R/dit_$1_$2_${mode}_$side.json" >"$R/dit_$1_$2_${mode}_$side.log" 2>&1
      grep -hoE '"(median_ms|attention_share)": [0-9.]+' "$R/dit_$1_$2_${mode}_$side.json" | tr '\n' ' '; echo
      pack
    done
  done
done
python3 - "$R" <<'EOF'
import glob, json, os, sys, datetime
r = sys.argv[1]
runs = {}
for path in sorted(glob.glob(os.path.join(r, "dit_*.json"))):
    name = os.path.basename(path)[4:-5]
    setting, side = name.rsplit("_", 1)
    doc = json.load(open(path))
    row = doc["results"][0]
    runs.setdefault(setting, {})[side] = {
        "median_ms": row["median_ms"], "min_ms": row["min_ms"], "max_ms": row["max_ms"],
        "attention_share": row.get("attention_share"), "density_asked": row.get("density"),
        "device": doc.get("device"), "commit": doc.get("commit"), "cudnn_version": row.get("cudnn_version")}
rows = {k: dict(v, ratio_new_over_base=v["new"]["median_ms"] / v["base"]["median_ms"])
        for k, v in runs.items() if "new" in v and "base" in v}
out = {"benchmark": "arch_change_bench_dit", "device": next(iter(runs.values()))["new"]["device"] if runs else None,
       "commit": os.environ.get("VS_GIT_COMMIT"), "base_commit": os.environ.get("BASE_COMMIT"),
       "date": datetime.date.today().isoformat(),
       "command": "OUT=/tmp/o BASE_COMMIT=... VS_GIT_COMMIT=... bash tools/run_arch_gpu.sh",
       "note": "bench dit with random bf16 weights, batch 1, 81 frames, 512 text tokens; SVG in every layer; "
               "the same settings for both binaries, run alternately in one call",
       "settings": rows}
json.dump(out, open(os.path.join(r, "arch_dit.json"), "w"), indent=1)
for k, v in rows.items():
    print(f"{k:28s} base {v['base']['median_ms']:9.1f} ms  new {v['new']['median_ms']:9.1f} ms  new/base {v['ratio_new_over_base']:.3f}")
EOF
cp "$R/arch_dit.json" "$OUT/" 2>/dev/null
pack
if [ "${PHASE:-bench}" = all ]; then
  note "GPU tests"
  timeout "${TEST_SECONDS:-240}" bash tests/gpu/run.sh >"$R/gpu_tests.log" 2>&1
  grep -E "^(ok|FAIL)|passed|Failed|error" "$R/gpu_tests.log" | tail -n 80
  pack
fi
note done
