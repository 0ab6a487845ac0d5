#!/usr/bin/env bash
# `make install` as a user gets it: install the build into a fresh prefix, build
# examples/generate.c against the installed header and vidsparse.pc alone, run it.
set -u
build=${BUILD_DIR:?}
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "install"; }
for f in include/vidsparse.h bin/vidsparse share/vidsparse/models/vidsparse-tiny/vidsparse.json; do
  [ -e "$tmp/prefix/$f" ] || fail "install lacks $f"
done
pc=$(dirname "$(find "$tmp/prefix" -name vidsparse.pc | head -1)")
[ -n "$pc" ] || fail "install lacks vidsparse.pc"
export PKG_CONFIG_PATH=$pc
libdir=$(pkg-config --variable=libdir vidsparse) || fail "pkg-config vidsparse"
[ -e "$libdir/libvidsparse.a" ] && [ -e "$libdir/libvidsparse.so" ] || fail "no libvidsparse.a/.so in $libdir"
# The shared library exports the API (VS_API) and nothing internal.
nm -D --defined-only "$libdir/libvidsparse.so" | grep -q " vs_pipeline_generate$" || fail "vs_pipeline_generate not exported"
if nm -D --defined-only "$libdir/libvidsparse.so" | grep -q " vs_t2v_load$"; then fail "internal vs_t2v_load exported"; fi
# Built from the installed files only: no source tree on the include path.
cp examples/generate.c "$tmp/generate.c"
# shellcheck disable=SC2046,SC2086
cc -std=c11 -Wall -Werror ${EXTRA_CFLAGS:-} -o "$tmp/generate" "$tmp/generate.c" $(pkg-config --cflags --libs vidsparse) ||
  fail "compiling the example against the install"
LD_LIBRARY_PATH=$libdir "$tmp/generate" --cpu --steps 2 --frames 4 "$tmp/out.ppm" >"$tmp/run.log" 2>&1 || { cat "$tmp/run.log"; fail "running the example"; }
grep -q "^wrote 4 frames of 32x32" "$tmp/run.log" || { cat "$tmp/run.log"; fail "the example's output"; }
head -c 2 "$tmp/out.ppm" | grep -q P6 || fail "the example wrote no PPM"
# Statically: libvidsparse.a and the Libs.private of `pkg-config --static`.
# shellcheck disable=SC2046,SC2086
cc -std=c11 -Wall -Werror ${EXTRA_CFLAGS:-} -o "$tmp/generate_static" "$tmp/generate.c" $(pkg-config --cflags vidsparse) \
  "$libdir/libvidsparse.a" $(pkg-config --static --libs vidsparse | sed 's/-lvidsparse//') || fail "linking the example statically"
"$tmp/generate_static" --cpu --steps 1 --frames 2 "$tmp/static.ppm" >"$tmp/run.log" 2>&1 || { cat "$tmp/run.log"; fail "running the static example"; }
echo "ok: installed, built with pkg-config (shared and static), ran"
