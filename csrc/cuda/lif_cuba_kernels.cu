// CUDA kernels for the neurons of the shared time loops (NEURONS.md §1-2, 9-10): one time loop written once
// over the neuron type (neuron_math.h: every type of its `Neurons` list), as in the CPU kernels. One thread
// walks all T steps for V neurons with the state in registers; V = 16 bytes of the input
// dtype when N is a multiple of V and every pointer is aligned (vector loads), else V = 1.
// Loads are coalesced across neurons. A neuron with a learned parameter (PLIF) sums
// gh * dh/dparam per thread, then per block in a fixed tree order (one partial per block),
// and sum_parts_kernel adds the blocks' partials in block order: the same bits every run.
#include "cuda_common.cuh"

namespace spikekern {
namespace cuda {
namespace {

template <class Neuron, typename T, typename A, int V, bool SOFT, bool SAVE_H>
__global__ void __launch_bounds__(kThreads)
    forward_steps_kernel(const T* __restrict__ x, const A* __restrict__ v_init,
                         const typename Neuron::template Coeffs<A> coeffs, FireParams<A> p, A v_start,
                         int64_t T_, int64_t N, T* __restrict__ s, A* __restrict__ h,
                         T* __restrict__ vout, A* __restrict__ c_out) {
  // A kOwnStep neuron (CLIF) saves its second state cur[t] in c_out beside h.
  constexpr bool SAVE_C = SAVE_H && Neuron::kOwnStep;
  const int64_t n = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * V;
  if (n >= N) return;
  const auto k = Neuron::load(coeffs);
  A cur[V], v[V];
#pragma unroll
  for (int j = 0; j < V; ++j) {
    cur[j] = A(0);
    v[j] = v_init ? v_init[n + j] : v_start;
  }
  for_each_step<A, false>(T_, [&](int64_t t) {
    const int64_t off = t * N + n;
    const Pack<T, V> xs = load_pack<T, V>(x, off);
    Pack<T, V> ss, vs;
    Pack<A, V> hs, cs;
#pragma unroll
    for (int j = 0; j < V; ++j) {
      A sp;
      hs.v[j] = neuron_step<Neuron, SOFT>(k, p, cur[j], v[j], to_acc<A>(xs.v[j]), sp);
      ss.v[j] = from_acc<T>(sp);
      cs.v[j] = cur[j];
      vs.v[j] = from_acc<T>(v[j]);
    }
    store_pack<T, V>(s, off, ss);
    if constexpr (SAVE_H) store_pack<A, V>(h, off, hs);
    if constexpr (SAVE_C) store_pack<A, V>(c_out, off, cs);
    if (vout) store_pack<T, V>(vout, off, vs);
  });
}

template <class Neuron, typename T, typename A, int V, int KIND, bool SOFT, bool DETACH>
__device__ __forceinline__ void backward_steps(const T* __restrict__ gs, const T* __restrict__ gv,
                                               const A* __restrict__ h,
                                               const typename Neuron::template Coeffs<A> coeffs, FireParams<A> p,
                                               int64_t T_, int64_t N, T* __restrict__ gx, A* __restrict__ gv_init,
                                               A v_start, double* __restrict__ param_parts,
                                               const A* __restrict__ c_saved) {
  constexpr bool PARAM = Neuron::kParamGrad, OWN = Neuron::kOwnStep;
  const int64_t n = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * V;
  // With a parameter every thread of the block joins the reduction below, so none returns.
  if constexpr (!PARAM) {
    if (n >= N) return;
  }
  const auto k = Neuron::load(coeffs);
  A gparam = A(0);  // this thread's sum of gh * dh/dparam
  if (n < N) {
    A gh_next[V], gcur[V], h_next[V];  // dL/dh[t+1], the neuron's carried gradient, h[t+1]
    const A v_decay = Neuron::v_decay(k);
    // A kOwnStep neuron's saved cur[t] (carried from the step after, where it was cur[t-1])
    // and cur[t-1] (0 before t = 0).
    Pack<A, V> c_t, c_prev;
#pragma unroll
    for (int j = 0; j < V; ++j) gh_next[j] = gcur[j] = h_next[j] = c_t.v[j] = c_prev.v[j] = A(0);
    if constexpr (OWN) c_t = load_pack<A, V>(c_saved, (T_ - 1) * N + n);
    for_each_step<A, true>(T_, [&](int64_t t) {
      const int64_t off = t * N + n;
      const Pack<T, V> gsp = load_pack<T, V>(gs, off);
      const Pack<A, V> hp = load_pack<A, V>(h, off);
      Pack<T, V> gvp, gxp;
      if (gv) gvp = load_pack<T, V>(gv, off);
      if constexpr (OWN) {
        if (t > 0) c_prev = load_pack<A, V>(c_saved, off - N);
        else
#pragma unroll
          for (int j = 0; j < V; ++j) c_prev.v[j] = A(0);
      }
#pragma unroll
      for (int j = 0; j < V; ++j) {
        A through_v = v_decay * gh_next[j];
        if (gv) through_v = to_acc<A>(gvp.v[j]) + through_v;
        if constexpr (PARAM) {  // gh[t+1] * dh[t+1]/dparam (as in the CPU loop)
          const A v_t = reset<SOFT>(hp.v[j], fire(hp.v[j], p.v_th), p.v_th, p.v_reset);
          gparam = mul_add(gh_next[j], Neuron::param_grad(k, h_next[j], v_t), gparam);
          h_next[j] = hp.v[j];
        }
        gh_next[j] = neuron_grad_h<Neuron, KIND, SOFT, DETACH>(k, p, hp.v[j], to_acc<A>(gsp.v[j]), through_v,
                                                               c_t.v[j], c_prev.v[j], gcur[j]);
        gxp.v[j] = from_acc<T>(Neuron::input_grad(k, gh_next[j], gcur[j]));
      }
      if constexpr (OWN) c_t = c_prev;
      store_pack<T, V>(gx, off, gxp);
    });
    if (gv_init)
#pragma unroll
      for (int j = 0; j < V; ++j) gv_init[n + j] = v_decay * gh_next[j];
    if constexpr (PARAM)
#pragma unroll
      for (int j = 0; j < V; ++j) gparam = mul_add(gh_next[j], Neuron::param_grad(k, h_next[j], v_start), gparam);
  }
  if constexpr (PARAM) {
    // The block's sum, in double (the total often cancels to far below its terms) and in a
    // fixed order: kSeg threads each add kSeg threads' values in order, then thread 0 adds
    // those. (A barrier inside a loop made ptxas spill here.)
    constexpr unsigned kSeg = 16;
    static_assert(kSeg * kSeg == kThreads, "the two-level sum covers the block");
    double* red = dynamic_shared<double>();  // kThreads values
    red[threadIdx.x] = static_cast<double>(gparam);
    __syncthreads();
    if (threadIdx.x < kSeg) {
      double sum = 0.0;
      for (unsigned i = 0; i < kSeg; ++i) sum = sum + red[threadIdx.x * kSeg + i];
      red[threadIdx.x * kSeg] = sum;  // only this thread reads its segment
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      double sum = 0.0;
      for (unsigned i = 0; i < kSeg; ++i) sum = sum + red[i * kSeg];
      param_parts[blockIdx.x] = Neuron::param_block(k, sum);
    }
  }
}

// The backward kernels: one per kind of neuron, so that each gets its own register budget.
// Under __launch_bounds__ ptxas spilled a few bytes in most instantiations with a learned
// parameter (at 32 to 80 registers: benchmarks/gpu_resources.py, which CI runs, forbids
// spills); an explicit cap of 96 registers lets it keep everything in registers.
template <class Neuron, typename T, typename A, int V, int KIND, bool SOFT, bool DETACH>
__global__ void __launch_bounds__(kThreads)
    backward_steps_kernel(const T* __restrict__ gs, const T* __restrict__ gv, const A* __restrict__ h,
                          const typename Neuron::template Coeffs<A> coeffs, FireParams<A> p, int64_t T_,
                          int64_t N, T* __restrict__ gx, A* __restrict__ gv_init) {
  backward_steps<Neuron, T, A, V, KIND, SOFT, DETACH>(gs, gv, h, coeffs, p, T_, N, gx, gv_init, A(0),
                                                      nullptr, nullptr);
}

template <class Neuron, typename T, typename A, int V, int KIND, bool SOFT, bool DETACH>
__global__ void __maxnreg__(96)
    backward_param_steps_kernel(const T* __restrict__ gs, const T* __restrict__ gv, const A* __restrict__ h,
                                const typename Neuron::template Coeffs<A> coeffs, FireParams<A> p, int64_t T_,
                                int64_t N, T* __restrict__ gx, A v_start,
                                double* __restrict__ param_parts) {
  backward_steps<Neuron, T, A, V, KIND, SOFT, DETACH>(gs, gv, h, coeffs, p, T_, N, gx, nullptr, v_start,
                                                      param_parts, nullptr);
}

// A kOwnStep neuron (CLIF: soft reset, nothing detached, no dL/dv input): capped at 96
// registers as the parameter kernel, since under __launch_bounds__ ptxas spilled 24 bytes in
// CLIF's 8-wide half-precision instantiations.
template <class Neuron, typename T, typename A, int V, int KIND>
__global__ void __maxnreg__(96)
    backward_state_steps_kernel(const T* __restrict__ gs, const A* __restrict__ h, const A* __restrict__ c_saved,
                                const typename Neuron::template Coeffs<A> coeffs, FireParams<A> p, int64_t T_,
                                int64_t N, T* __restrict__ gx) {
  backward_steps<Neuron, T, A, V, KIND, true, false>(gs, nullptr, h, coeffs, p, T_, N, gx, nullptr, A(0),
                                                     nullptr, c_saved);
}

// *out = the sum of parts[0, n) in order, in double, rounded once to A.
template <typename A>
__global__ void sum_blocks_kernel(const double* __restrict__ parts, int64_t n, A* __restrict__ out) {
  double sum = 0.0;
  for (int64_t b = 0; b < n; ++b) sum = sum + parts[b];
  *out = static_cast<A>(sum);
}

template <typename A>
FireParams<A> fire_params(const NeuronArgs& a) {
  return {static_cast<A>(a.v_th), static_cast<A>(a.v_reset), static_cast<A>(a.alpha)};
}

// Neuron's coefficients from the op's arguments (neuron_math.h), its step in forward_steps_kernel.
template <class Neuron>
cudaError_t launch_forward(const NeuronArgs& a, cudaStream_t stream) {
  return with_dtype(a.dtype, [&](auto tag) -> cudaError_t {
    using Ty = decltype(tag);
    using A = typename Acc<Ty>::type;
    constexpr int VW = vec_width<Ty>();
    const bool vec = a.N % VW == 0 && aligned(a.x, 16) && aligned(a.s, 16) && aligned(a.v, 16) &&
                     aligned(a.h, sizeof(A) * VW) && aligned(a.v_init, sizeof(A) * VW) && aligned(a.m, sizeof(A) * VW);
    const auto k = Neuron::template coeffs<A>(a);
    const FireParams<A> p = fire_params<A>(a);
    const A v_start = initial_v(a.soft, A(a.v_reset));
    cudaError_t err = cudaSuccess;
    with_bool(vec, [&](auto VEC) {
      constexpr int V = VEC.value ? VW : 1;
      auto go = [&](auto SOFT) {
        with_bool(a.h != nullptr, [&](auto SAVE_H) {
          err = launch(forward_steps_kernel<Neuron, Ty, A, V, SOFT.value, SAVE_H.value>,
                       blocks_for((a.N + V - 1) / V), kThreads, 0, stream, static_cast<const Ty*>(a.x),
                       static_cast<const A*>(a.v_init), k, p, v_start, a.T, a.N, static_cast<Ty*>(a.s),
                       static_cast<A*>(a.h), static_cast<Ty*>(a.v), static_cast<A*>(a.m));
        });
      };
      if constexpr (Neuron::kOwnStep) go(Bool<true>{});  // it resets itself: one instantiation
      else with_reset(a.soft, go);
    });
    return err;
  });
}

template <class Neuron>
cudaError_t launch_backward(const NeuronArgs& a, cudaStream_t stream) {
  return with_dtype(a.dtype, [&](auto tag) -> cudaError_t {
    using Ty = decltype(tag);
    using A = typename Acc<Ty>::type;
    constexpr int VW = vec_width<Ty>();
    const bool vec = a.N % VW == 0 && aligned(a.gs, 16) && aligned(a.gv, 16) && aligned(a.gx, 16) &&
                     aligned(a.h_saved, sizeof(A) * VW) && aligned(a.gv_init, sizeof(A) * VW) &&
                     aligned(a.m_saved, sizeof(A) * VW);
    const auto k = Neuron::template coeffs<A>(a);
    const FireParams<A> p = fire_params<A>(a);
    const A v_start = initial_v(a.soft, A(a.v_reset));
    const size_t smem = Neuron::kParamGrad ? kThreads * sizeof(double) : 0;
    const Ty* gs = static_cast<const Ty*>(a.gs);
    const A* h = static_cast<const A*>(a.h_saved);
    Ty* gx = static_cast<Ty*>(a.gx);
    cudaError_t err = cudaSuccess;
    unsigned blocks = 0;
    with_bool(vec, [&](auto VEC) {
      constexpr int V = VEC.value ? VW : 1;
      blocks = blocks_for((a.N + V - 1) / V);
      if constexpr (Neuron::kOwnStep) {
        with_kind(a.surrogate, [&](auto KIND) {
          err = launch(backward_state_steps_kernel<Neuron, Ty, A, V, KIND.value>, blocks, kThreads, 0, stream, gs, h,
                       static_cast<const A*>(a.m_saved), k, p, a.T, a.N, gx);
        });
      } else {
        with_flavour(a.surrogate, a.soft, a.detach, [&](auto KIND, auto SOFT, auto DETACH) {
          if constexpr (Neuron::kParamGrad)
            err = launch(backward_param_steps_kernel<Neuron, Ty, A, V, KIND.value, SOFT.value, DETACH.value>,
                         blocks, kThreads, smem, stream, gs, static_cast<const Ty*>(a.gv), h, k, p, a.T, a.N, gx,
                         v_start, static_cast<double*>(a.param_parts));
          else
            err = launch(backward_steps_kernel<Neuron, Ty, A, V, KIND.value, SOFT.value, DETACH.value>, blocks,
                         kThreads, smem, stream, gs, static_cast<const Ty*>(a.gv), h, k, p, a.T, a.N, gx,
                         static_cast<A*>(a.gv_init));
        });
      }
    });
    if (err != cudaSuccess || !Neuron::kParamGrad) return err;
    // The blocks' partials, summed in block order by one thread (zero blocks: zero).
    return launch(sum_blocks_kernel<A>, 1, 1, 0, stream, static_cast<const double*>(a.param_parts),
                  static_cast<int64_t>(blocks), static_cast<A*>(a.param_grad));
  });
}

}  // namespace

int64_t neuron_param_blocks(int64_t N) {
  // At most this many blocks (the scalar V = 1 launch); the vector launch uses fewer.
  return static_cast<int64_t>(blocks_for(N));
}

cudaError_t neuron_forward(const NeuronArgs& a, cudaStream_t stream) {
  cudaError_t err = cudaErrorInvalidValue;  // no such neuron type
  with_neuron(a.neuron, [&](auto neuron) { err = launch_forward<decltype(neuron)>(a, stream); });
  return err;
}

cudaError_t neuron_backward(const NeuronArgs& a, cudaStream_t stream) {
  cudaError_t err = cudaErrorInvalidValue;
  with_neuron(a.neuron, [&](auto neuron) { err = launch_backward<decltype(neuron)>(a, stream); });
  return err;
}

}  // namespace cuda
}  // namespace spikekern
