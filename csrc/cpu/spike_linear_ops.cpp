// spike_linear on CPU tensors: y = s @ W^T + b for spikes s in {0, 1}.
//
// The forward packs s into bits (what the backward keeps: 1 bit per spike instead of 32),
// counts the spikes, and then runs the sparse kernels (spike_linear_cpu.h) when the density
// is below the crossover where they beat the dense product (dense_from), else the dense
// product itself (at::addmm). The backward's input gradient is always the dense product
// dy @ W (the surrogate needs it at every input); its weight gradient is sparse or dense by
// the same rule. SPIKEKERN_SPIKE_DENSE=<fraction> overrides the measured crossovers (0 =
// always dense, 1 = sparse below 100%).
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/addmm.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/zeros.h>
#include <torch/library.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "../spike_linear_dense.h"
#include "cpu_kernels.h"

namespace spikekern {
namespace {

using at::Tensor;

// The density (fraction of ones) from which the dense product runs, by the layer's width and
// the CPU: measured with benchmarks/spike_linear.py at every density on the sparse kernels
// alone (SPIKEKERN_SPIKE_DENSE=1), forward with every gradient, 1 thread (docs/benchmarks.md,
// "spike_linear"). The work per spike is a row of W^T, so wide outputs (>= 128) gain up to a
// higher density than narrow ones (the actor's 256 -> 60 output layer). The dense product it
// races is torch's, which runs the CPU's widest vectors whichever spikekern build is in use,
// so the CPU decides, not the build: on an AVX-512 CPU (both builds measured there) wide
// layers win up to about 20% and narrow ones break even near 10%; on a CPU with AVX2 at
// most (AMD EPYC) every wide layer still wins at 30% and narrow ones at 20%. A CPU without
// AVX2 was not measured and gets the AVX-512 CPU's lower (safer) crossovers.
struct Crossover {
  double wide, narrow;
};
constexpr Crossover kAvx512Cpu{0.20, 0.05}, kAvx2Cpu{0.30, 0.25};

double dense_from(int64_t out) {
  static const double forced = [] {
    const char* e = std::getenv("SPIKEKERN_SPIKE_DENSE");
    if (e == nullptr || *e == '\0') return -1.0;
    char* end = nullptr;
    const double d = std::strtod(e, &end);
    TORCH_CHECK(end != e && *end == '\0' && d >= 0.0 && d <= 1.0, "spikekern: SPIKEKERN_SPIKE_DENSE=", e,
                " is not a fraction between 0 (always dense) and 1 (sparse below 100%)");
    return d;
  }();
  if (forced >= 0.0) return forced;
  static const Crossover c =
      cpu_isa::cpu_supports("avx2") && !cpu_isa::cpu_supports("avx512") ? kAvx2Cpu : kAvx512Cpu;
  return out >= 128 ? c.wide : c.narrow;
}

bool sparse_kernels(at::ScalarType t) { return t == at::kFloat || t == at::kDouble; }

cpu_isa::DType code(at::ScalarType t) { return t == at::kDouble ? cpu_isa::DType::kDouble : cpu_isa::DType::kFloat; }

uint64_t* bit_words(const Tensor& bits) { return reinterpret_cast<uint64_t*>(bits.data_ptr<uint8_t>()); }

// `n` rounded up to whole 64-byte vectors of t's dtype: the kernels' rows are whole vectors.
int64_t padded(int64_t n, const Tensor& t) {
  const int64_t lanes = 64 / t.element_size();
  return (n + lanes - 1) / lanes * lanes;
}

// x [rows, n] as a contiguous [rows, width >= n], zeros past n.
Tensor pad_columns(const Tensor& x, int64_t width) {
  if (x.size(1) == width) return x.contiguous();
  Tensor p = at::zeros({x.size(0), width}, x.options());
  p.narrow(1, 0, x.size(1)).copy_(x);
  return p;
}

// dst [cols, rows] = src[:, :cols]^T (src: [rows, >= cols], contiguous), into dst's first
// `cols` rows of stride ld_dst; the blocked register transpose of the kernels, which is 3 to 5
// times faster than a strided copy here.
void transpose_into(const Tensor& src, int64_t cols, Tensor& dst, int64_t ld_dst) {
  cpu_isa::SpikeArgs a;
  a.dtype = code(src.scalar_type());
  a.t_src = src.data_ptr(), a.t_dst = dst.data_ptr(), a.t_cols = cols, a.t_ld_src = src.size(1),
  a.t_ld_dst = ld_dst;
  const auto& k = cpu_kernels();
  at::parallel_for(0, src.size(0), 64, [&](int64_t b, int64_t e) { k.spike_transpose(a, b, e); });
}

// Rows per parallel task of the row-wise kernels.
constexpr int64_t kRowGrain = 32;

// s [..., in] (float), weight [out, in], bias [out] or none -> (y [..., out], bits [M, padded_bytes(in)] uint8,
// spikes [] int64: how many ones s holds). check: an entry of s that is neither 0 nor 1 is an error.
std::tuple<Tensor, Tensor, Tensor> spike_linear_forward_cpu(const Tensor& s_in, const Tensor& weight_in,
                                                            const std::optional<Tensor>& bias_in, bool check) {
  dense_spikes::check_shapes(s_in, weight_in);
  const int64_t in = weight_in.size(1), out = weight_in.size(0), M = dense_spikes::rows(s_in);
  const Tensor s = s_in.reshape({M, in}).contiguous();
  const Tensor weight = weight_in.contiguous();
  const bool has_bias = bias_in.has_value() && bias_in->defined();
  std::vector<int64_t> out_shape(s_in.sizes().begin(), s_in.sizes().end());
  out_shape.back() = out;
  if (!sparse_kernels(s.scalar_type()))  // half, bfloat16: the dense op the GPU runs (spike_linear_dense.h)
    return dense_spikes::forward(s_in, weight, bias_in, check);
  Tensor bits = at::empty({M, dense_spikes::padded_bytes(in)}, s.options().dtype(at::kByte));
  Tensor count = at::empty({M}, s.options().dtype(at::kInt));
  Tensor y;
  cpu_isa::SpikeArgs a;
  a.dtype = code(s.scalar_type()), a.M = M, a.in = in, a.out = out;
  a.s = s.data_ptr(), a.bits = bit_words(bits), a.count = count.data_ptr<int32_t>();
  std::atomic<int64_t> nonbinary{0};
  const auto& k = cpu_kernels();
  at::parallel_for(0, M, kRowGrain, [&](int64_t b, int64_t e) { nonbinary += k.spike_pack(a, b, e); });
  TORCH_CHECK(!check || nonbinary.load() == 0, "spikekern: spike_linear: s holds ", nonbinary.load(),
              " entries that are neither 0 nor 1 (spikes must be exactly 0 or 1)");
  const Tensor spikes = count.sum().to(at::kLong);
  const double density = M * in > 0 ? spikes.item<int64_t>() / double(M * in) : 0.0;
  if (density >= dense_from(out)) {
    y = has_bias ? at::addmm(*bias_in, s, weight.t()) : at::mm(s, weight.t());
    return {y.view(out_shape), bits, spikes};
  }
  // W^T and the bias with their rows padded to whole 64-byte vectors (zeros past `out`).
  const int64_t out_p = padded(out, s);
  Tensor wt = out_p == out ? at::empty({in, out_p}, s.options()) : at::zeros({in, out_p}, s.options());
  transpose_into(weight, in, wt, out_p);
  const Tensor bias = has_bias ? pad_columns(bias_in->view({1, out}), out_p) : Tensor();
  y = at::empty({M, out_p}, s.options());
  a.out = out_p, a.wt = wt.data_ptr(), a.bias = has_bias ? bias.data_ptr() : nullptr, a.y = y.data_ptr();
  at::parallel_for(0, M, kRowGrain, [&](int64_t b, int64_t e) { k.spike_linear_forward(a, b, e); });
  if (out_p != out) y = y.narrow(1, 0, out).contiguous();
  return {y.view(out_shape), bits, spikes};
}

// The spikes, unpacked from bits: [M, in] of 0 and 1 (float or double).
Tensor unpack(const Tensor& bits, int64_t M, int64_t in, at::ScalarType dtype) {
  Tensor s = at::empty({M, in}, bits.options().dtype(dtype));
  cpu_isa::SpikeArgs a;
  a.dtype = code(dtype), a.M = M, a.in = in, a.bits = bit_words(bits), a.s_out = s.data_ptr();
  const auto& k = cpu_kernels();
  at::parallel_for(0, M, kRowGrain, [&](int64_t b, int64_t e) { k.spike_unpack(a, b, e); });
  return s;
}

// grad_out [..., out], bits and spikes from the forward, weight [out, in] -> (grad_s [..., in] or empty,
// grad_weight [out, in] or empty, grad_bias [out] or empty).
std::tuple<Tensor, Tensor, Tensor> spike_linear_backward_cpu(const Tensor& grad_out, const Tensor& bits,
                                                             const Tensor& spikes, const Tensor& weight_in,
                                                             bool need_input, bool need_weight, bool need_bias) {
  const int64_t in = weight_in.size(1), out = weight_in.size(0), M = bits.size(0);
  TORCH_CHECK(grad_out.size(-1) == out && grad_out.numel() == M * out && bits.size(1) == dense_spikes::padded_bytes(in),
              "spikekern: spike_linear_backward: grad_out ", grad_out.sizes(), ", bits ", bits.sizes(),
              " and weight ", weight_in.sizes(), " do not match");
  if (!sparse_kernels(grad_out.scalar_type()))
    return dense_spikes::backward(grad_out, bits, weight_in, need_input, need_weight, need_bias);
  const Tensor gy = grad_out.reshape({M, out}).contiguous();
  const Tensor weight = weight_in.contiguous();
  const Tensor none = at::empty({0}, gy.options());  // for a gradient not asked for
  Tensor gs = none, gw = none, gb = none;
  if (need_input) {
    std::vector<int64_t> shape(grad_out.sizes().begin(), grad_out.sizes().end());
    shape.back() = in;
    gs = at::mm(gy, weight).view(shape);
  }
  if (need_bias) gb = gy.sum(0);
  if (need_weight) {
    const double density = M * in > 0 ? spikes.item<int64_t>() / double(M * in) : 0.0;
    if (density >= dense_from(out)) {
      gw = at::mm(gy.t(), unpack(bits, M, in, gy.scalar_type()));
    } else {
      const int64_t nnz = spikes.item<int64_t>();
      Tensor col_ptr = at::empty({in + 1}, bits.options().dtype(at::kLong));
      Tensor rows = at::empty({std::max<int64_t>(nnz, 1)}, bits.options().dtype(at::kInt));
      const int64_t out_p = padded(out, gy);
      const Tensor gy_p = pad_columns(gy, out_p);
      Tensor gwt = at::empty({in, out_p}, gy.options());
      cpu_isa::SpikeArgs a;
      a.dtype = code(gy.scalar_type()), a.M = M, a.in = in, a.out = out_p, a.bits = bit_words(bits);
      a.col_ptr = col_ptr.data_ptr<int64_t>(), a.rows = rows.data_ptr<int32_t>(), a.gy = gy_p.data_ptr(),
      a.gwt = gwt.data_ptr();
      const auto& k = cpu_kernels();
      k.spike_columns(a, 0, 0);
      at::parallel_for(0, in, 8, [&](int64_t b, int64_t e) { k.spike_linear_grad_weight(a, b, e); });
      gw = at::empty({out, in}, gy.options());
      transpose_into(gwt, out, gw, in);
    }
  }
  return {gs, gw, gb};
}

double spike_dense_from(int64_t out) { return dense_from(out); }

}  // namespace

TORCH_LIBRARY_IMPL(spikekern, CPU, m) {
  m.impl("spike_linear_forward", &spike_linear_forward_cpu);
  m.impl("spike_linear_backward", &spike_linear_backward_cpu);
}

TORCH_LIBRARY_FRAGMENT(spikekern, m) {
  m.def("spike_linear_dense_from(int out_features) -> float", &spike_dense_from);
}

}  // namespace spikekern
