// spike_linear on the CPU: y = s @ W^T + b for spikes s in {0, 1}, skipping the zeros.
//
// A product with a {0,1} input is a sum of weight columns: row m of y is the sum of W^T's
// rows i where s[m, i] = 1. The forward keeps a tile of y's row in vector registers and adds
// the active rows of W^T into it; the weight gradient, dW^T[i] = sum of dy[m] over
// the rows m where s[m, i] = 1, walks the spikes by column (a CSC index built from the bits)
// and accumulates a tile of dW^T's row in registers the same way. Both do density x the
// arithmetic of the dense product, at about the dense product's rate per active element
// (one vector load and add per vector of outputs), so they win below a density that
// spike_linear_ops.cpp's dispatch rule states.
//
// The spikes are saved for the backward as bits, 64 per uint64 word, bit j of word w of row
// m = s[m, 64 w + j] (little-endian: the bytes are "8 per byte" in input order).
//
// Included inside SK_ISA_NAMESPACE by kernels_isa.inc: every function here is compiled once
// per instruction set. Framework-free: raw pointers.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace spikekern {
namespace cpu_isa {
namespace SK_ISA_NAMESPACE {
namespace spike {

// A vector register of T (GCC's vector extension: the build's width, SK_ISA_VECTOR_BYTES).
template <typename T>
struct Vec {
  typedef T type __attribute__((vector_size(SK_ISA_VECTOR_BYTES)));
  static constexpr int64_t lanes = SK_ISA_VECTOR_BYTES / sizeof(T);
};

// Accumulator registers per tile: 8 independent additions in flight hide the add latency.
constexpr int kTileVectors = 8;

inline int64_t words(int64_t in) { return (in + 63) / 64; }

// One word of bits from n <= 64 entries; odd: the entries that are neither 0 nor 1.
template <typename T>
inline uint64_t pack_word(const T* v, int64_t n, uint64_t& odd) {
  uint64_t word = 0, one = 0;
  int64_t j = 0;
  if constexpr (std::is_same_v<T, float>) {
#if SK_ISA_VECTOR_BYTES == 64
    for (; j + 16 <= n; j += 16) {  // a compare per 16 lanes straight into a mask
      const __m512 x = _mm512_loadu_ps(v + j);
      word |= static_cast<uint64_t>(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_NEQ_UQ)) << j;
      one |= static_cast<uint64_t>(_mm512_cmp_ps_mask(x, _mm512_set1_ps(1.0f), _CMP_EQ_OQ)) << j;
    }
#elif SK_ISA_VECTOR_BYTES == 32
    for (; j + 8 <= n; j += 8) {
      const __m256 x = _mm256_loadu_ps(v + j);
      word |= static_cast<uint64_t>(_mm256_movemask_ps(_mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_NEQ_UQ))) << j;
      one |= static_cast<uint64_t>(_mm256_movemask_ps(_mm256_cmp_ps(x, _mm256_set1_ps(1.0f), _CMP_EQ_OQ))) << j;
    }
#endif
  }
  for (; j < n; ++j) {
    const T x = v[j];
    word |= static_cast<uint64_t>(!(x == T(0))) << j;  // NaN packs as 1 (and counts as odd)
    one |= static_cast<uint64_t>(x == T(1)) << j;
  }
  odd += __builtin_popcountll(word & ~one);
  return word;
}

// Rows [begin, end) of s [M, in] -> bits [M, words(in)], count[m] = spikes in row m;
// returns the number of entries that are neither 0 nor 1 (any nonzero packs as 1).
template <typename T>
int64_t pack_rows(const T* s, int64_t in, uint64_t* bits, int32_t* count, int64_t begin, int64_t end) {
  const int64_t W = words(in);
  uint64_t odd = 0;
  for (int64_t m = begin; m < end; ++m) {
    const T* row = s + m * in;
    uint64_t* out = bits + m * W;
    int32_t c = 0;
    for (int64_t w = 0; w < W; ++w) {
      const int64_t lo = w * 64;
      out[w] = pack_word(row + lo, in - lo < 64 ? in - lo : 64, odd);
      c += __builtin_popcountll(out[w]);
    }
    count[m] = c;
  }
  return static_cast<int64_t>(odd);
}

// Rows [begin, end) of bits -> s [M, in] of 0 and 1 (the dense path's backward).
template <typename T>
void unpack_rows(const uint64_t* bits, int64_t in, T* s, int64_t begin, int64_t end) {
  const int64_t W = words(in);
  for (int64_t m = begin; m < end; ++m)
    for (int64_t i = 0; i < in; ++i) s[m * in + i] = T((bits[m * W + i / 64] >> (i % 64)) & 1);
}

// The active input indices of one row, in order; returns how many.
inline int64_t active(const uint64_t* row_bits, int64_t W, int32_t* idx) {
  int64_t n = 0;
  for (int64_t w = 0; w < W; ++w) {
    uint64_t word = row_bits[w];
    while (word) {
      idx[n++] = static_cast<int32_t>(w * 64 + __builtin_ctzll(word));
      word &= word - 1;
    }
  }
  return n;
}

// One tile of NV vectors of outputs: dst = init (or 0) + sum over the listed rows r of
// src[r * ld + o]. The accumulators stay in registers (explicit vectors, loops unrolled).
template <typename T, int NV>
inline void sum_rows_tile(const T* src, int64_t ld, const int32_t* rows, int64_t n, const T* init, T* dst) {
  using V = typename Vec<T>::type;
  constexpr int64_t L = Vec<T>::lanes;
  V acc[NV];
#pragma GCC unroll 8
  for (int j = 0; j < NV; ++j) {
    acc[j] = V{};
    if (init) std::memcpy(&acc[j], init + j * L, sizeof(V));
  }
  for (int64_t k = 0; k < n; ++k) {
    const T* r = src + static_cast<int64_t>(rows[k]) * ld;
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      V x;
      std::memcpy(&x, r + j * L, sizeof(V));  // an unaligned vector load
      acc[j] += x;
    }
  }
#pragma GCC unroll 8
  for (int j = 0; j < NV; ++j) std::memcpy(dst + j * L, &acc[j], sizeof(V));
}

