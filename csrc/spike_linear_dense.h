// spike_linear with ATen ops only: the dense product, and the spikes packed to bits and back
// in the layout of the CPU kernels (bit j of byte b of row m = s[m, 8 b + j], rows padded to
// whole 64-bit words). The CUDA op is this (ops_cuda.cpp: on a GPU the dense product with
// tensor cores beats skipping zeros at these sizes), and so is the CPU op for half and
// bfloat16, so the CPU tests run the code the GPU runs.
#pragma once

#include <ATen/ATen.h>

#include <tuple>
#include <vector>

namespace spikekern {
namespace dense_spikes {

using at::Tensor;

inline int64_t padded_bytes(int64_t in) { return 8 * ((in + 63) / 64); }

inline void check_shapes(const Tensor& s, const Tensor& weight) {
  TORCH_CHECK(s.dim() >= 1 && weight.dim() == 2 && s.size(-1) == weight.size(1),
              "spikekern: spike_linear: s must be [..., in] and weight [out, in], got ", s.sizes(), " and ",
              weight.sizes());
}

// The rows of s [..., in]: M.
inline int64_t rows(const Tensor& s) {
  int64_t M = 1;
  for (int64_t d = 0; d + 1 < s.dim(); ++d) M *= s.size(d);
  return M;
}

// s2 [M, in] -> bits [M, padded_bytes(in)] uint8.
inline Tensor pack(const Tensor& nonzero, int64_t M, int64_t in) {
  const int64_t bytes = padded_bytes(in);
  const Tensor b = at::constant_pad_nd(nonzero.to(at::kByte), {0, 8 * bytes - in}).view({M, bytes, 8});
  const Tensor place = at::tensor({1, 2, 4, 8, 16, 32, 64, 128}, b.options().dtype(at::kInt));
  return (b.to(at::kInt) * place).sum(-1).to(at::kByte);
}

// bits [M, padded_bytes(in)] -> [M, in] of 0 and 1 in `dtype`.
inline Tensor unpack(const Tensor& bits, int64_t in, at::ScalarType dtype) {
  const Tensor place = at::tensor({1, 2, 4, 8, 16, 32, 64, 128}, bits.options().dtype(at::kByte));
  const Tensor b = bits.unsqueeze(-1).bitwise_and(place).ne(0);  // [M, bytes, 8]
  return b.view({bits.size(0), -1}).narrow(1, 0, in).to(dtype);
}

inline std::tuple<Tensor, Tensor, Tensor> forward(const Tensor& s_in, const Tensor& weight,
                                                  const std::optional<Tensor>& bias, bool check) {
  const int64_t in = weight.size(1), out = weight.size(0), M = rows(s_in);
  const Tensor s = s_in.reshape({M, in});
  const Tensor nonzero = s.ne(0);
  TORCH_CHECK(!check || !(nonzero & s.ne(1)).any().item<bool>(),
              "spikekern: spike_linear: s holds entries that are neither 0 nor 1 (spikes must be exactly 0 or 1)");
  const Tensor y = (bias.has_value() && bias->defined()) ? at::addmm(*bias, s, weight.t()) : at::mm(s, weight.t());
  std::vector<int64_t> shape(s_in.sizes().begin(), s_in.sizes().end());
  shape.back() = out;
  return {y.view(shape), pack(nonzero, M, in), nonzero.sum().to(at::kLong)};
}

inline std::tuple<Tensor, Tensor, Tensor> backward(const Tensor& grad_out, const Tensor& bits, const Tensor& weight,
                                                   bool need_input, bool need_weight, bool need_bias) {
  const int64_t in = weight.size(1), out = weight.size(0), M = bits.size(0);
  const Tensor gy = grad_out.reshape({M, out});
  const Tensor none = at::empty({0}, gy.options());
  Tensor gs = none, gw = none, gb = none;
  if (need_input) {
    std::vector<int64_t> shape(grad_out.sizes().begin(), grad_out.sizes().end());
    shape.back() = in;
    gs = at::mm(gy, weight).view(shape);
  }
  if (need_weight) gw = at::mm(gy.t(), unpack(bits, in, gy.scalar_type()));
  if (need_bias) gb = gy.sum(0);
  return {gs, gw, gb};
}

}  // namespace dense_spikes
}  // namespace spikekern
