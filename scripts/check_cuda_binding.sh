#!/usr/bin/env bash
# Compile-checks the torch binding of the CUDA kernels (csrc/cuda/ops_cuda.cpp) on a machine
# whose torch has no CUDA: a syntax-only compile against torch's headers and the CUDA
# toolkit's. The CPU torch wheel lacks one generated header, c10/cuda/impl/cuda_cmake_macros.h
# (a single macro), which this script supplies in a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
CUDA_INC=""
for d in ${CUDA_HOME:+"$CUDA_HOME/include"} /usr/local/cuda/include /usr/local/cuda-*/include; do
  if [ -f "$d/cuda_runtime_api.h" ]; then CUDA_INC=$d; break; fi
done
[ -n "$CUDA_INC" ] || { echo "check_cuda_binding: no CUDA toolkit headers found" >&2; exit 1; }
stub=$(mktemp -d)
trap 'rm -rf "$stub"' EXIT
mkdir -p "$stub/c10/cuda/impl"
echo '#define C10_CUDA_BUILD_SHARED_LIBS' > "$stub/c10/cuda/impl/cuda_cmake_macros.h"
TORCH_INC=$(python -c "import torch.utils.cpp_extension as c; print(' '.join('-I' + p for p in c.include_paths()))")
# shellcheck disable=SC2086
g++ -std=c++20 -fsyntax-only -I"$stub" $TORCH_INC -I"$CUDA_INC" -Icsrc csrc/cuda/ops_cuda.cpp
echo "csrc/cuda/ops_cuda.cpp: compiles against torch's CUDA headers"