// The same for the last width < one vector of outputs, one lane at a time.
template <typename T>
inline void sum_rows_scalar(const T* src, int64_t ld, const int32_t* rows, int64_t n, const T* init, T* dst,
                            int64_t width) {
  for (int64_t o = 0; o < width; ++o) {
    T acc = init ? init[o] : T(0);
    for (int64_t k = 0; k < n; ++k) acc += src[static_cast<int64_t>(rows[k]) * ld + o];
    dst[o] = acc;
  }
}

// dst[0, width) = init (or 0) + sum over the listed rows r of src[r * ld + 0 .. width).
template <typename T>
inline void sum_rows(const T* src, int64_t ld, int64_t width, const int32_t* rows, int64_t n, const T* init,
                     T* dst) {
  constexpr int64_t L = Vec<T>::lanes, tile = kTileVectors * L;
  int64_t o = 0;
  for (; o + tile <= width; o += tile)
    sum_rows_tile<T, kTileVectors>(src + o, ld, rows, n, init ? init + o : nullptr, dst + o);
  for (; o + 4 * L <= width; o += 4 * L) sum_rows_tile<T, 4>(src + o, ld, rows, n, init ? init + o : nullptr, dst + o);
  for (; o + L <= width; o += L) sum_rows_tile<T, 1>(src + o, ld, rows, n, init ? init + o : nullptr, dst + o);
  // The binding pads rows to whole 64-byte vectors, so this runs only for other callers.
  if (o < width) sum_rows_scalar(src + o, ld, rows, n, init ? init + o : nullptr, dst + o, width - o);
}

