// Fused multi-step CPU kernels for LIF, CUBA-LIF and ILC-CUBA-LIF (NEURONS.md §1-3).
//
// Framework-free templates: the ops' entry points (kernels_isa.inc, one per op and
// instruction set) call them on the ranges that the torch binding (ops_cpu.cpp) hands out
// with at::parallel_for; the C++ tests call them directly. Layout is time-major [T, N]:
// each call handles neurons [begin, end), walks them in blocks of kBlock with the state
// in a small local array, and for each t runs a contiguous, vectorisable loop over the
// block. Memory is read once and written once per neuron-step.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "../spikekern/neuron_math.h"

namespace spikekern {
inline namespace SK_ISA_NAMESPACE {
namespace cpu {

constexpr int64_t kBlock = 512;

template <typename scalar_t, typename acc_t>
SK_HD acc_t load(const scalar_t* p, int64_t i) { return static_cast<acc_t>(p[i]); }

// ------------------------------------------------------------ streaming (non-temporal) stores
// An output far larger than the caches is not read again before it leaves them, so writing
// it through the caches only costs: each line is first read from memory (to own it), then
// written back. Streaming stores write whole lines straight to memory. Measured with
// benchmarks/cpu_streaming.py (docs/benchmarks.md, "Streaming stores"), at T=16, N=2^20,
// float32 they make a forward+backward 1.15x to 1.23x faster and the no-grad forward 1.07x
// to 1.31x, on AVX-512 and AVX2. The binding (ops_cpu.cpp) turns them on for outputs of at
// least spikekern.cpu.stream_min_bytes() (half the last-level cache): a smaller output may
// still be in cache when its consumer reads it, so it is stored plainly.

// The widest vector of this build (isa_*.inc say; 16 bytes, SSE2, elsewhere).
#ifndef SK_ISA_VECTOR_BYTES
#define SK_ISA_VECTOR_BYTES 16
#endif

// dst[0, len) = src[0, len), with streaming stores from the first vector-aligned element
// of dst; the unaligned head and the tail are copied plainly.
template <typename T>
inline void stream_row(T* __restrict dst, const T* __restrict src, int64_t len) {
#if defined(__x86_64__) && defined(__GNUC__)
  constexpr int64_t kVec = SK_ISA_VECTOR_BYTES;
  char* d = reinterpret_cast<char*>(dst);
  const char* s = reinterpret_cast<const char*>(src);
  int64_t n = len * static_cast<int64_t>(sizeof(T));
  // dst is T-aligned and kVec a multiple of sizeof(T), so the head is whole elements.
  const int64_t head = std::min<int64_t>(n, (kVec - reinterpret_cast<uintptr_t>(d) % kVec) % kVec);
  std::memcpy(d, s, head);
  d += head, s += head, n -= head;
  for (; n >= kVec; n -= kVec, d += kVec, s += kVec) {
#if SK_ISA_VECTOR_BYTES == 64
    _mm512_stream_si512(reinterpret_cast<__m512i*>(d), _mm512_loadu_si512(s));
#elif SK_ISA_VECTOR_BYTES == 32
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s)));
#else
    _mm_stream_si128(reinterpret_cast<__m128i*>(d), _mm_loadu_si128(reinterpret_cast<const __m128i*>(s)));
#endif
  }
  std::memcpy(d, s, n);
#else
  std::copy(src, src + len, dst);
#endif
}

// Streaming stores are weakly ordered: fence them before the range is reported done, so
// the thread that joins the parallel loop sees every output.
inline void stream_fence() {
#if defined(__x86_64__) && defined(__GNUC__)
  _mm_sfence();
#endif
}

// ------------------------------------------------------------------------------ prefetching
// Each step of a block reads a 2 KB piece of its input rows, N elements away from the
// previous step's piece: the hardware prefetchers, which follow a stream within a page,
// start each piece with a miss. So each step asks for the pieces kPrefetchRows steps ahead
// to be brought into L2 (prefetcht2; into L1 it was slower, 1 and 2 to 6 steps ahead about
// the same). With the backward's fused multiply-add (neuron_math.h) it made a T=16, N=2^20
// float32 forward+backward 1.09x to 1.28x faster (docs/benchmarks.md, "Prefetching and
// fused multiply-add in the backward").
constexpr int64_t kPrefetchRows = 2;

