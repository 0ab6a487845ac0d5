#!/usr/bin/env bash
# The command's contract: help and version succeed, bad usage exits non-zero
# with a one-line message, and nothing crashes.
set -u
bin=${VS_BIN:?}
fail() { echo "FAIL: $*"; exit 1; }
"$bin" --help | grep -q "usage: vidsparse" || fail "--help"
"$bin" --version | grep -q "vidsparse 0" || fail "--version"
"$bin" frobnicate 2>/dev/null; [ $? -eq 2 ] || fail "unknown command must exit 2"
"$bin" --bogus 2>/dev/null; [ $? -eq 2 ] || fail "unknown option must exit 2"
"$bin" 2>/dev/null; [ $? -eq 2 ] || fail "no command must exit 2"
# decode: the fixture's latents (3 frames of 8x10) become 9 frames of 80x64.
tmp=$(mktemp -d)
"$bin" decode --model tests/data/vae tests/data/vae/reference.safetensors -o "$tmp/v.y4m" 2>/dev/null || fail "decode to y4m"
[ "$(head -c 10 "$tmp/v.y4m")" = "YUV4MPEG2 " ] || fail "decode wrote no Y4M"
[ "$(grep -c FRAME "$tmp/v.y4m")" -eq 9 ] || fail "decode must give 9 frames"
"$bin" decode --model tests/data/vae tests/data/vae/reference.safetensors 2>/dev/null; [ $? -eq 2 ] || fail "decode without -o must exit 2"
"$bin" decode --model "$tmp/none" tests/data/vae/reference.safetensors -o "$tmp/x.y4m" 2>/dev/null; [ $? -eq 1 ] || fail "decode with a missing model must exit 1"
[ ! -e "$tmp/x.y4m" ] || fail "a failed decode left a file"
rm -rf "$tmp"
echo "cli smoke ok"
