// Fused multi-step CPU kernels for LIF, CUBA-LIF and ILC-CUBA-LIF (NEURONS.md §1-3).
//
// Framework-free templates: the torch binding (ops_cpu.cpp) calls them inside
// at::parallel_for, the C++ tests call them directly. Layout is time-major [T, N]:
// each call handles neurons [begin, end), walks them in blocks of kBlock with the state
// in a small local array, and for each t runs a contiguous, vectorisable loop over the
// block. Memory is read once and written once per neuron-step.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "../spikekern/neuron_math.h"

namespace spikekern {
namespace cpu {

constexpr int64_t kBlock = 512;

template <typename scalar_t, typename acc_t>
SK_HD acc_t load(const scalar_t* p, int64_t i) { return static_cast<acc_t>(p[i]); }

// ---------------------------------------------------------------------------- LIF
// h[t] = (a*v[t-1] + b*x[t]) + c
template <typename acc_t>
struct LifCoeffs {
  acc_t a, b, c;
};

template <typename scalar_t, typename acc_t, bool SOFT, bool SAVE_H, bool SAVE_V>
void lif_forward(const LifCoeffs<acc_t> k, const FireParams<acc_t> p, const scalar_t* x,
                 const acc_t* v_init, acc_t v_init_const, int64_t T, int64_t N,
                 int64_t begin, int64_t end, scalar_t* s_out, acc_t* h_out, scalar_t* v_out) {
  acc_t v[kBlock];
  for (int64_t n0 = begin; n0 < end; n0 += kBlock) {
    const int64_t len = std::min(kBlock, end - n0);
    for (int64_t i = 0; i < len; ++i) v[i] = v_init ? v_init[n0 + i] : v_init_const;
    for (int64_t t = 0; t < T; ++t) {
      const int64_t off = t * N + n0;
      const scalar_t* xt = x + off;
      scalar_t* st = s_out + off;
      for (int64_t i = 0; i < len; ++i) {
        acc_t h = k.a * v[i] + k.b * load<scalar_t, acc_t>(xt, i);
        h = h + k.c;
        const acc_t s = fire(h, p.v_th);
        v[i] = reset<SOFT>(h, s, p.v_th, p.v_reset);
        st[i] = static_cast<scalar_t>(s);
        if constexpr (SAVE_H) h_out[off + i] = h;
        if constexpr (SAVE_V) v_out[off + i] = static_cast<scalar_t>(v[i]);
      }
    }
  }
}

// Reverse time. gv (dL/dv[t]) may be null. Writes gx and dL/dv_init (if gv_init != null).
template <typename scalar_t, typename acc_t, int KIND, bool SOFT, bool DETACH, bool HAS_GV>
void lif_backward(const LifCoeffs<acc_t> k, const FireParams<acc_t> p, const scalar_t* gs,
                  const scalar_t* gv, const acc_t* h, int64_t T, int64_t N, int64_t begin,
                  int64_t end, scalar_t* gx, acc_t* gv_init) {
  acc_t g[kBlock];  // dL/dh[t+1]
  for (int64_t n0 = begin; n0 < end; n0 += kBlock) {
    const int64_t len = std::min(kBlock, end - n0);
    for (int64_t i = 0; i < len; ++i) g[i] = acc_t(0);
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t off = t * N + n0;
      for (int64_t i = 0; i < len; ++i) {
        acc_t through_v = k.a * g[i];
        if constexpr (HAS_GV) through_v = load<scalar_t, acc_t>(gv + off, i) + through_v;
        const acc_t gh = grad_h<KIND, SOFT, DETACH>(h[off + i], load<scalar_t, acc_t>(gs + off, i),
                                                    through_v, p);
        g[i] = gh;
        gx[off + i] = static_cast<scalar_t>(k.b * gh);
      }
    }
    if (gv_init)
      for (int64_t i = 0; i < len; ++i) gv_init[n0 + i] = k.a * g[i];
  }
}

// ---------------------------------------------------------------------------- CUBA-LIF
// cur[t] = c_decay*cur[t-1] + x[t];  h[t] = v_decay*v[t-1] + cur[t]
template <typename acc_t>
struct CubaCoeffs {
  acc_t c_decay, v_decay, v_start;  // v_start: v[-1] (v_reset, or 0 for soft reset)
};

template <typename scalar_t, typename acc_t, bool SOFT, bool SAVE_H, bool SAVE_V>
void cuba_forward(const CubaCoeffs<acc_t> k, const FireParams<acc_t> p, const scalar_t* x,
                  int64_t T, int64_t N, int64_t begin, int64_t end, scalar_t* s_out,
                  acc_t* h_out, scalar_t* v_out) {
  acc_t cur[kBlock], v[kBlock];
  for (int64_t n0 = begin; n0 < end; n0 += kBlock) {
    const int64_t len = std::min(kBlock, end - n0);
    for (int64_t i = 0; i < len; ++i) {
      cur[i] = acc_t(0);
      v[i] = k.v_start;
    }
    for (int64_t t = 0; t < T; ++t) {
      const int64_t off = t * N + n0;
      const scalar_t* xt = x + off;
      scalar_t* st = s_out + off;
      for (int64_t i = 0; i < len; ++i) {
        cur[i] = k.c_decay * cur[i] + load<scalar_t, acc_t>(xt, i);
        const acc_t h = k.v_decay * v[i] + cur[i];
        const acc_t s = fire(h, p.v_th);
        v[i] = reset<SOFT>(h, s, p.v_th, p.v_reset);
        st[i] = static_cast<scalar_t>(s);
        if constexpr (SAVE_H) h_out[off + i] = h;
        if constexpr (SAVE_V) v_out[off + i] = static_cast<scalar_t>(v[i]);
      }
    }
  }
}

template <typename scalar_t, typename acc_t, int KIND, bool SOFT, bool DETACH, bool HAS_GV>
void cuba_backward(const CubaCoeffs<acc_t> k, const FireParams<acc_t> p, const scalar_t* gs,
                   const scalar_t* gv, const acc_t* h, int64_t T, int64_t N, int64_t begin,
                   int64_t end, scalar_t* gx) {
  acc_t gh_next[kBlock], gcur_next[kBlock];
  for (int64_t n0 = begin; n0 < end; n0 += kBlock) {
    const int64_t len = std::min(kBlock, end - n0);
    for (int64_t i = 0; i < len; ++i) gh_next[i] = gcur_next[i] = acc_t(0);
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t off = t * N + n0;
      for (int64_t i = 0; i < len; ++i) {
        acc_t through_v = k.v_decay * gh_next[i];
        if constexpr (HAS_GV) through_v = load<scalar_t, acc_t>(gv + off, i) + through_v;
        const acc_t gh = grad_h<KIND, SOFT, DETACH>(h[off + i], load<scalar_t, acc_t>(gs + off, i),
                                                    through_v, p);
        const acc_t gcur = gh + k.c_decay * gcur_next[i];
        gh_next[i] = gh;
        gcur_next[i] = gcur;
        gx[off + i] = static_cast<scalar_t>(gcur);
      }
    }
  }
}

