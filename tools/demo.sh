#!/usr/bin/env bash
# `make demo`: text to video with the embedded tiny model on the default prompt,
# written next to the sources (demo.mp4, or demo.y4m in builds without FFmpeg).
#   tools/demo.sh [BUILD_DIR]   (default build/)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
bin=$build/vidsparse
[ -x "$bin" ] || { echo "demo: $bin is not built (run 'make build')" >&2; exit 1; }
out=$root/demo.mp4
"$bin" generate --help | grep -q "default vidsparse.mp4" || out=$root/demo.y4m
"$bin" generate -o "$out"
echo "demo: wrote $out"
