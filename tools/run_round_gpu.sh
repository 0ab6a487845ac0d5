#!/usr/bin/env bash
# Several accelerator scripts in one device call (a session's device time is short and each cold start costs
# minutes): one CUDA build of every target first, so each script's own build only checks it, then each
# tools/run_NAME_gpu.sh in the order given, with its own time budget and results folder $OUT/NAME.
#   RUNS="NAME:SECONDS[:VAR=value,VAR=value] ..."  each script gets BUDGET_S=SECONDS and the extra variables,
#                                                   and is stopped SECONDS + 30 s after it starts.
# Usage on the accelerator: OUT=/tmp/o VS_GIT_COMMIT=abc1234 RUNS="hyfix:100 memfix:60:PHASE=all" bash tools/run_round_gpu.sh
# Name the commit: the device's copy of the working tree can carry an older git HEAD (the last commit that
# landed), which the JSON files would otherwise record. The device returns a limited number of files: the
# scripts' results are also packed into $OUT/NAME/results.tgz, which is what to fetch when many files come back.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT_OUT=${OUT:-gpu_out}
mkdir -p "$ROOT_OUT"
export VS_GIT_COMMIT=${VS_GIT_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
start=$SECONDS

echo "== $(date +%T) build (every target)"
(
  source tools/gpu_env.sh
  build_gpu all || { grep -E "error" "$R/build.log" | head -20; exit 1; }
  tail -n 1 "$R/build.log"
) || { echo "round: the build failed"; exit 1; }

for run in ${RUNS:?RUNS names the scripts}; do
  IFS=: read -r name seconds extra <<<"$run"
  script=tools/run_${name}_gpu.sh
  [ -f "$script" ] || { echo "round: no $script"; continue; }
  echo "== $(date +%T) $name (BUDGET_S=$seconds ${extra//,/ }; $((SECONDS - start)) s into the round)"
  mkdir -p "$ROOT_OUT/$name"
  env OUT="$ROOT_OUT/$name" BUDGET_S="$seconds" ${extra//,/ } timeout "$((seconds + 30))" bash "$script" 2>&1 |
    tee "$ROOT_OUT/$name/console.log" | tail -n "${TAIL:-40}"
  echo "== $name exit ${PIPESTATUS[0]}"
done
echo "== round done in $((SECONDS - start)) s"