// ---------------------------------------------------------------------------- ILC-CUBA-LIF
// x: [T, M, A*P]. Unit = one (sample m, group g): P neurons coupled by W[g] (P x P, row p
// holds the weights into neuron p) and bias b[g]. For t >= 1:
//   x'[t] = x[t] + (W_g s_g[t-1] + b_g), then CUBA-LIF on x'.
// The work is split into fixed blocks of kIlcSamples samples (independent of the thread
// count), each writing its own partial weight/bias gradient, so the reduction order and
// hence the result are deterministic.
constexpr int64_t kIlcSamples = 16;

struct IlcShape {
  int64_t T, M, A, P;
  int64_t row() const { return A * P; }
  int64_t num_blocks() const { return (M + kIlcSamples - 1) / kIlcSamples; }
};

// Lateral input to neuron p from the previous spikes: sum_q W[p,q] s[q] + b[p], summed in
// q order (spikes are 0/1, so only the weights of firing neurons are added).
template <typename acc_t>
SK_HD acc_t lateral(const acc_t* Wp, const acc_t* s_prev, acc_t bias, int64_t P) {
  acc_t lat = acc_t(0);
  for (int64_t q = 0; q < P; ++q) lat = lat + Wp[q] * s_prev[q];
  return lat + bias;
}

template <typename scalar_t, typename acc_t, bool SOFT, bool SAVE_H>
void ilc_forward(const CubaCoeffs<acc_t> k, const FireParams<acc_t> p, const IlcShape sh,
                 const scalar_t* x, const acc_t* W, const acc_t* bias, int64_t m_begin,
                 int64_t m_end, scalar_t* s_out, acc_t* h_out) {
  const int64_t P = sh.P;
  std::vector<acc_t> buf(4 * P);
  acc_t* cur = buf.data();
  acc_t* v = cur + P;
  acc_t* s_prev = v + P;
  acc_t* s_now = s_prev + P;
  for (int64_t m = m_begin; m < m_end; ++m) {
    for (int64_t g = 0; g < sh.A; ++g) {
      const acc_t* Wg = W + g * P * P;
      const acc_t* bg = bias + g * P;
      for (int64_t i = 0; i < P; ++i) {
        cur[i] = acc_t(0);
        v[i] = k.v_start;
        s_prev[i] = acc_t(0);
      }
      for (int64_t t = 0; t < sh.T; ++t) {
        const int64_t off = (t * sh.M + m) * sh.row() + g * P;
        for (int64_t i = 0; i < P; ++i) {
          acc_t xin = load<scalar_t, acc_t>(x + off, i);
          if (t > 0) xin = xin + lateral(Wg + i * P, s_prev, bg[i], P);
          cur[i] = k.c_decay * cur[i] + xin;
          const acc_t h = k.v_decay * v[i] + cur[i];
          const acc_t s = fire(h, p.v_th);
          v[i] = reset<SOFT>(h, s, p.v_th, p.v_reset);
          s_now[i] = s;
          s_out[off + i] = static_cast<scalar_t>(s);
          if constexpr (SAVE_H) h_out[off + i] = h;
        }
        for (int64_t i = 0; i < P; ++i) s_prev[i] = s_now[i];
      }
    }
  }
}

