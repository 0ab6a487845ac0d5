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
# denoise: the tiny Wan DiT, 2 steps; bad sizes are usage errors, a bad model a one-line error.
tmp=$(mktemp -d)
"$bin" denoise --model tests/data/wan/tiny_hd64 --embeds tests/data/wan/embeds.safetensors --frames 9 \
  --height 32 --width 48 --steps 2 -o "$tmp/latents.safetensors" 2>/dev/null || fail "denoise"
[ -s "$tmp/latents.safetensors" ] || fail "denoise wrote no latents"
"$bin" denoise --model tests/data/wan/tiny_hd64 --embeds tests/data/wan/embeds.safetensors --frames 8 \
  -o "$tmp/x.safetensors" 2>/dev/null; [ $? -eq 2 ] || fail "denoise --frames 8 must exit 2"
[ "$("$bin" denoise --model "$tmp/none" --embeds x -o "$tmp/x.safetensors" 2>&1 | wc -l)" -eq 1 ] || fail "denoise error must be one line"
[ ! -e "$tmp/x.safetensors" ] || fail "a failed denoise left a file"
rm -rf "$tmp"
echo "cli smoke ok"
