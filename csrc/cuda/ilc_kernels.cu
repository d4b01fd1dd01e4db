// CUDA kernels for ILC-CUBA-LIF (NEURONS.md §3).
//
// A block takes BM samples of one group g (grid: tiles x groups) with one thread per
// (sample, neuron): BM = 256 / P threads' worth of samples. The group's P x P matrix and
// bias, and the tile's spikes of the previous step, live in shared memory; the lateral
// input sum_q W[p,q] s[q] + b[p] is summed in q order like the CPU kernel. Backward keeps
// the tile's weight/bias gradient in shared memory (each entry owned by one thread, so no
// atomics), writes it as the tile's partial, and a second kernel sums the partials in tile
// order: deterministic.
#include "cuda_common.cuh"

namespace spikekern {
namespace cuda {
namespace {

int tile_samples(int64_t P) { return static_cast<int>(P >= kThreads ? 1 : kThreads / P); }

template <typename T, typename A, bool SOFT, bool SAVE_H>
__global__ void ilc_fwd_kernel(const T* __restrict__ x, const A* __restrict__ W,
                               const A* __restrict__ bias, A cd, A vd, A v_start, FireParams<A> fp,
                               int64_t T_, int64_t M, int64_t groups, int P, int BM,
                               T* __restrict__ s, A* __restrict__ h) {
  A* Wsh = dynamic_shared<A>();  // [P, P]
  A* bsh = Wsh + P * P;                      // [P]
  A* ssh = bsh + P;                          // [BM, P] spikes of the previous step
  const int g = blockIdx.y, tid = threadIdx.x, mi = tid / P, p = tid % P;
  for (int e = tid; e < P * P; e += blockDim.x) Wsh[e] = W[g * P * P + e];
  for (int e = tid; e < P; e += blockDim.x) bsh[e] = bias[g * P + e];
  const int64_t m = static_cast<int64_t>(blockIdx.x) * BM + mi;
  const bool active = m < M;
  ssh[tid] = A(0);
  __syncthreads();
  const int64_t row = groups * P;
  A cur = A(0), v = v_start;
  for (int64_t t = 0; t < T_; ++t) {
    const int64_t off = (t * M + m) * row + g * P + p;
    A xin = active ? to_acc<A>(x[off]) : A(0);
    if (t > 0) {
      A lat = A(0);
      for (int q = 0; q < P; ++q) lat = lat + Wsh[p * P + q] * ssh[mi * P + q];
      lat = lat + bsh[p];
      xin = xin + lat;
    }
    const A hh = cuba_charge(CubaCoeffs<A>{cd, vd, v_start}, cur, v, xin);
    const A sp = fire(hh, fp.v_th);
    v = reset<SOFT>(hh, sp, fp.v_th, fp.v_reset);
    if (active) {
      s[off] = from_acc<T>(sp);
      if constexpr (SAVE_H) h[off] = hh;
    }
    __syncthreads();  // every thread has read the previous spikes
    ssh[tid] = active ? sp : A(0);
    __syncthreads();
  }
}

template <typename T, typename A, int KIND, bool SOFT, bool DETACH>
__global__ void ilc_bwd_kernel(const T* __restrict__ gs, const A* __restrict__ h,
                               const A* __restrict__ W, A cd, A vd, FireParams<A> fp, int64_t T_,
                               int64_t M, int64_t groups, int P, int BM, T* __restrict__ gx,
                               A* __restrict__ gW_part, A* __restrict__ gb_part) {
  A* Wsh = dynamic_shared<A>();  // [P, P]
  A* dWsh = Wsh + P * P;                     // [P, P] this tile's weight gradient
  A* dbsh = dWsh + P * P;                    // [P]
  A* gsh = dbsh + P;                         // [BM, P] gx'[t] of the tile
  A* ssh = gsh + BM * P;                     // [BM, P] s[t-1] of the tile
  const int g = blockIdx.y, tid = threadIdx.x, mi = tid / P, p = tid % P;
  for (int e = tid; e < P * P; e += blockDim.x) {
    Wsh[e] = W[g * P * P + e];
    dWsh[e] = A(0);
  }
  for (int e = tid; e < P; e += blockDim.x) dbsh[e] = A(0);
  const int64_t m = static_cast<int64_t>(blockIdx.x) * BM + mi;
  const bool active = m < M;
  gsh[tid] = A(0);
  __syncthreads();
  const int64_t row = groups * P;
  A gh_next = A(0), gcur = A(0);
  for (int64_t t = T_ - 1; t >= 0; --t) {
    const int64_t off = (t * M + m) * row + g * P + p;
    // W_g^T gx'[t+1]: the spike gradient arriving through the lateral path.
    A glat = A(0);
    for (int i = 0; i < P; ++i) glat = glat + Wsh[i * P + p] * gsh[mi * P + i];
    const A hh = active ? h[off] : A(0);
    const A g_in = active ? to_acc<A>(gs[off]) : A(0);
    gh_next = grad_h<KIND, SOFT, DETACH>(hh, g_in + glat, vd * gh_next, fp);
    cuba_input_grad(CubaCoeffs<A>{cd, vd, A(0)}, gh_next, gcur);
    if (active) gx[off] = from_acc<T>(gcur);
    const A s_prev = (t >= 1 && active) ? fire(h[off - M * row], fp.v_th) : A(0);
    __syncthreads();  // every thread has read gx'[t+1]
    gsh[tid] = active ? gcur : A(0);
    ssh[tid] = s_prev;
    __syncthreads();
    if (t >= 1) {  // dW += gx'[t] (outer) s[t-1], db += gx'[t]; entry e is thread e's
      for (int e = tid; e < P * P; e += blockDim.x) {
        const int i = e / P, q = e % P;
        A acc = dWsh[e];
        for (int j = 0; j < BM; ++j) acc = acc + gsh[j * P + i] * ssh[j * P + q];
        dWsh[e] = acc;
      }
      for (int e = tid; e < P; e += blockDim.x) {
        A acc = dbsh[e];
        for (int j = 0; j < BM; ++j) acc = acc + gsh[j * P + e];
        dbsh[e] = acc;
      }
    }
  }
  __syncthreads();
  const int64_t part = static_cast<int64_t>(blockIdx.x) * groups + g;
  for (int e = tid; e < P * P; e += blockDim.x) gW_part[part * P * P + e] = dWsh[e];
  for (int e = tid; e < P; e += blockDim.x) gb_part[part * P + e] = dbsh[e];
}

template <typename K>
cudaError_t allow_smem(K kernel, size_t bytes) {
  // Above 48 KB (P = 64 in float64) a kernel must opt in to more dynamic shared memory.
  return bytes > 48 * 1024
             ? cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes))
             : cudaSuccess;
}

}  // namespace