// Forward, rows [begin, end): y[m] = bias + sum of wt[i] (wt = W^T, [in, out]) over the
// active i of row m. idx: scratch of `in` entries.
template <typename T>
void forward_rows(const uint64_t* bits, int64_t in, const T* wt, const T* bias, int64_t out, T* y, int32_t* idx,
                  int64_t begin, int64_t end) {
  const int64_t W = words(in);
  for (int64_t m = begin; m < end; ++m) {
    const int64_t n = active(bits + m * W, W, idx);
    sum_rows(wt, out, out, idx, n, bias, y + m * out);
  }
}

// The spikes by column: col_ptr [in + 1], rows [nnz] (each column's rows in order).
inline void columns(const uint64_t* bits, int64_t M, int64_t in, int64_t* col_ptr, int32_t* rows) {
  const int64_t W = words(in);
  std::memset(col_ptr, 0, sizeof(int64_t) * (in + 1));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t w = 0; w < W; ++w)
      for (uint64_t word = bits[m * W + w]; word; word &= word - 1) ++col_ptr[w * 64 + __builtin_ctzll(word) + 1];
  for (int64_t i = 0; i < in; ++i) col_ptr[i + 1] += col_ptr[i];
  // Fill by a second pass in row order, so each column's rows come out sorted.
  int64_t* next = col_ptr;  // advanced while filling, then shifted back
  for (int64_t m = 0; m < M; ++m)
    for (int64_t w = 0; w < W; ++w)
      for (uint64_t word = bits[m * W + w]; word; word &= word - 1) rows[next[w * 64 + __builtin_ctzll(word)]++] = m;
  for (int64_t i = in; i > 0; --i) col_ptr[i] = col_ptr[i - 1];
  col_ptr[0] = 0;
}

// Weight gradient, input features [begin, end): gwt[i] = sum of gy[m] (gy [M, out]) over
// the rows m of column i.
template <typename T>
void grad_weight_cols(const int64_t* col_ptr, const int32_t* rows, const T* gy, int64_t out, T* gwt, int64_t begin,
                      int64_t end) {
  for (int64_t i = begin; i < end; ++i)
    sum_rows(gy, out, out, rows + col_ptr[i], col_ptr[i + 1] - col_ptr[i], static_cast<const T*>(nullptr),
             gwt + i * out);
}

// dst [cols, rows] (row stride ld_dst) = src [rows, cols]^T (row stride ld_src), for
// rows [r0, r1): W^T for the forward, dW from dW^T for the backward. 8 x 8 float blocks
// transpose in registers (AVX: unpack, shuffle, permute), the rest one element at a time.
template <typename T>
void transpose_rows(const T* src, int64_t ld_src, int64_t cols, T* dst, int64_t ld_dst, int64_t r0, int64_t r1) {
  int64_t i = r0;
#if SK_ISA_VECTOR_BYTES >= 32
  if constexpr (std::is_same_v<T, float>) {
    for (; i + 8 <= r1; i += 8) {
      int64_t j = 0;
      for (; j + 8 <= cols; j += 8) {
        __m256 r[8], t[8], u[8];
        for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(src + (i + k) * ld_src + j);
        for (int k = 0; k < 8; k += 2) {
          t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
          t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
        }
        for (int k = 0; k < 8; k += 4) {
          u[k] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(1, 0, 1, 0));
          u[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(3, 2, 3, 2));
          u[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(1, 0, 1, 0));
          u[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(3, 2, 3, 2));
        }
        for (int k = 0; k < 4; ++k) {
          _mm256_storeu_ps(dst + (j + k) * ld_dst + i, _mm256_permute2f128_ps(u[k], u[k + 4], 0x20));
          _mm256_storeu_ps(dst + (j + k + 4) * ld_dst + i, _mm256_permute2f128_ps(u[k], u[k + 4], 0x31));
        }
      }
      for (; j < cols; ++j)
        for (int64_t k = i; k < i + 8; ++k) dst[j * ld_dst + k] = src[k * ld_src + j];
    }
  }
#endif
  for (; i < r1; ++i)
    for (int64_t j = 0; j < cols; ++j) dst[j * ld_dst + i] = src[i * ld_src + j];
}

}  // namespace spike
}  // namespace SK_ISA_NAMESPACE
}  // namespace cpu_isa
}  // namespace spikekern
