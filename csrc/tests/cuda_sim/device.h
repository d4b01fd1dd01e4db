// Device-side spellings for csrc/cuda/*.cu compiled by the CPU execution harness
// (cuda_sim.h): what nvcc's device compilation defines, mapped to host C++. Included by the
// stand-in cuda_runtime.h, which only the .cu sources include (not the tests, which compile
// the CPU kernels' neuron math as the CPU build does).
#pragma once

#include "cuda_sim.h"

// neuron_math.h takes its device paths (SK_HD, the GPU's expf in the surrogates).
#define __CUDACC__ 1
#define __CUDA_ARCH__ 900
// Its inline functions get symbols of their own, apart from the CPU kernels' copies in the
// same test binary (the scheme the CPU instruction-set builds use).
#ifndef SK_ISA_NAMESPACE
#define SK_ISA_NAMESPACE cuda_sim
#endif

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
#define __maxnreg__(...)
#define __align__(n) __attribute__((aligned(n)))
// A block's fibers run on one OS thread, so thread-local storage is per block. GCC's
// __thread (no dynamic initialisation, so no TLS init call) rather than thread_local; a
// static __shared__ array inside a kernel would need to be written `static __shared__`
// here, and fails to compile otherwise (never silently per thread).
#define __shared__ __thread

// The GPU's fast division (within 2 ulp there); here the division itself.
inline float __fdividef(float a, float b) { return a / b; }