template <typename T>
inline void prefetch_row(const T* p, int64_t len) {
#if defined(__GNUC__)
  const char* c = reinterpret_cast<const char*>(p);
  for (int64_t b = 0; b < len * static_cast<int64_t>(sizeof(T)); b += 64) __builtin_prefetch(c + b, 0, 1);
#endif
}

// ---------------------------------------------------------------- the neurons' time loops
// Written once over the neuron type (neuron_math.h: LifNeuron, CubaNeuron, PlifNeuron,
// ClifNeuron). With `stream`, each step's outputs for the block are computed into local rows
// and then streamed out. A kOwnStep neuron (CLIF) saves its second state cur[t] in c_out
// beside h (SAVE_H) and its backward reads it back (c_saved).

template <class Neuron, typename scalar_t, typename acc_t, bool SOFT, bool SAVE_H, bool SAVE_V>
void forward_steps(const typename Neuron::template Coeffs<acc_t> coeffs, const FireParams<acc_t> p,
                   const scalar_t* x, const acc_t* v_init, acc_t v_start, int64_t T, int64_t N,
                   int64_t begin, int64_t end, scalar_t* s_out, acc_t* h_out, scalar_t* v_out,
                   bool stream = false, acc_t* c_out = nullptr) {
  constexpr bool SAVE_C = SAVE_H && Neuron::kOwnStep;
  // Aligned rows: the streaming copy reads them a whole vector at a time.
  alignas(64) acc_t cur[kBlock], v[kBlock];
  alignas(64) scalar_t s_row[kBlock], v_row[kBlock];
  alignas(64) acc_t h_row[kBlock], c_row[kBlock];
  const auto k = Neuron::load(coeffs);
  for (int64_t n0 = begin; n0 < end; n0 += kBlock) {
    const int64_t len = std::min(kBlock, end - n0);
    for (int64_t i = 0; i < len; ++i) {
      cur[i] = acc_t(0);
      v[i] = v_init ? v_init[n0 + i] : v_start;
    }
    for (int64_t t = 0; t < T; ++t) {
      const int64_t off = t * N + n0;
      const scalar_t* xt = x + off;
      if (t + kPrefetchRows < T) prefetch_row(xt + kPrefetchRows * N, len);
      // Where this step's outputs go: the local rows when streaming, else the outputs
      // themselves (an output not saved points at its unused row: h_out may be null).
      scalar_t* st = stream ? s_row : s_out + off;
      acc_t* ht = stream || !SAVE_H ? h_row : h_out + off;
      acc_t* ct = stream || !SAVE_C ? c_row : c_out + off;
      scalar_t* vt = stream || !SAVE_V ? v_row : v_out + off;
      for (int64_t i = 0; i < len; ++i) {
        acc_t s;
        const acc_t h = neuron_step<Neuron, SOFT>(k, p, cur[i], v[i], load<scalar_t, acc_t>(xt, i), s);
        st[i] = static_cast<scalar_t>(s);
        if constexpr (SAVE_H) ht[i] = h;
        if constexpr (SAVE_C) ct[i] = cur[i];
        if constexpr (SAVE_V) vt[i] = static_cast<scalar_t>(v[i]);
      }
      if (stream) {
        stream_row(s_out + off, s_row, len);
        if constexpr (SAVE_H) stream_row(h_out + off, h_row, len);
        if constexpr (SAVE_C) stream_row(c_out + off, c_row, len);
        if constexpr (SAVE_V) stream_row(v_out + off, v_row, len);
      }
    }
  }
  if (stream) stream_fence();
}

