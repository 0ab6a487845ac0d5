#!/usr/bin/env bash
# Installs the Debian packages vidsparse builds with, where missing. As root it
# runs apt-get itself; otherwise it prints the exact line to run.
set -euo pipefail
need=()
have_header() { [ -e "/usr/include/$1" ] || [ -e "/usr/include/x86_64-linux-gnu/$1" ] || [ -e "/usr/include/openblas/$1" ] || [ -e "/usr/include/x86_64-linux-gnu/openblas-pthread/$1" ]; }
command -v cmake >/dev/null || need+=(cmake)
command -v cc >/dev/null || need+=(build-essential)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v clang >/dev/null || need+=(clang)
have_header cblas.h && ls /usr/lib/x86_64-linux-gnu/libopenblas.so* >/dev/null 2>&1 || need+=(libopenblas-dev)
have_header png.h || need+=(libpng-dev)
have_header jpeglib.h || need+=(libjpeg-dev)
have_header libavformat/avformat.h || need+=(libavformat-dev libavcodec-dev libavutil-dev libswscale-dev)
command -v ffprobe >/dev/null || need+=(ffmpeg)
# The Python package's tests (tests/python) run under Debian's python3 (tests/run.sh), whatever python3 comes
# first on PATH: its headers, numpy, pytest, tqdm.
py_has() { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "$1" 2>/dev/null; }
py_has 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' ||
  need+=(python3-dev)
py_has 'import numpy' || need+=(python3-numpy)
py_has 'import pytest' || need+=(python3-pytest)
py_has 'import tqdm' || need+=(python3-tqdm)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "vidsparse needs these Debian packages; run:"
  echo "  sudo apt-get install -y ${need[*]}"
  [ -n "${VS_ALLOW_MISSING_DEPS:-}" ] || exit 1
fi
