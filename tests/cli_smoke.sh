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

# inspect: the tiny pipeline lists its components and parameter counts
out=$("$bin" inspect tests/data/tiny-wan) || fail "inspect tests/data/tiny-wan"
echo "$out" | grep -q "^transformer (WanTransformer3DModel): 69 tensors, 24520 parameters" || fail "inspect: transformer line"
echo "$out" | grep -q "^total: 236999 parameters" || fail "inspect: total parameter count"
"$bin" inspect tests/data/tiny-wan --json | grep -q '"parameters":236999}' || fail "inspect --json"
# inspect errors: exit 1 with exactly one line
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'not a safetensors file' >"$tmp/bad.safetensors"
for path in "$tmp/missing" "$tmp/bad.safetensors"; do
  "$bin" inspect "$path" >/dev/null 2>"$tmp/err"; rc=$?
  [ $rc -eq 1 ] || fail "inspect $path must exit 1, got $rc"
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "inspect $path must print one error line: $(cat "$tmp/err")"
done
"$bin" inspect 2>/dev/null; [ $? -eq 2 ] || fail "inspect without PATH must exit 2"
echo "cli smoke ok"
