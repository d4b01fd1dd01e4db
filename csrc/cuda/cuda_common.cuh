// Device helpers shared by the CUDA kernels: dtype conversion, aligned vector packs, and
// the host-side dtype dispatch. The neuron math itself is ../spikekern/neuron_math.h.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <utility>

#include "../spikekern/dispatch.h"
#include "../spikekern/neuron_math.h"
#include "kernels_cuda.h"

namespace spikekern {
namespace cuda {

constexpr int kThreads = 256;

template <typename T>
struct Acc {
  using type = float;
};
template <>
struct Acc<double> {
  using type = double;
};

// The I/O dtype to and from the accumulation type: a cast for float and double, the
// conversion intrinsics (round to nearest even) for the 16-bit types.
template <typename T>
struct Convert {
  template <typename A> __device__ __forceinline__ static A to(T v) { return static_cast<A>(v); }
  template <typename A> __device__ __forceinline__ static T from(A v) { return static_cast<T>(v); }
};
template <>
struct Convert<__half> {
  template <typename A> __device__ __forceinline__ static A to(__half v) { return __half2float(v); }
  template <typename A> __device__ __forceinline__ static __half from(A v) { return __float2half_rn(v); }
};
template <>
struct Convert<__nv_bfloat16> {
  template <typename A> __device__ __forceinline__ static A to(__nv_bfloat16 v) { return __bfloat162float(v); }
  template <typename A> __device__ __forceinline__ static __nv_bfloat16 from(A v) { return __float2bfloat16_rn(v); }
};

template <typename A, typename T>
__device__ __forceinline__ A to_acc(T v) {
  return Convert<T>::template to<A>(v);
}
template <typename T, typename A>
__device__ __forceinline__ T from_acc(A v) {
  return Convert<T>::template from<A>(v);
}

// V consecutive elements, aligned so one pack is one vector load/store (16 bytes for the
// input dtype; h packs of half inputs are two).
template <typename T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

template <typename T, int V>
__device__ __forceinline__ Pack<T, V> load_pack(const T* __restrict__ p, int64_t i) {
  return *reinterpret_cast<const Pack<T, V>*>(p + i);
}
template <typename T, int V>
__device__ __forceinline__ void store_pack(T* __restrict__ p, int64_t i, const Pack<T, V>& v) {
  *reinterpret_cast<Pack<T, V>*>(p + i) = v;
}

// body(t) for t = 0 .. T-1 (REVERSE: T-1 .. 0): the time loop of the LIF and CUBA-LIF
// kernels. Not unrolled for float64 (A = double), where ptxas spills registers in several
// unrolled instantiations (benchmarks/gpu_resources.py reports and CI forbids spills);
// unrolled by ptxas's own choice otherwise, which keeps two steps' loads in flight.
template <typename A, bool REVERSE, typename Body>
__device__ __forceinline__ void for_each_step(int64_t T, Body&& body) {
  if constexpr (sizeof(A) == 8 && REVERSE) {
#pragma unroll 1
    for (int64_t t = T - 1; t >= 0; --t) body(t);
  } else if constexpr (sizeof(A) == 8) {
#pragma unroll 1
    for (int64_t t = 0; t < T; ++t) body(t);
  } else if constexpr (REVERSE) {
    for (int64_t t = T - 1; t >= 0; --t) body(t);
  } else {
    for (int64_t t = 0; t < T; ++t) body(t);
  }
}

// Elements per thread for 16-byte loads of T.
template <typename T>
constexpr int vec_width() {
  return static_cast<int>(16 / sizeof(T));
}

inline bool aligned(const void* p, size_t bytes) {
  return p == nullptr || reinterpret_cast<uintptr_t>(p) % bytes == 0;
}

inline unsigned blocks_for(int64_t work) {
  return static_cast<unsigned>((work + kThreads - 1) / kThreads);
}

// kernel<<<grid, block, smem, stream>>>(args...), returning the launch's error. Written with
// the runtime's typed cudaLaunchKernelEx (arguments converted to the kernel's parameter
// types, as <<<>>> does) because it is plain C++: the CPU execution harness
// (csrc/tests/cuda_sim) compiles these sources with the host compiler and runs the launches.
// A grid with no blocks (a zero-size batch) launches nothing: CUDA refuses an empty grid as
// an invalid configuration.
template <typename... Params, typename... Args>
cudaError_t launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
                   Args&&... args) {
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return cudaSuccess;
  cudaLaunchConfig_t config = {};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  return cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
}

// The block's dynamic shared memory (its size set by the launch), as an array of A. One
// declaration for every kernel: extern __shared__ arrays of one name must have one type.
template <typename A>
__device__ __forceinline__ A* dynamic_shared() {
  extern __shared__ __align__(16) unsigned char sk_dynamic_shared[];
  return reinterpret_cast<A*>(sk_dynamic_shared);
}

// out[e] = sum over tiles of parts[tile, e], in tile order (ILC's weight gradients, PLIF's
// parameter gradient). In each source file's own unnamed namespace, as its kernels are.
namespace {
template <typename A>
__global__ void sum_parts_kernel(const A* __restrict__ parts, int64_t tiles, int64_t size,
                                 A* __restrict__ out) {
  const int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (e >= size) return;
  A acc = A(0);
  for (int64_t b = 0; b < tiles; ++b) acc = acc + parts[b * size + e];
  out[e] = acc;
}
}  // namespace

// Calls f(T{}) with T the C++ type of dt.
template <typename F>
cudaError_t with_dtype(DType dt, F&& f) {
  switch (dt) {
    case DType::kFloat: return f(float{});
    case DType::kDouble: return f(double{});
    case DType::kHalf: return f(__half{});
    case DType::kBFloat16: return f(__nv_bfloat16{});
  }
  return cudaErrorInvalidValue;
}

template <typename A>
FireParams<A> fire_params(const Fire& f) {
  return {static_cast<A>(f.v_th), static_cast<A>(f.v_reset), static_cast<A>(f.alpha)};
}

}  // namespace cuda
}  // namespace spikekern
