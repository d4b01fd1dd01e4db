#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: build the extension (CUDA kernels included), run the test
# suite on the GPU (cuda and triton against the reference), and time every backend.
# Results go to $OUT (or the folder given as $1) as JSON plus logs; commit them under
# benchmarks/results/ with the GPU named.
#
#   bash benchmarks/gpu_suite.sh [OUT_DIR] [--quick]
# Carried wheels (e.g. spikingjelly for the peer timings) in .whl/ are installed first.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=${1:-${OUT:-benchmarks/results/gpu}}
QUICK=${2:-}
mkdir -p "$OUT_DIR"
export PYTHONUNBUFFERED=1
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv | tee "$OUT_DIR/gpu.txt"
# Build for this GPU only (fast); SPIKEKERN_CUDA=1 makes a missing toolkit an error.
export TORCH_CUDA_ARCH_LIST=$(python3 -c "import torch; m, n = torch.cuda.get_device_capability(); print(f'{m}.{n}')")
SPIKEKERN_CUDA=1 python3 -m pip install -q -e . --no-build-isolation --no-deps 2>&1 | tail -5 | tee "$OUT_DIR/build.log"
python3 -m pytest python_tests -q -x -k "cuda or triton or compile or opcheck" 2>&1 | tee "$OUT_DIR/tests.log" | tail -15
python3 benchmarks/gpu_bench.py --out "$OUT_DIR" $QUICK 2>&1 | tee "$OUT_DIR/bench.log"
