#!/usr/bin/env bash
# Installs spikekern and its test/RL dependencies into the active Python environment.
# torch==2.13.0 is the CPU build this project is developed against; the extension is built
# against the installed torch (--no-build-isolation).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q --upgrade pip
python -m pip install -q "torch==2.13.0" setuptools wheel ninja numpy
python -m pip install -q -e ".[test,rl,sweep,video,peers]" --no-build-isolation
# The SpikingJelly peer (benchmarks and tests): its declared dependencies torchvision and
# torchaudio would replace this torch with a multi-GB CUDA build, and it needs neither here.
python -m pip install -q --no-deps "spikingjelly==2.0.0"