// Backward for samples of block `blk`; gW_part [A, P, P] and gb_part [A, P] receive this
// block's weight and bias gradients (overwritten, not accumulated).
template <typename scalar_t, typename acc_t, int KIND, bool SOFT, bool DETACH>
void ilc_backward_block(const CubaCoeffs<acc_t> k, const FireParams<acc_t> p,
                        const IlcShape sh, const scalar_t* gs, const acc_t* h, const acc_t* W,
                        int64_t blk, scalar_t* gx, acc_t* gW_part, acc_t* gb_part) {
  const int64_t P = sh.P;
  std::vector<acc_t> buf(4 * P);
  acc_t* gh_next = buf.data();
  acc_t* gcur_next = gh_next + P;
  acc_t* gs_lat = gcur_next + P;  // W_g^T gx'[t+1]
  acc_t* s_prev = gs_lat + P;
  for (int64_t i = 0; i < sh.A * P * P; ++i) gW_part[i] = acc_t(0);
  for (int64_t i = 0; i < sh.A * P; ++i) gb_part[i] = acc_t(0);
  const int64_t m_begin = blk * kIlcSamples;
  const int64_t m_end = std::min(sh.M, m_begin + kIlcSamples);
  for (int64_t m = m_begin; m < m_end; ++m) {
    for (int64_t g = 0; g < sh.A; ++g) {
      const acc_t* Wg = W + g * P * P;
      acc_t* gWg = gW_part + g * P * P;
      acc_t* gbg = gb_part + g * P;
      for (int64_t i = 0; i < P; ++i) gh_next[i] = gcur_next[i] = acc_t(0);
      for (int64_t t = sh.T - 1; t >= 0; --t) {
        const int64_t off = (t * sh.M + m) * sh.row() + g * P;
        // Spike gradient through the lateral path into step t+1 (zero at the last step).
        for (int64_t q = 0; q < P; ++q) gs_lat[q] = acc_t(0);
        if (t + 1 < sh.T)
          for (int64_t i = 0; i < P; ++i)
            for (int64_t q = 0; q < P; ++q) gs_lat[q] = gs_lat[q] + Wg[i * P + q] * gcur_next[i];
        for (int64_t i = 0; i < P; ++i) {
          const acc_t gs_total = load<scalar_t, acc_t>(gs + off, i) + gs_lat[i];
          const acc_t gh = grad_h<KIND, SOFT, DETACH>(h[off + i], gs_total,
                                                      k.v_decay * gh_next[i], p);
          const acc_t gcur = gh + k.c_decay * gcur_next[i];
          gh_next[i] = gh;
          gcur_next[i] = gcur;
          gx[off + i] = static_cast<scalar_t>(gcur);
        }
        if (t >= 1) {
          const int64_t off_prev = off - sh.M * sh.row();
          for (int64_t q = 0; q < P; ++q) s_prev[q] = fire(h[off_prev + q], p.v_th);
          for (int64_t i = 0; i < P; ++i) {
            gbg[i] = gbg[i] + gcur_next[i];
            for (int64_t q = 0; q < P; ++q) gWg[i * P + q] = gWg[i * P + q] + gcur_next[i] * s_prev[q];
          }
        }
      }
    }
  }
}

// Sum the per-block partial gradients in block order (deterministic).
template <typename acc_t>
void ilc_reduce_partials(const acc_t* parts, int64_t n_blocks, int64_t size, int64_t begin,
                         int64_t end, acc_t* out) {
  for (int64_t j = begin; j < end; ++j) {
    acc_t sum = acc_t(0);
    for (int64_t b = 0; b < n_blocks; ++b) sum = sum + parts[b * size + j];
    out[j] = sum;
  }
}

}  // namespace cpu
}  // namespace spikekern
