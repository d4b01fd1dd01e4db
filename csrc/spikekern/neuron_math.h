// The neuron math of every compiled backend, written once.
//
// Each function is one step of an equation in NEURONS.md (charge, fire, reset,
// surrogate derivative, one reverse-time step of BPTT). CPU and CUDA kernels call
// these and differ only in how they walk the neurons, so the CPU tests check the
// arithmetic the GPU runs.
//
// Float32 bit-exactness with the PyTorch reference loop: every expression keeps the
// reference's order of operations (e.g. `(a*v + b*x) + c`), and the kernels are
// compiled without floating-point contraction (-ffp-contract=off, nvcc -fmad=false),
// so potentials, and therefore spikes, are identical to the reference's. Gradients only
// need to agree within rounding, so the backward's arithmetic (the surrogates, exp,
// one reverse step) is written with mul_add, which fuses where the build has FMA.
#pragma once

#include <cstdint>
#include <cstring>
#include <cmath>
#include <type_traits>

#include "neuron_args.h"

#if defined(__CUDACC__)
#define SK_HD __host__ __device__ __forceinline__
#else
#define SK_HD inline
#endif

// Every CPU instruction-set build of the kernels (csrc/cpu/isa_*.inc) compiles this file
// with its own target flags and names SK_ISA_NAMESPACE, so its copies of these inline
// functions and templates get their own symbols: the linker can never hand one build's
// AVX-512 code to another (the same scheme as ATen's CPU_CAPABILITY namespaces).
#ifndef SK_ISA_NAMESPACE
#define SK_ISA_NAMESPACE generic
#endif