// Reverse time. gv (dL/dv[t]) may be null. Writes gx and dL/dv_init (if gv_init != null).
// A neuron with a learned parameter (Neuron::kParamGrad) writes one partial dL/dparam per
// block of kBlock neurons (in double), param_parts[n0 / kBlock]: begin must then be a multiple
// of kBlock, so a block's sum never depends on how the neurons were split between threads.
// dh[t+1]/dparam (param_grad of h[t+1] and v[t]) is added at step t, from the v[t] that the
// reset of the h[t] loaded then gives (dh[0]/dparam, from v_start, after the loop). A kOwnStep
// neuron reads its saved cur[t] and cur[t-1] (0 before t = 0) from c_saved.
template <class Neuron, typename scalar_t, typename acc_t, int KIND, bool SOFT, bool DETACH, bool HAS_GV>
void backward_steps(const typename Neuron::template Coeffs<acc_t> coeffs, const FireParams<acc_t> p,
                    const scalar_t* gs, const scalar_t* gv, const acc_t* h, int64_t T, int64_t N,
                    int64_t begin, int64_t end, scalar_t* gx, acc_t* gv_init, bool stream = false,
                    acc_t v_start = acc_t(0), double* param_parts = nullptr,
                    const acc_t* c_saved = nullptr) {
  constexpr bool PARAM = Neuron::kParamGrad, OWN = Neuron::kOwnStep;
  alignas(64) acc_t gh_next[kBlock], gcur[kBlock];  // dL/dh[t+1], and the neuron's carried gradient
  alignas(64) acc_t gparam[kBlock];                  // per-neuron sums of gh * dh/dparam
  alignas(64) acc_t h_next[PARAM ? kBlock : 1];      // h[t+1], for dh[t+1]/dparam
  alignas(64) acc_t c_zero[OWN ? kBlock : 1] = {};   // cur[-1], so the step's loop has no branch
  alignas(64) scalar_t gx_row[kBlock];
  const auto k = Neuron::load(coeffs);
  const acc_t v_decay = Neuron::v_decay(k);
  for (int64_t n0 = begin; n0 < end; n0 += kBlock) {
    const int64_t len = std::min(kBlock, end - n0);
    for (int64_t i = 0; i < len; ++i) gh_next[i] = gcur[i] = gparam[i] = acc_t(0);
    if constexpr (PARAM)
      for (int64_t i = 0; i < len; ++i) h_next[i] = acc_t(0);
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t off = t * N + n0;
      scalar_t* gxt = stream ? gx_row : gx + off;
      if (t >= kPrefetchRows) {
        const int64_t ahead = off - kPrefetchRows * N;
        prefetch_row(h + ahead, len);
        prefetch_row(gs + ahead, len);
        if constexpr (HAS_GV) prefetch_row(gv + ahead, len);
        if constexpr (OWN) prefetch_row(c_saved + ahead, len);
      }
      const acc_t* c_t = OWN ? c_saved + off : c_zero;
      const acc_t* c_prev = OWN && t > 0 ? c_saved + off - N : c_zero;
      for (int64_t i = 0; i < len; ++i) {
        // dL/dv[t]: gv[t] (when given) + v_decay * dL/dh[t+1]
        const acc_t through_v = HAS_GV ? mul_add(v_decay, gh_next[i], load<scalar_t, acc_t>(gv + off, i))
                                       : v_decay * gh_next[i];
        const acc_t gh = neuron_grad_h<Neuron, KIND, SOFT, DETACH>(
            k, p, h[off + i], load<scalar_t, acc_t>(gs + off, i), through_v, OWN ? c_t[i] : acc_t(0),
            OWN ? c_prev[i] : acc_t(0), gcur[i]);
        if constexpr (PARAM) {
          // gh[t+1] * dh[t+1]/dparam (0 at t = T-1, where gh_next is 0)
          const acc_t ht = h[off + i];
          const acc_t v_t = reset<SOFT>(ht, fire(ht, p.v_th), p.v_th, p.v_reset);
          gparam[i] = mul_add(gh_next[i], Neuron::param_grad(k, h_next[i], v_t), gparam[i]);
          h_next[i] = ht;
        }
        gh_next[i] = gh;
        gxt[i] = static_cast<scalar_t>(Neuron::input_grad(k, gh, gcur[i]));
      }
      if (stream) stream_row(gx + off, gx_row, len);
    }
    if (gv_init)
      for (int64_t i = 0; i < len; ++i) gv_init[n0 + i] = v_decay * gh_next[i];
    if constexpr (PARAM) {  // the block's sum in double: the total often cancels to far below its terms
      for (int64_t i = 0; i < len; ++i)
        gparam[i] = mul_add(gh_next[i], Neuron::param_grad(k, h_next[i], v_start), gparam[i]);
      double sum = 0.0;
      for (int64_t i = 0; i < len; ++i) sum = sum + static_cast<double>(gparam[i]);
      param_parts[n0 / kBlock] = Neuron::param_block(k, sum);
    }
  }
  if (stream) stream_fence();
}

