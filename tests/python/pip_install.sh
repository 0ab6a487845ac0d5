#!/usr/bin/env bash
# `pip install ./python` as a user runs it (scikit-build-core on the repository's CMake project) into a
# temporary folder, then the package's tests against that install. tests/run.sh runs it when the
# interpreter has scikit-build-core (Debian 12 packages none; the main build's module is tested either way).
# A CPU build (VS_CUDA=OFF) to stay quick. Usage: bash tests/python/pip_install.sh PYTHON
set -euo pipefail
py=$1
cd "$(dirname "$0")/../.."
repo=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
launcher=()
command -v ccache >/dev/null && launcher=(-C cmake.define.CMAKE_C_COMPILER_LAUNCHER=ccache)
"$py" -m pip install -q --no-build-isolation --no-deps --target "$work/site" -C cmake.define.VS_CUDA=OFF \
  "${launcher[@]}" ./python
cd "$work"
PYTHONPATH="$work/site" "$py" -m pytest -q -p no:cacheprovider "$repo/tests/python"