namespace spikekern {
inline namespace SK_ISA_NAMESPACE {

// Reinterpret the bits of a 32-bit value; __builtin_bit_cast keeps the loop vectorisable
// on the host (memcpy here blocks GCC's vectoriser), memcpy is the portable fallback.
template <typename To, typename From>
SK_HD To bits_as(From v) {
#if defined(__GNUC__) && !defined(__CUDACC__)
  return __builtin_bit_cast(To, v);
#else
  To out;
  std::memcpy(&out, &v, sizeof(To));
  return out;
#endif
}

// a*b + c in the backward. The CPU builds with FMA (isa_avx2.inc, isa_avx512.inc define
// SK_ISA_FMA) round it once: the sigmoid surrogate's backward is compute-bound, and fusing
// makes it about 10% faster (docs/benchmarks.md, "Prefetching and fused multiply-add in
// the backward").
// Elsewhere (the baseline build, CUDA) it is a multiply and an add, rounded separately.
// Never used in a forward, whose potentials must round as the reference's do.
template <typename T>
SK_HD T mul_add(T a, T b, T c) {
#if defined(SK_ISA_FMA) && defined(__GNUC__) && !defined(__CUDACC__)
  if constexpr (sizeof(T) == sizeof(float)) return __builtin_fmaf(a, b, c);
  else return __builtin_fma(a, b, c);
#else
  return a * b + c;
#endif
}

// a / b in the surrogates (backward only). On the GPU an IEEE division has a slow path that
// is a subroutine call, and the registers saved around it are spills in ptxas's report
// (benchmarks/gpu_resources.py, which fails CI on any): there float takes __fdividef (within
// 2 ulp; 0 once |b| > 2^126, where every quotient here is below 1e-38 anyway), and double
// refines __fdividef's reciprocal with two Newton steps (within about 2 ulp, for b in float's
// normal range: the surrogates' denominators are at least 1, and alpha is a float-sized
// constant). On the CPU it is the division.
template <typename T>
SK_HD T grad_div(T a, T b) {
#if defined(__CUDA_ARCH__)
  if constexpr (sizeof(T) == sizeof(float)) {
    return __fdividef(a, b);
  } else {
    T r = static_cast<T>(__fdividef(1.0f, static_cast<float>(b)));
    r = r * (T(2) - b * r);
    r = r * (T(2) - b * r);
    return a * r;
  }
#else
  return a / b;
#endif
}

// exp(x) for float that the compiler can vectorise (no libm call in the loop).
// Cephes-style: range reduction by ln2 and a degree-6 polynomial. Its accuracy, stated
// here only and checked at this bound over [-87, 88] by csrc/tests/test_kernels.cpp:
constexpr double kFastExpfMaxRelError = 1e-7;  // (about 1 ulp of float; measured 8.2e-8)
// On the GPU the native expf is already fast and vectorised per thread.
SK_HD float fast_expf(float x) {
#if defined(__CUDA_ARCH__)
  return expf(x);
#else
  x = x > 88.3762626647949f ? 88.3762626647949f : x;
  x = x < -87.3365447505531f ? -87.3365447505531f : x;
  // Round x/ln2 to nearest with the 1.5*2^23 trick (plain adds, so it vectorises).
  const float shifter = 12582912.0f;
  float t = mul_add(x, 1.44269504088896341f, shifter);
  float n = t - shifter;
  const int32_t ni = bits_as<int32_t>(t) - 0x4B400000;
  float r = mul_add(n, -0.693359375f, x);  // x - n*ln2, ln2 in two parts
  r = mul_add(n, 2.12194440e-4f, r);
  float p = 1.9875691500e-4f;
  p = mul_add(p, r, 1.3981999507e-3f);
  p = mul_add(p, r, 8.3334519073e-3f);
  p = mul_add(p, r, 4.1665795894e-2f);
  p = mul_add(p, r, 1.6666665459e-1f);
  p = mul_add(p, r, 5.0000001201e-1f);
  p = mul_add(p * r, r, r) + 1.0f;
  return p * bits_as<float>((ni + 127) << 23);
#endif
}

SK_HD double fast_exp(double x) { return exp(x); }
SK_HD float fast_exp(float x) { return fast_expf(x); }

// psi(u): the surrogate derivative of NEURONS.md section 5. The forward is always Θ.
template <int KIND, typename acc_t>
SK_HD acc_t surrogate_grad(acc_t u, acc_t alpha) {
  if constexpr (KIND == kQGate) {
    acc_t au = u < acc_t(0) ? -u : u;
    return au <= grad_div(acc_t(1), alpha) ? mul_add(-(alpha * alpha), au, alpha) : acc_t(0);
  } else if constexpr (KIND == kRect) {
    acc_t au = u < acc_t(0) ? -u : u;
    return au < grad_div(acc_t(0.5), alpha) ? alpha : acc_t(0);
  } else if constexpr (KIND == kSigmoid) {
    acc_t sg = grad_div(acc_t(1), acc_t(1) + fast_exp(-alpha * u));
    return alpha * sg * (acc_t(1) - sg);
  } else if constexpr (KIND == kATan) {
    const acc_t half_pi = acc_t(1.57079632679489661923);
    acc_t z = half_pi * alpha * u;
    return grad_div(alpha * acc_t(0.5), mul_add(z, z, acc_t(1)));
  } else {
    return acc_t(1);
  }
}

// Θ(h - v_th) as 0/1 in the accumulation type.
template <typename acc_t>
SK_HD acc_t fire(acc_t h, acc_t v_th) {
  return (h - v_th) >= acc_t(0) ? acc_t(1) : acc_t(0);
}

// Potential after reset. Hard: h(1-s) + v_reset s; soft: h - v_th s (s is 0 or 1, so
// the selects below equal those products exactly for finite h).
template <bool SOFT, typename acc_t>
SK_HD acc_t reset(acc_t h, acc_t s, acc_t v_th, acc_t v_reset) {
  if constexpr (SOFT) {
    return s != acc_t(0) ? h - v_th : h;
  } else {
    return s != acc_t(0) ? v_reset : h;
  }
}

// dv[t]/dh[t] of the reset, including the path through the spike unless detached.
template <bool SOFT, bool DETACH, typename acc_t>
SK_HD acc_t dv_dh(acc_t h, acc_t s, acc_t psi, acc_t v_th, acc_t v_reset) {
  if constexpr (SOFT) {
    if constexpr (DETACH) return acc_t(1);
    else return mul_add(-v_th, psi, acc_t(1));
  } else {
    if constexpr (DETACH) return acc_t(1) - s;
    else return mul_add(v_reset - h, psi, acc_t(1) - s);
  }
}

// v[-1]: the potential before the first step (NEURONS.md: v_reset, or 0 for soft reset).
template <typename acc_t>
SK_HD acc_t initial_v(bool soft, acc_t v_reset) {
  return soft ? acc_t(0) : v_reset;
}

// Parameters every spiking neuron shares, already cast to the accumulation type.
template <typename acc_t>
struct FireParams {
  acc_t v_th;
  acc_t v_reset;  // ignored for soft reset
  acc_t alpha;    // surrogate width/height parameter
};

// ------------------------------------------------------------------ the neurons' own steps
// Everything that differs between LIF and CUBA-LIF (NEURONS.md §1-2): the charge (h[t] from
// the state and x[t]) and one reverse step (dL/dx[t] from dL/dh[t]). The time loops are
// written once over a neuron type with this interface (kernels_cpu.h), so a new neuron is
// a new pair of functions and a traits struct here.

// LIF: h[t] = (a*v[t-1] + b*x[t]) + c
template <typename acc_t>
struct LifCoeffs {
  acc_t a, b, c;
};

template <typename acc_t>
SK_HD acc_t lif_charge(const LifCoeffs<acc_t>& k, acc_t v, acc_t x) {
  const acc_t h = k.a * v + k.b * x;
  return h + k.c;
}

// dL/dx[t] = b * dL/dh[t]
template <typename acc_t>
SK_HD acc_t lif_input_grad(const LifCoeffs<acc_t>& k, acc_t gh) {
  return k.b * gh;
}

// CUBA-LIF: cur[t] = c_decay*cur[t-1] + x[t];  h[t] = v_decay*v[t-1] + cur[t]
template <typename acc_t>
struct CubaCoeffs {
  acc_t c_decay, v_decay, v_start;  // v_start: v[-1] (initial_v)
};

template <typename acc_t>
SK_HD acc_t cuba_charge(const CubaCoeffs<acc_t>& k, acc_t& cur, acc_t v, acc_t x) {
  cur = k.c_decay * cur + x;
  return k.v_decay * v + cur;
}

// dL/dx[t] = dL/dcur[t] = dL/dh[t] + c_decay * dL/dcur[t+1]  (gcur carries dL/dcur[t+1] in
// and dL/dcur[t] out)
template <typename acc_t>
SK_HD acc_t cuba_input_grad(const CubaCoeffs<acc_t>& k, acc_t gh, acc_t& gcur) {
  gcur = mul_add(k.c_decay, gcur, gh);
  return gcur;
}

// The neuron types the time loops (kernels_cpu.h, cuda/lif_cuba_kernels.cu) are templated
// on. A neuron type names its Coeffs and provides
//   coeffs<acc_t>(args)         its Coeffs from the op's arguments (neuron_args.h)
//   load(k)                     the coefficients a kernel uses (reads any held in memory)
//   charge(k, cur, v, x) -> h   cur: a second state per neuron (CUBA's synaptic current)
//   v_decay(k)                  dh[t+1]/dv[t]
//   input_grad(k, gh, gcur)     dL/dx[t] from dL/dh[t] (gcur: cur's carried gradient)
//   kParamGrad, param_grad(k, h, v), param_block(k, sum)
//                               a learned parameter: param_grad(h[t], v[t-1]) is dh[t]/dparam
//                               up to a constant factor that param_block applies to each
//                               block's sum; the loops sum gh[t] * param_grad per block of
//                               neurons in double and the op sums the blocks in a fixed order
//                               (the same bits every run).
//   kOwnStep, step, grad_h      a neuron whose second state enters its reset (CLIF) replaces
//                               charge-fire-reset by step(k, p, cur, v, x, s) -> h and the
//                               common grad_h by its own (p: the FireParams, so threshold and
//                               surrogate are read from one place); its forward saves cur[t] beside h[t]
//                               and its backward reads cur[t] and cur[t-1] (neuron_step and
//                               neuron_grad_h below are what the loops call).
// and is named in `Neurons` (the end of this file), which the kernels of every device are
// built from.
struct LifNeuron {
  static constexpr bool kParamGrad = false;  // no learned parameter
  static constexpr bool kOwnStep = false;
  template <typename K>
  SK_HD static K load(const K& k) { return k; }
  template <typename acc_t>
  using Coeffs = LifCoeffs<acc_t>;
  template <typename acc_t>  // a, b, c in k0, k1, k2
  static Coeffs<acc_t> coeffs(const NeuronArgs& a) { return {acc_t(a.k0), acc_t(a.k1), acc_t(a.k2)}; }
  template <typename acc_t>
  SK_HD static acc_t charge(const Coeffs<acc_t>& k, acc_t& cur, acc_t v, acc_t x) {
    (void)cur;
    return lif_charge(k, v, x);
  }
  template <typename acc_t>
  SK_HD static acc_t v_decay(const Coeffs<acc_t>& k) { return k.a; }
  template <typename acc_t>
  SK_HD static acc_t input_grad(const Coeffs<acc_t>& k, acc_t gh, acc_t& gcur) {
    (void)gcur;
    return lif_input_grad(k, gh);
  }
};

struct CubaNeuron {
  static constexpr bool kParamGrad = false;  // no learned parameter
  static constexpr bool kOwnStep = false;
  template <typename K>
  SK_HD static K load(const K& k) { return k; }
  template <typename acc_t>
  using Coeffs = CubaCoeffs<acc_t>;
  template <typename acc_t>  // c_decay, v_decay in k0, k1
  static Coeffs<acc_t> coeffs(const NeuronArgs& a) {
    return {acc_t(a.k0), acc_t(a.k1), initial_v(a.soft, acc_t(a.v_reset))};
  }
  template <typename acc_t>
  SK_HD static acc_t charge(const Coeffs<acc_t>& k, acc_t& cur, acc_t v, acc_t x) {
    return cuba_charge(k, cur, v, x);
  }
  template <typename acc_t>
  SK_HD static acc_t v_decay(const Coeffs<acc_t>& k) { return k.v_decay; }
  template <typename acc_t>
  SK_HD static acc_t input_grad(const Coeffs<acc_t>& k, acc_t gh, acc_t& gcur) {
    return cuba_input_grad(k, gh, gcur);
  }
};

// PLIF (NEURONS.md §10): LIF whose 1/tau, q = sigmoid(w), is learned. q is a tensor (the
// backward returns its gradient), so the kernels read it from memory: `q` points to it (on
// the device for CUDA) and load() fetches it once per kernel; v_r is v_reset, 0 for soft.
//   decay_input:      h[t] = v[t-1] + (x[t] - (v[t-1] - v_r)) * q
//   not decay_input:  h[t] = (v[t-1] - (v[t-1] - v_r) * q) + x[t]
template <typename acc_t>
struct PlifCoeffs {
  const acc_t* q_ptr;
  acc_t v_r;
  acc_t q;  // *q_ptr, after load()
};

template <bool DECAY_INPUT>
struct PlifNeuron {
  template <typename acc_t>
  using Coeffs = PlifCoeffs<acc_t>;
  template <typename acc_t>  // q: the learned 1/tau
  static Coeffs<acc_t> coeffs(const NeuronArgs& a) {
    return {static_cast<const acc_t*>(a.q), initial_v(a.soft, acc_t(a.v_reset)), acc_t(0)};
  }
  static constexpr bool kParamGrad = true;
  static constexpr bool kOwnStep = false;
  template <typename acc_t>
  SK_HD static Coeffs<acc_t> load(Coeffs<acc_t> k) {
    k.q = *k.q_ptr;
    return k;
  }
  template <typename acc_t>
  SK_HD static acc_t charge(const Coeffs<acc_t>& k, acc_t& cur, acc_t v, acc_t x) {
    (void)cur;
    if constexpr (DECAY_INPUT) {
      return v + (x - (v - k.v_r)) * k.q;
    } else {
      const acc_t leak = v - (v - k.v_r) * k.q;
      return leak + x;
    }
  }
  // dh[t]/dv[t-1] = 1 - q either way.
  template <typename acc_t>
  SK_HD static acc_t v_decay(const Coeffs<acc_t>& k) { return acc_t(1) - k.q; }
  template <typename acc_t>
  SK_HD static acc_t input_grad(const Coeffs<acc_t>& k, acc_t gh, acc_t& gcur) {
    (void)gcur;
    if constexpr (DECAY_INPUT) return k.q * gh;
    else return gh;
  }
  // dh[t]/dq = x[t] - (v[t-1] - v_r) (decay_input) or -(v[t-1] - v_r). With decay_input,
  // h[t] - v[t-1] = q (x[t] - (v[t-1] - v_r)), so the kernels take (h[t] - v[t-1]) and divide
  // each block's sum by q once (param_block), as SpikingJelly's CUDA kernels do: the backward
  // reads h, which it loads anyway, and not x. Its error is about ulp(h) / q per term. v[t-1]
  // is recomputed from h[t-1] (reset), so the loops add gh[t+1] * param_grad(h[t+1], v[t]) at
  // step t and gh[0] * param_grad(h[0], v[-1]) at the end.
  template <typename acc_t>
  SK_HD static acc_t param_grad(const Coeffs<acc_t>& k, acc_t h, acc_t v_prev) {
    if constexpr (DECAY_INPUT) return h - v_prev;
    else return -(v_prev - k.v_r);
  }
  template <typename acc_t>
  SK_HD static double param_block(const Coeffs<acc_t>& k, double sum) {
    // q = sigmoid(w) is 0 only where it underflows, and then h = v and every term is 0; the
    // op returns 0 there, which dL/dw = dL/dq * q (1 - q) = 0 does not see.
    if constexpr (DECAY_INPUT) return k.q != acc_t(0) ? sum / static_cast<double>(k.q) : 0.0;
    else return sum;
  }
};

// CLIF (NEURONS.md §9): a second state per neuron, the complementary potential m, enters the
// reset, so CLIF brings its own step and reverse step (ClifNeuron, kOwnStep), which the shared
// time loops run. Soft reset, nothing detached, no learned parameter:
//   h[t] = (v[t-1] - v[t-1]/tau) + x[t];  d[t] = sigmoid(h[t]/tau);  s[t] = Θ(h[t] - v_th)
//   m[t] = m[t-1] d[t] + s[t];           v[t] = h[t] - s[t] (v_th + sigmoid(m[t]))
template <typename acc_t>
struct ClifCoeffs {
  acc_t tau;
  acc_t inv_tau;  // 1 / tau, for the backward (the forward divides, as the reference does)
};

// The logistic sigmoid, 1 / (1 + e^-z), in the order torch's sigmoid computes it. The
// potentials agree with the reference loop's within rounding, not bit for bit: torch's exp
// and this one (fast_exp on the CPU) may differ in the last bit.
template <typename acc_t>
SK_HD acc_t logistic(acc_t z) {
  return acc_t(1) / (acc_t(1) + fast_exp(-z));
}

// One forward step: updates v and m, returns h[t]; s is the spike.
template <typename acc_t>
SK_HD acc_t clif_step(const ClifCoeffs<acc_t>& k, const FireParams<acc_t>& p, acc_t& v, acc_t& m, acc_t x,
                      acc_t& s) {
  const acc_t h = (v - v / k.tau) + x;
  const acc_t d = logistic(h / k.tau);
  s = fire(h, p.v_th);
  m = m * d + s;
  v = h - s * (p.v_th + logistic(m));
  return h;
}

// One reverse step (NEURONS.md §9, backward) from h[t], m[t], m[t-1] and gv = dL/dv[t]:
// returns dL/dh[t] (= dL/dx[t]); gm carries dL/dm[t] in (from step t+1) and dL/dm[t-1] out.
// dL/dv[t-1] = (1 - 1/tau) dL/dh[t] is the time loops' own (ClifNeuron::v_decay).
template <int KIND, typename acc_t>
SK_HD acc_t clif_grad_step(const ClifCoeffs<acc_t>& k, const FireParams<acc_t>& p, acc_t h, acc_t m_t,
                           acc_t m_prev, acc_t gs, acc_t gv, acc_t& gm) {
  const acc_t u = h - p.v_th;
  const acc_t s = u >= acc_t(0) ? acc_t(1) : acc_t(0);
  const acc_t psi = surrogate_grad<KIND, acc_t>(u, p.alpha);
  const acc_t d = logistic(h * k.inv_tau);  // within rounding of the forward's d
  const acc_t sm = logistic(m_t);
  const acc_t gm_t = mul_add(-gv * s, sm * (acc_t(1) - sm), gm);   // dL/dm[t]
  const acc_t gs_t = mul_add(-gv, p.v_th + sm, gs + gm_t);         // dL/ds[t]
  const acc_t gh = mul_add(gm_t * m_prev, d * (acc_t(1) - d) * k.inv_tau, mul_add(gs_t, psi, gv));
  gm = gm_t * d;
  return gh;
}

// CLIF as a neuron type of the shared loops: its second state `cur` is m, and its v_decay is
// dh[t]/dv[t-1] = 1 - 1/tau, so the loops' dL/dv[t] (v_decay * dL/dh[t+1]) is CLIF's.
struct ClifNeuron {
  static constexpr bool kParamGrad = false;  // no learned parameter
  static constexpr bool kOwnStep = true;
  template <typename acc_t>
  using Coeffs = ClifCoeffs<acc_t>;
  template <typename acc_t>  // tau in k0
  static Coeffs<acc_t> coeffs(const NeuronArgs& a) {
    return {acc_t(a.k0), acc_t(1.0 / a.k0)};
  }
  template <typename K>
  SK_HD static K load(const K& k) { return k; }
  template <typename acc_t>
  SK_HD static acc_t step(const Coeffs<acc_t>& k, const FireParams<acc_t>& p, acc_t& m, acc_t& v, acc_t x,
                          acc_t& s) {
    return clif_step(k, p, v, m, x, s);
  }
  template <typename acc_t>
  SK_HD static acc_t v_decay(const Coeffs<acc_t>& k) { return acc_t(1) - k.inv_tau; }
  template <int KIND, typename acc_t>
  SK_HD static acc_t grad_h(const Coeffs<acc_t>& k, const FireParams<acc_t>& p, acc_t h, acc_t m_t,
                            acc_t m_prev, acc_t gs, acc_t gv, acc_t& gm) {
    return clif_grad_step<KIND>(k, p, h, m_t, m_prev, gs, gv, gm);
  }
  template <typename acc_t>
  SK_HD static acc_t input_grad(const Coeffs<acc_t>& k, acc_t gh, acc_t& gm) {
    (void)k, (void)gm;
    return gh;  // dh[t]/dx[t] = 1
  }
};

// One reverse step common to all neurons: dL/dh[t] from the spike gradient and the
// gradient arriving through the potential (gv[t] + decay * dL/dh[t+1]).
template <int KIND, bool SOFT, bool DETACH, typename acc_t>
SK_HD acc_t grad_h(acc_t h, acc_t gs, acc_t g_through_v, const FireParams<acc_t>& p) {
  acc_t u = h - p.v_th;
  acc_t psi = surrogate_grad<KIND, acc_t>(u, p.alpha);
  acc_t s = u >= acc_t(0) ? acc_t(1) : acc_t(0);
  return mul_add(gs, psi, g_through_v * dv_dh<SOFT, DETACH, acc_t>(h, s, psi, p.v_th, p.v_reset));
}

// What the time loops run per neuron and step. Forward: h[t] from the state (cur, v) and x[t],
// the spike s[t] and the state after it. Reverse: dL/dh[t] from h[t], dL/ds[t] and dL/dv[t]
// (through_v); cur_t and cur_prev are the saved cur[t], cur[t-1] of a kOwnStep neuron (unused
// otherwise), gcur its carried gradient.
template <class Neuron, bool SOFT, typename acc_t, class K>
SK_HD acc_t neuron_step(const K& k, const FireParams<acc_t>& p, acc_t& cur, acc_t& v, acc_t x, acc_t& s) {
  if constexpr (Neuron::kOwnStep) {
    return Neuron::step(k, p, cur, v, x, s);
  } else {
    const acc_t h = Neuron::charge(k, cur, v, x);
    s = fire(h, p.v_th);
    v = reset<SOFT>(h, s, p.v_th, p.v_reset);
    return h;
  }
}

template <class Neuron, int KIND, bool SOFT, bool DETACH, typename acc_t, class K>
SK_HD acc_t neuron_grad_h(const K& k, const FireParams<acc_t>& p, acc_t h, acc_t gs, acc_t through_v, acc_t cur_t,
                          acc_t cur_prev, acc_t& gcur) {
  if constexpr (Neuron::kOwnStep) {
    return Neuron::template grad_h<KIND>(k, p, h, cur_t, cur_prev, gs, through_v, gcur);
  } else {
    (void)k, (void)cur_t, (void)cur_prev, (void)gcur;
    return grad_h<KIND, SOFT, DETACH>(h, gs, through_v, p);
  }
}

// ------------------------------------------------------------------ the list of neurons
// Every neuron type the shared time loops run. The CPU kernel tables (cpu/kernels_isa.inc)
// and the CUDA launchers (cuda/lif_cuba_kernels.cu) instantiate the loops for each, and a
// binding names the one it calls by neuron_id<Type> (NeuronArgs::neuron); a type whose
// variant is chosen at run time (PLIF's decay_input) is listed once per variant. A new
// neuron is appended here; no table or launcher names it.
template <class... Types>
struct NeuronList {
  static constexpr int size = static_cast<int>(sizeof...(Types));
};
using Neurons = NeuronList<LifNeuron, CubaNeuron, PlifNeuron<false>, PlifNeuron<true>, ClifNeuron>;
static_assert(Neurons::size <= kMaxNeuronTypes, "raise kMaxNeuronTypes (neuron_args.h)");

namespace detail {
template <class N, class First, class... Rest>
constexpr int index_in() {
  if constexpr (std::is_same_v<N, First>) return 0;
  else {
    static_assert(sizeof...(Rest) > 0, "this neuron type is not in Neurons");
    return 1 + index_in<N, Rest...>();
  }
}
template <class N, class... Types>
constexpr int index_in_list(NeuronList<Types...>) { return index_in<N, Types...>(); }
}  // namespace detail

// The index of neuron type N in Neurons: the value of NeuronArgs::neuron that runs it.
template <class N>
constexpr int neuron_id = detail::index_in_list<N>(Neurons{});

// PLIF's id: its decay_input variant is chosen at run time, and each variant is a list entry.
constexpr int plif_id(bool decay_input) {
  return decay_input ? neuron_id<PlifNeuron<true>> : neuron_id<PlifNeuron<false>>;
}

// Calls f(Type{}) for the neuron type whose index is id; false if none has it.
template <class F, class... Types>
bool with_neuron_in(int id, F&& f, NeuronList<Types...>) {
  int i = 0;
  return ((i++ == id ? (f(Types{}), true) : false) || ...);
}
template <class F>
bool with_neuron(int id, F&& f) { return with_neuron_in(id, f, Neurons{}); }

}  // inline namespace SK_ISA_NAMESPACE
}  // namespace spikekern