// Sums per-block partial gradients in block order, element by element (deterministic): parts
// holds n_blocks rows of `size` values. PLIF's parameter (size 1) and ILC's weights use it.
template <typename acc_t>
void sum_partials_in_order(const acc_t* parts, int64_t n_blocks, int64_t size, acc_t* out) {
  for (int64_t e = 0; e < size; ++e) {
    acc_t sum = acc_t(0);
    for (int64_t b = 0; b < n_blocks; ++b) sum = sum + parts[b * size + e];
    out[e] = sum;
  }
}

// ---------------------------------------------------------------------------- ILC-CUBA-LIF
// x: [T, M, A*P]. Group g of sample m: P neurons coupled by W[g] (P x P, row p holds the
// weights into neuron p) and bias b[g]. For t >= 1:
//   x'[t] = x[t] + (W_g s_g[t-1] + b_g), then CUBA-LIF on x'.
// P is small (10 in ILC-SAN), so loops over P do not vectorise well. The kernels instead
// take a tile of kIlcSamples samples of one group and vectorise across the samples: state
// is [P][kIlcSamples], and each tile is transposed in from and out to the [T, M, A*P]
// layout. Tiles of samples are also the unit of the weight-gradient reduction: each writes
// its own partial gradient, reduced in tile order, so results do not depend on the thread
// count. A partial last tile is padded with zero input and zero spike-gradient, which
// adds exactly zero to every gradient.
constexpr int64_t kIlcSamples = 16;
constexpr int64_t kS = kIlcSamples;

struct IlcShape {
  int64_t T, M, A, P;
  int64_t row() const { return A * P; }
  int64_t num_blocks() const { return (M + kS - 1) / kS; }
};

// Tile helpers. Separate functions with __restrict arguments, so each loop is a plain
// vectorisable loop over the P*kS elements of a tile.
template <typename scalar_t, typename acc_t>
inline void gather_tile(const scalar_t* __restrict src, int64_t base, int64_t stride,
                        int64_t nm, int64_t P, acc_t* __restrict dst) {
  for (int64_t i = 0; i < P * kS; ++i) dst[i] = acc_t(0);
  for (int64_t j = 0; j < nm; ++j)
    for (int64_t i = 0; i < P; ++i) dst[i * kS + j] = static_cast<acc_t>(src[base + j * stride + i]);
}

template <typename scalar_t, typename acc_t>
inline void scatter_tile(const acc_t* __restrict src, int64_t base, int64_t stride, int64_t nm,
                         int64_t P, scalar_t* __restrict dst) {
  for (int64_t j = 0; j < nm; ++j)
    for (int64_t i = 0; i < P; ++i) dst[base + j * stride + i] = static_cast<scalar_t>(src[i * kS + j]);
}

// One row of a tile as a GCC vector of kS lanes (lowered to the machine's vector width).
// The matrix-like tile loops below use it because GCC does not vectorise their
// accumulators reliably otherwise; lane-wise + and * round exactly like scalar code.
template <typename T>
struct Lanes {
  typedef T type __attribute__((vector_size(kS * sizeof(T)), aligned(sizeof(T))));
};

// lat[p][:] = (sum_q W[p,q] * s[q][:]) + b[p], summed in q order. s is 0/1, so each
// product is W[p,q] or 0 and the sum equals adding the weights of the firing neurons.
template <typename acc_t>
inline void lateral_tile(const acc_t* __restrict Wg, const acc_t* __restrict s,
                         const acc_t* __restrict bg, int64_t P, acc_t* __restrict lat) {
  using V = typename Lanes<acc_t>::type;
  const V* sv = reinterpret_cast<const V*>(s);
  V* lv = reinterpret_cast<V*>(lat);
  for (int64_t p = 0; p < P; ++p) {
    V acc = V{};
    for (int64_t q = 0; q < P; ++q) acc = acc + Wg[p * P + q] * sv[q];
    lv[p] = acc + bg[p];
  }
}

