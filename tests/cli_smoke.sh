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
"$bin" encode -p x 2>/dev/null; [ $? -eq 2 ] || fail "encode without --model must exit 2"
tmp=$(mktemp -d)
"$bin" encode --model tests/data/umt5 -p "a cat" -o "$tmp/e.safetensors" || fail "encode"
[ -s "$tmp/e.safetensors" ] || fail "encode wrote nothing"
"$bin" encode --model tests/data/no-such-model -p "a cat" -o "$tmp/f.safetensors" 2>/dev/null; [ $? -eq 1 ] || fail "encode with a missing model must exit 1"
rm -rf "$tmp"
echo "cli smoke ok"
