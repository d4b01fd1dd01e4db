// CUDA kernels for LIF (NEURONS.md §1). One thread walks all T steps for V neurons with the
// state in registers; V = 16 bytes of the input dtype when N is a multiple of V and every
// pointer is aligned (vector loads), else V = 1. Loads are coalesced across neurons.
#include "common.cuh"

namespace spikekern {
namespace cuda {
namespace {

template <typename T, typename A, int V, bool SOFT, bool SAVE_H>
__global__ void __launch_bounds__(kThreads)
    lif_fwd_kernel(const T* __restrict__ x, const A* __restrict__ v_init, A a, A b, A c,
                   FireParams<A> p, A v0, int64_t T_, int64_t N, T* __restrict__ s,
                   A* __restrict__ h, T* __restrict__ vout) {
  const int64_t n = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * V;
  if (n >= N) return;
  A v[V];
#pragma unroll
  for (int k = 0; k < V; ++k) v[k] = v_init ? v_init[n + k] : v0;
  for (int64_t t = 0; t < T_; ++t) {
    const int64_t off = t * N + n;
    const Pack<T, V> xs = load_pack<T, V>(x, off);
    Pack<T, V> ss, vs;
    Pack<A, V> hs;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      A hh = a * v[k] + b * to_acc<A>(xs.v[k]);
      hh = hh + c;
      const A sp = fire(hh, p.v_th);
      v[k] = reset<SOFT>(hh, sp, p.v_th, p.v_reset);
      ss.v[k] = from_acc<T>(sp);
      hs.v[k] = hh;
      vs.v[k] = from_acc<T>(v[k]);
    }
    store_pack<T, V>(s, off, ss);
    if constexpr (SAVE_H) store_pack<A, V>(h, off, hs);
    if (vout) store_pack<T, V>(vout, off, vs);
  }
}

template <typename T, typename A, int V, int KIND, bool SOFT, bool DETACH>
__global__ void __launch_bounds__(kThreads)
    lif_bwd_kernel(const T* __restrict__ gs, const T* __restrict__ gv, const A* __restrict__ h,
                   A a, A b, FireParams<A> p, int64_t T_, int64_t N, T* __restrict__ gx,
                   A* __restrict__ gv_init) {
  const int64_t n = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * V;
  if (n >= N) return;
  A g[V];  // dL/dh[t+1]
#pragma unroll
  for (int k = 0; k < V; ++k) g[k] = A(0);
  for (int64_t t = T_ - 1; t >= 0; --t) {
    const int64_t off = t * N + n;
    const Pack<T, V> gsp = load_pack<T, V>(gs, off);
    const Pack<A, V> hp = load_pack<A, V>(h, off);
    Pack<T, V> gvp, gxp;
    if (gv) gvp = load_pack<T, V>(gv, off);
#pragma unroll
    for (int k = 0; k < V; ++k) {
      A through_v = a * g[k];
      if (gv) through_v = to_acc<A>(gvp.v[k]) + through_v;
      g[k] = grad_h<KIND, SOFT, DETACH>(hp.v[k], to_acc<A>(gsp.v[k]), through_v, p);
      gxp.v[k] = from_acc<T>(b * g[k]);
    }
    store_pack<T, V>(gx, off, gxp);
  }
  if (gv_init)
#pragma unroll
    for (int k = 0; k < V; ++k) gv_init[n + k] = a * g[k];
}

}  // namespace

cudaError_t lif_forward(DType dt, const void* x, const void* v_init, double a, double b, double c,
                        const Fire& f, int64_t T, int64_t N, void* s, void* h, void* v,
                        cudaStream_t stream) {
  return with_dtype(dt, [&](auto tag) -> cudaError_t {
    using Ty = decltype(tag);
    using A = typename Acc<Ty>::type;
    constexpr int VW = vec_width<Ty>();
    const bool vec = N % VW == 0 && aligned(x, 16) && aligned(s, 16) && aligned(v, 16) &&
                     aligned(h, sizeof(A) * VW) && aligned(v_init, sizeof(A) * VW);
    const FireParams<A> p = fire_params<A>(f);
    const A v0 = f.soft ? A(0) : A(f.v_reset);
    with_bool(vec, [&](auto VEC) {
      constexpr int V = VEC.value ? VW : 1;
      with_bool(f.soft, [&](auto SOFT) {
        with_bool(h != nullptr, [&](auto SAVE_H) {
          lif_fwd_kernel<Ty, A, V, SOFT.value, SAVE_H.value><<<blocks_for((N + V - 1) / V), kThreads, 0, stream>>>(
              static_cast<const Ty*>(x), static_cast<const A*>(v_init), A(a), A(b), A(c), p, v0, T, N,
              static_cast<Ty*>(s), static_cast<A*>(h), static_cast<Ty*>(v));
        });
      });
    });
    return cudaGetLastError();
  });
}

cudaError_t lif_backward(DType dt, const void* gs, const void* gv, const void* h, double a,
                         double b, const Fire& f, int64_t T, int64_t N, void* gx, void* gv_init,
                         cudaStream_t stream) {
  return with_dtype(dt, [&](auto tag) -> cudaError_t {
    using Ty = decltype(tag);
    using A = typename Acc<Ty>::type;
    constexpr int VW = vec_width<Ty>();
    const bool vec = N % VW == 0 && aligned(gs, 16) && aligned(gv, 16) && aligned(gx, 16) &&
                     aligned(h, sizeof(A) * VW) && aligned(gv_init, sizeof(A) * VW);
    const FireParams<A> p = fire_params<A>(f);
    with_bool(vec, [&](auto VEC) {
      constexpr int V = VEC.value ? VW : 1;
      with_surrogate(f.surrogate, [&](auto KIND) {
        with_bool(f.soft, [&](auto SOFT) {
          with_bool(f.detach, [&](auto DETACH) {
            lif_bwd_kernel<Ty, A, V, KIND.value, SOFT.value, DETACH.value>
                <<<blocks_for((N + V - 1) / V), kThreads, 0, stream>>>(
                    static_cast<const Ty*>(gs), static_cast<const Ty*>(gv), static_cast<const A*>(h),
                    A(a), A(b), p, T, N, static_cast<Ty*>(gx), static_cast<A*>(gv_init));
          });
        });
      });
    });
    return cudaGetLastError();
  });
}

}  // namespace cuda
}  // namespace spikekern