// One CUBA-LIF step over a tile (n elements); LATERAL adds lat to the input.
template <typename acc_t, bool SOFT, bool LATERAL>
inline void cuba_tile_step(const CubaCoeffs<acc_t> k, const FireParams<acc_t> p, int64_t n,
                           const acc_t* __restrict xin, const acc_t* __restrict lat,
                           acc_t* __restrict cur, acc_t* __restrict v, acc_t* __restrict s,
                           acc_t* __restrict h) {
  for (int64_t e = 0; e < n; ++e) {
    acc_t xe = xin[e];
    if constexpr (LATERAL) xe = xe + lat[e];
    const acc_t hh = cuba_charge(k, cur[e], v[e], xe);
    const acc_t ss = fire(hh, p.v_th);
    v[e] = reset<SOFT>(hh, ss, p.v_th, p.v_reset);
    s[e] = ss;
    h[e] = hh;
  }
}

template <typename scalar_t, typename acc_t, bool SOFT, bool SAVE_H>
void ilc_cuba_lif_forward_tile(const CubaCoeffs<acc_t> k, const FireParams<acc_t> p, const IlcShape sh,
                       const scalar_t* x, const acc_t* W, const acc_t* bias, int64_t blk,
                       scalar_t* s_out, acc_t* h_out) {
  const int64_t P = sh.P, n = P * kS, m0 = blk * kS, nm = std::min(kS, sh.M - m0);
  std::vector<acc_t> buf(6 * n);
  acc_t *cur = buf.data(), *v = cur + n, *s = v + n, *lat = s + n, *h = lat + n, *xt = h + n;
  for (int64_t g = 0; g < sh.A; ++g) {
    for (int64_t i = 0; i < n; ++i) {
      cur[i] = acc_t(0);
      v[i] = k.v_start;
    }
    for (int64_t t = 0; t < sh.T; ++t) {
      const int64_t base = (t * sh.M + m0) * sh.row() + g * P;
      gather_tile(x, base, sh.row(), nm, P, xt);
      if (t > 0) {
        lateral_tile(W + g * P * P, s, bias + g * P, P, lat);
        cuba_tile_step<acc_t, SOFT, true>(k, p, n, xt, lat, cur, v, s, h);
      } else {
        cuba_tile_step<acc_t, SOFT, false>(k, p, n, xt, lat, cur, v, s, h);
      }
      scatter_tile(s, base, sh.row(), nm, P, s_out);
      if constexpr (SAVE_H) scatter_tile(h, base, sh.row(), nm, P, h_out);
    }
  }
}

// gs_lat[q][:] = sum_i W[i,q] * gcur[i][:]  (W_g^T gx'[t+1])
template <typename acc_t>
inline void lateral_grad_tile(const acc_t* __restrict Wg, const acc_t* __restrict gcur,
                              int64_t P, acc_t* __restrict gs_lat) {
  using V = typename Lanes<acc_t>::type;
  const V* gv = reinterpret_cast<const V*>(gcur);
  V* out = reinterpret_cast<V*>(gs_lat);
  for (int64_t q = 0; q < P; ++q) {
    V acc = V{};
    for (int64_t i = 0; i < P; ++i) acc = acc + Wg[i * P + q] * gv[i];
    out[q] = acc;
  }
}

template <typename acc_t, int KIND, bool SOFT, bool DETACH>
inline void cuba_tile_grad_step(const CubaCoeffs<acc_t> k, const FireParams<acc_t> p, int64_t n,
                                const acc_t* __restrict gs, const acc_t* __restrict gs_lat,
                                const acc_t* __restrict h, acc_t* __restrict gh_next,
                                acc_t* __restrict gcur) {
  for (int64_t e = 0; e < n; ++e) {
    const acc_t gh = grad_h<KIND, SOFT, DETACH>(h[e], gs[e] + gs_lat[e], k.v_decay * gh_next[e], p);
    gh_next[e] = gh;
    cuba_input_grad(k, gh, gcur[e]);
  }
}

