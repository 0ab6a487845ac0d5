#!/usr/bin/env bash
# One accelerator call for the DiT's own speed, without diffusers: the CUDA
# build, the GPU tests named in TESTS, the
# attention comparison of bench/attention_vs_torch.py (FlexAttention left out),
# and `vidsparse bench dit` at the reference settings, dense and SVG with each
# sparse backend in SPARSE. Results and logs go to $OUT/results.tgz.
# Usage on the accelerator: VS_GIT_COMMIT=$(git rev-parse --short HEAD) OUT=/tmp/o bash bench/run_dit_gpu.sh
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/gpu_env.sh

note build
build_gpu vidsparse_cli vidsparse_bench test_flash_attention test_ops_cuda test_wan_cuda ||
  { grep -E "error" "$R/build.log" | head -20; pack; exit 1; }
# TESTS: "binary:case-filter ..." run one after another (VS_TEST_ONLY=filter; TESTS= skips them).
for t in ${TESTS-test_flash_attention:block_lists test_ops_cuda: test_wan_cuda:}; do
  note "test $t"
  VS_TEST_ONLY=${t#*:} timeout 200 "build-gpu/${t%%:*}" >"$R/${t%%:*}.log" 2>&1
  grep -E "rel L2|FAIL|passed|error|band rows" "$R/${t%%:*}.log" | tail -n 40
  pack
done
note attention
timeout 200 python3 bench/attention_vs_torch.py --lib build-gpu/libvidsparse_bench.so --shapes wan1.3b-480p,wan14b-720p \
  --density 0.15 --skip-flex --out "$R/attention_vs_torch.json" >"$R/attention.log" 2>&1
tail -n 3 "$R/attention.log" | cut -c1-3000
pack
for setting in "wan1.3b 480p 3" "wan14b 720p 2"; do
  set -- $setting
  for mode in dense ${SPARSE:-cudnn}; do
    attention=svg backend=$mode
    [ "$mode" = dense ] && attention=dense backend=cudnn
    note "dit $1 $2 $mode"
    VS_SPARSE_ATTN=$backend timeout 200 build-gpu/vidsparse bench dit --config "$1" --resolution "$2" \
      --attention $attention --warmup 1 --repeats "$3" -o "$R/dit_$1_$2_$mode.json" >"$R/dit_$1_$2_$mode.log" 2>&1
    grep -hoE '"(median_ms|attention_share)": [0-9.]+' "$R/dit_$1_$2_$mode.json" | tr '\n' ' '; echo
    tail -n 2 "$R/dit_$1_$2_$mode.log"
    pack
  done
done
note done
