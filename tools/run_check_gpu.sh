#!/usr/bin/env bash
# Every GPU test (ctest label "gpu", as `make test-gpu` runs them) on the accelerator within BUDGET_S seconds,
# their log packed; a summary line "N passed, N failed" (tests cut off by the budget are not counted).
# Usage on the accelerator: OUT=/tmp/o [BUDGET_S=240] bash tools/run_check_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh
BUDGET_S=${BUDGET_S:-240}
note "build"
build_gpu all || { grep -E "error" "$R/build.log" | head -20; pack; exit 1; }
note "ctest -L gpu (stopped after $BUDGET_S s)"
timeout "$BUDGET_S" ctest --test-dir build-gpu -L gpu -j 1 --output-on-failure --timeout 600 >"$R/ctest.log" 2>&1
grep -E "Test +#|tests passed" "$R/ctest.log" | tail -n 40
echo "$(grep -cE 'Test +#[0-9]+: .* Passed' "$R/ctest.log") passed, $(grep -E 'Test +#[0-9]+: ' "$R/ctest.log" | grep -cvE ' Passed') failed"
cp build-gpu/Testing/Temporary/LastTest.log "$R/" 2>/dev/null
pack
note "done ($SECONDS s)"