// dW_lane[i][q][:] += gcur[i][:] * s_prev[q][:], db_lane[i][:] += gcur[i][:]
template <typename acc_t>
inline void weight_grad_tile(const acc_t* __restrict gcur, const acc_t* __restrict s_prev,
                             int64_t P, acc_t* __restrict dW_lane, acc_t* __restrict db_lane) {
  using V = typename Lanes<acc_t>::type;
  const V* gv = reinterpret_cast<const V*>(gcur);
  const V* sv = reinterpret_cast<const V*>(s_prev);
  V* dw = reinterpret_cast<V*>(dW_lane);
  V* db = reinterpret_cast<V*>(db_lane);
  for (int64_t i = 0; i < P; ++i) {
    db[i] = db[i] + gv[i];
    for (int64_t q = 0; q < P; ++q) dw[i * P + q] = dw[i * P + q] + gv[i] * sv[q];
  }
}

// Backward for the samples of tile `blk`; gW_part [A, P, P] and gb_part [A, P] receive this
// tile's weight and bias gradients (overwritten, not accumulated).
template <typename scalar_t, typename acc_t, int KIND, bool SOFT, bool DETACH>
void ilc_cuba_lif_backward_tile(const CubaCoeffs<acc_t> k, const FireParams<acc_t> p,
                        const IlcShape sh, const scalar_t* gs, const acc_t* h, const acc_t* W,
                        int64_t blk, scalar_t* gx, acc_t* gW_part, acc_t* gb_part) {
  const int64_t P = sh.P, n = P * kS, m0 = blk * kS, nm = std::min(kS, sh.M - m0);
  // Per-lane accumulators of dW and db, reduced over the lanes at the end of each group.
  std::vector<acc_t> buf(8 * n + P * n);
  acc_t *gh_next = buf.data(), *gcur = gh_next + n, *gs_lat = gcur + n, *ht = gs_lat + n,
        *h_prev = ht + n, *s_prev = h_prev + n, *gst = s_prev + n, *db_lane = gst + n,
        *dW_lane = db_lane + n;
  for (int64_t g = 0; g < sh.A; ++g) {
    const acc_t* Wg = W + g * P * P;
    for (int64_t i = 0; i < n; ++i) gh_next[i] = gcur[i] = db_lane[i] = gs_lat[i] = acc_t(0);
    for (int64_t i = 0; i < P * n; ++i) dW_lane[i] = acc_t(0);
    gather_tile(h, ((sh.T - 1) * sh.M + m0) * sh.row() + g * P, sh.row(), nm, P, ht);
    for (int64_t t = sh.T - 1; t >= 0; --t) {
      const int64_t base = (t * sh.M + m0) * sh.row() + g * P;
      if (t + 1 < sh.T) lateral_grad_tile(Wg, gcur, P, gs_lat);
      gather_tile(gs, base, sh.row(), nm, P, gst);
      cuba_tile_grad_step<acc_t, KIND, SOFT, DETACH>(k, p, n, gst, gs_lat, ht, gh_next, gcur);
      scatter_tile(gcur, base, sh.row(), nm, P, gx);
      if (t >= 1) {  // dW += gx'[t] (outer) s[t-1], db += gx'[t]
        gather_tile(h, base - sh.M * sh.row(), sh.row(), nm, P, h_prev);
        for (int64_t i = 0; i < n; ++i) s_prev[i] = fire(h_prev[i], p.v_th);
        weight_grad_tile(gcur, s_prev, P, dW_lane, db_lane);
        std::swap(ht, h_prev);
      }
    }
    // Reduce the lanes in lane order.
    for (int64_t e = 0; e < P * P; ++e) {
      acc_t sum = acc_t(0);
      for (int64_t j = 0; j < kS; ++j) sum = sum + dW_lane[e * kS + j];
      gW_part[g * P * P + e] = sum;
    }
    for (int64_t i = 0; i < P; ++i) {
      acc_t sum = acc_t(0);
      for (int64_t j = 0; j < kS; ++j) sum = sum + db_lane[i * kS + j];
      gb_part[g * P + i] = sum;
    }
  }
}

}  // namespace cpu
}  // inline namespace SK_ISA_NAMESPACE
}  // namespace spikekern