int64_t ilc_tiles(int64_t M, int64_t P) {
  const int BM = tile_samples(P);
  return (M + BM - 1) / BM;
}

cudaError_t ilc_cuba_lif_forward(DType dt, const void* x, const void* W, const void* bias, double c_decay,
                        double v_decay, const Fire& f, int64_t T, int64_t M, int64_t A_, int64_t P,
                        void* s, void* h, cudaStream_t stream) {
  if (P < 1 || P > kIlcMaxPop) return cudaErrorInvalidValue;
  return with_dtype(dt, [&](auto tag) -> cudaError_t {
    using Ty = decltype(tag);
    using A = typename Acc<Ty>::type;
    const int BM = tile_samples(P);
    const size_t smem = sizeof(A) * (P * P + P + BM * P);
    const dim3 grid(static_cast<unsigned>(ilc_tiles(M, P)), static_cast<unsigned>(A_));
    cudaError_t err = cudaSuccess;
    with_reset(f.soft, [&](auto SOFT) {
      with_bool(h != nullptr, [&](auto SAVE_H) {
        auto kernel = ilc_fwd_kernel<Ty, A, SOFT.value, SAVE_H.value>;
        err = allow_smem(kernel, smem);
        if (err != cudaSuccess) return;
        err = launch(kernel, grid, static_cast<unsigned>(BM * P), smem, stream, static_cast<const Ty*>(x),
                     static_cast<const A*>(W), static_cast<const A*>(bias), A(c_decay), A(v_decay),
                     initial_v(f.soft, A(f.v_reset)), fire_params<A>(f), T, M, A_, static_cast<int>(P), BM,
                     static_cast<Ty*>(s), static_cast<A*>(h));
      });
    });
    return err;
  });
}

cudaError_t ilc_cuba_lif_backward(DType dt, const void* gs, const void* h, const void* W, double c_decay,
                         double v_decay, const Fire& f, int64_t T, int64_t M, int64_t A_,
                         int64_t P, void* gx, void* gW_part, void* gb_part, void* gW, void* gb,
                         cudaStream_t stream) {
  if (P < 1 || P > kIlcMaxPop) return cudaErrorInvalidValue;
  return with_dtype(dt, [&](auto tag) -> cudaError_t {
    using Ty = decltype(tag);
    using A = typename Acc<Ty>::type;
    const int BM = tile_samples(P);
    const int64_t tiles = ilc_tiles(M, P);
    const size_t smem = sizeof(A) * (2 * P * P + P + 2 * BM * P);
    const dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(A_));
    cudaError_t err = cudaSuccess;
    with_flavour(f.surrogate, f.soft, f.detach, [&](auto KIND, auto SOFT, auto DETACH) {
      auto kernel = ilc_bwd_kernel<Ty, A, KIND.value, SOFT.value, DETACH.value>;
      err = allow_smem(kernel, smem);
      if (err != cudaSuccess) return;
      err = launch(kernel, grid, static_cast<unsigned>(BM * P), smem, stream, static_cast<const Ty*>(gs),
                   static_cast<const A*>(h), static_cast<const A*>(W), A(c_decay), A(v_decay), fire_params<A>(f),
                   T, M, A_, static_cast<int>(P), BM, static_cast<Ty*>(gx), static_cast<A*>(gW_part),
                   static_cast<A*>(gb_part));
    });
    if (err != cudaSuccess) return err;
    const int64_t wsize = A_ * P * P, bsize = A_ * P;
    err = launch(sum_parts_kernel<A>, blocks_for(wsize), kThreads, 0, stream, static_cast<const A*>(gW_part), tiles,
                 wsize, static_cast<A*>(gW));
    if (err != cudaSuccess) return err;
    return launch(sum_parts_kernel<A>, blocks_for(bsize), kThreads, 0, stream, static_cast<const A*>(gb_part), tiles,
                  bsize, static_cast<A*>(gb));
  });
}

}  // namespace cuda
}  // namespace spikekern
