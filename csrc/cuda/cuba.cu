// CUDA kernels for CUBA-LIF (NEURONS.md §2); the same walk as lif.cu.
#include "common.cuh"

namespace spikekern {
namespace cuda {
namespace {

template <typename T, typename A, int V, bool SOFT, bool SAVE_H>
__global__ void __launch_bounds__(kThreads)
    cuba_fwd_kernel(const T* __restrict__ x, A cd, A vd, A v_start, FireParams<A> p, int64_t T_,
                    int64_t N, T* __restrict__ s, A* __restrict__ h, T* __restrict__ vout) {
  const int64_t n = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * V;
  if (n >= N) return;
  A cur[V], v[V];
#pragma unroll
  for (int k = 0; k < V; ++k) {
    cur[k] = A(0);
    v[k] = v_start;
  }
  for (int64_t t = 0; t < T_; ++t) {
    const int64_t off = t * N + n;
    const Pack<T, V> xs = load_pack<T, V>(x, off);
    Pack<T, V> ss, vs;
    Pack<A, V> hs;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      cur[k] = cd * cur[k] + to_acc<A>(xs.v[k]);
      const A hh = vd * v[k] + cur[k];
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
    cuba_bwd_kernel(const T* __restrict__ gs, const T* __restrict__ gv, const A* __restrict__ h,
                    A cd, A vd, FireParams<A> p, int64_t T_, int64_t N, T* __restrict__ gx) {
  const int64_t n = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * V;
  if (n >= N) return;
  A gh_next[V], gcur[V];
#pragma unroll
  for (int k = 0; k < V; ++k) gh_next[k] = gcur[k] = A(0);
  for (int64_t t = T_ - 1; t >= 0; --t) {
    const int64_t off = t * N + n;
    const Pack<T, V> gsp = load_pack<T, V>(gs, off);
    const Pack<A, V> hp = load_pack<A, V>(h, off);
    Pack<T, V> gvp, gxp;
    if (gv) gvp = load_pack<T, V>(gv, off);
#pragma unroll
    for (int k = 0; k < V; ++k) {
      A through_v = vd * gh_next[k];
      if (gv) through_v = to_acc<A>(gvp.v[k]) + through_v;
      gh_next[k] = grad_h<KIND, SOFT, DETACH>(hp.v[k], to_acc<A>(gsp.v[k]), through_v, p);
      gcur[k] = gh_next[k] + cd * gcur[k];
      gxp.v[k] = from_acc<T>(gcur[k]);
    }
    store_pack<T, V>(gx, off, gxp);
  }
}

}  // namespace

cudaError_t cuba_forward(DType dt, const void* x, double c_decay, double v_decay, const Fire& f,
                         int64_t T, int64_t N, void* s, void* h, void* v, cudaStream_t stream) {
  return with_dtype(dt, [&](auto tag) -> cudaError_t {
    using Ty = decltype(tag);
    using A = typename Acc<Ty>::type;
    constexpr int VW = vec_width<Ty>();
    const bool vec = N % VW == 0 && aligned(x, 16) && aligned(s, 16) && aligned(v, 16) &&
                     aligned(h, sizeof(A) * VW);
    const FireParams<A> p = fire_params<A>(f);
    const A v_start = f.soft ? A(0) : A(f.v_reset);
    with_bool(vec, [&](auto VEC) {
      constexpr int V = VEC.value ? VW : 1;
      with_bool(f.soft, [&](auto SOFT) {
        with_bool(h != nullptr, [&](auto SAVE_H) {
          cuba_fwd_kernel<Ty, A, V, SOFT.value, SAVE_H.value><<<blocks_for((N + V - 1) / V), kThreads, 0, stream>>>(
              static_cast<const Ty*>(x), A(c_decay), A(v_decay), v_start, p, T, N, static_cast<Ty*>(s),
              static_cast<A*>(h), static_cast<Ty*>(v));
        });
      });
    });
    return cudaGetLastError();
  });
}

cudaError_t cuba_backward(DType dt, const void* gs, const void* gv, const void* h, double c_decay,
                          double v_decay, const Fire& f, int64_t T, int64_t N, void* gx,
                          cudaStream_t stream) {
  return with_dtype(dt, [&](auto tag) -> cudaError_t {
    using Ty = decltype(tag);
    using A = typename Acc<Ty>::type;
    constexpr int VW = vec_width<Ty>();
    const bool vec = N % VW == 0 && aligned(gs, 16) && aligned(gv, 16) && aligned(gx, 16) &&
                     aligned(h, sizeof(A) * VW);
    const FireParams<A> p = fire_params<A>(f);
    with_bool(vec, [&](auto VEC) {
      constexpr int V = VEC.value ? VW : 1;
      with_surrogate(f.surrogate, [&](auto KIND) {
        with_bool(f.soft, [&](auto SOFT) {
          with_bool(f.detach, [&](auto DETACH) {
            cuba_bwd_kernel<Ty, A, V, KIND.value, SOFT.value, DETACH.value>
                <<<blocks_for((N + V - 1) / V), kThreads, 0, stream>>>(
                    static_cast<const Ty*>(gs), static_cast<const Ty*>(gv), static_cast<const A*>(h),
                    A(c_decay), A(v_decay), p, T, N, static_cast<Ty*>(gx));
          });
        });
      });
    });
    return cudaGetLastError();
  });
}

}  // namespace cuda
}  // namespace spikekern
