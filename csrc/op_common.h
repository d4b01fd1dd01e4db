// Argument checks, output allocation and environment settings shared by the CPU and CUDA
// bindings of the ops.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <c10/util/Exception.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <tuple>

#include "spikekern/neuron_args.h"

namespace spikekern {

using at::Tensor;

// A size in MB from the environment variable `name`, in bytes; `unset` when it is unset or
// empty. Anything but a whole number >= 0 is an error naming the variable and what 0 means.
inline int64_t env_megabytes(const char* name, int64_t unset, const char* zero_means) {
  const char* mb = std::getenv(name);
  if (mb == nullptr || *mb == '\0') return unset;
  char* end = nullptr;
  const long long v = std::strtoll(mb, &end, 10);
  TORCH_CHECK(end != mb && *end == '\0' && v >= 0, "spikekern: ", name, "=", mb,
              " is not a size in MB (a whole number >= 0; 0 ", zero_means, ")");
  return int64_t(v) << 20;
}

inline at::ScalarType acc_dtype(const Tensor& t) {
  return t.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

inline Tensor empty_acc(at::IntArrayRef sizes, const Tensor& like) {
  return at::empty(sizes, like.options().dtype(acc_dtype(like)));
}

inline void check_seq(const Tensor& x, const char* what, c10::DeviceType device) {
  TORCH_CHECK(x.dim() >= 1 && x.size(0) > 0, "spikekern: ", what,
              " must have shape [T, *] with T >= 1, got ", x.sizes());
  TORCH_CHECK(at::isFloatingType(x.scalar_type()), "spikekern: ", what,
              " must be a floating tensor, got ", x.scalar_type());
  TORCH_CHECK(x.device().type() == device, "spikekern: ", what, " must be a ", device,
              " tensor here, got ", x.device());
}

// The backward's saved potential h must match the spike gradient and have the acc dtype.
inline void check_backward(const Tensor& grad_s, const Tensor& h, c10::DeviceType device,
                           const char* op) {
  check_seq(h, "h", device);
  TORCH_CHECK(grad_s.sizes() == h.sizes(), "spikekern: ", op, ": grad_spikes and h shapes differ");
  TORCH_CHECK(h.scalar_type() == acc_dtype(grad_s), "spikekern: ", op, ": h has dtype ",
              h.scalar_type(), ", expected ", acc_dtype(grad_s));
  TORCH_CHECK(grad_s.device() == h.device(), "spikekern: ", op, ": tensors on different devices");
}

// Optional gradient of the potential sequence: absent, or an empty placeholder for an
// output that was never produced, means zero.
inline std::optional<Tensor> present(const std::optional<Tensor>& t, const Tensor& like) {
  if (!t.has_value() || !t->defined() || t->numel() == 0) return std::nullopt;
  TORCH_CHECK(t->sizes() == like.sizes() && t->scalar_type() == like.scalar_type(),
              "spikekern: grad_v must match grad_spikes in shape and dtype");
  return t->contiguous();
}

// [T, N] view sizes of a sequence.
inline std::pair<int64_t, int64_t> seq_sizes(const Tensor& x) {
  const int64_t T = x.size(0);
  return {T, T ? x.numel() / T : 0};
}

// Uninitialised contiguous outputs: torch's allocator by default; the CPU binding passes
// its output pool (cpu/output_pool.h).
inline Tensor plain_empty(at::IntArrayRef sizes, const at::TensorOptions& options) {
  return at::empty(sizes, options);
}
using EmptyFn = Tensor (*)(at::IntArrayRef, const at::TensorOptions&);

// (spikes, h or [0], v or [0]) for a forward of the contiguous input x.
inline std::tuple<Tensor, Tensor, Tensor> forward_outputs(const Tensor& x, bool save_h,
                                                          bool return_v,
                                                          EmptyFn empty = plain_empty) {
  return {empty(x.sizes(), x.options()),
          empty(save_h ? x.sizes() : at::IntArrayRef{0}, x.options().dtype(acc_dtype(x))),
          empty(return_v ? x.sizes() : at::IntArrayRef{0}, x.options())};
}

// ------------------------------------------- a neuron op's call of the kernels (NeuronArgs)
// Both devices' bindings fill a NeuronArgs (spikekern/neuron_args.h) with these, so what an
// op hands its kernels is written once; each binding adds its neuron's coefficients.

// The kernels' code for t's dtype.
inline DType dtype_code(const Tensor& t) {
  switch (t.scalar_type()) {
    case at::kFloat: return DType::kFloat;
    case at::kDouble: return DType::kDouble;
    case at::kHalf: return DType::kHalf;
    case at::kBFloat16: return DType::kBFloat16;
    default: TORCH_CHECK(false, "spikekern: unsupported dtype ", t.scalar_type());
  }
}

inline int check_surrogate(int64_t surrogate) {
  TORCH_CHECK(surrogate >= 0 && surrogate <= kPass, "spikekern: unknown surrogate code ", surrogate);
  return static_cast<int>(surrogate);
}

// The firing parameters every neuron op carries.
inline void set_fire(NeuronArgs& a, double v_th, double v_reset, bool soft, bool detach, int64_t surrogate,
                     double alpha) {
  a.v_th = v_th, a.v_reset = v_reset, a.soft = soft, a.detach = detach;
  a.surrogate = check_surrogate(surrogate), a.alpha = alpha;
}

// A call of the shared time loops: the neuron type (neuron_math.h, neuron_id), the dtype and
// [T, N] sizes of `io` (x in a forward; grad_spikes in a backward, whose sizes check_backward
// has matched with h's) and the firing parameters.
inline void set_call(NeuronArgs& a, int neuron, const Tensor& io, double v_th, double v_reset, bool soft,
                     bool detach, int64_t surrogate, double alpha) {
  a.neuron = neuron, a.dtype = dtype_code(io);
  std::tie(a.T, a.N) = seq_sizes(io);
  set_fire(a, v_th, v_reset, soft, detach, surrogate, alpha);
}

// A forward's input and outputs, as forward_outputs made them (h and v [0] where not asked
// for; with N = 0 there is nothing to write either way).
inline void set_forward_io(NeuronArgs& a, const Tensor& x, const Tensor& s, const Tensor& h, const Tensor& v) {
  a.save_h = h.numel() != 0, a.save_v = v.numel() != 0;
  a.x = x.data_ptr(), a.s = s.data_ptr();
  a.h = a.save_h ? h.data_ptr() : nullptr, a.v = a.save_v ? v.data_ptr() : nullptr;
}

// A backward's inputs (gv absent: zero) and its input gradient. The caller holds gv
// (`const auto gv = present(...)`): present() may make a contiguous copy, and a temporary's
// memory would be freed before the kernels read it, so passing one does not compile.
inline void set_backward_io(NeuronArgs& a, const Tensor& gs, const std::optional<Tensor>& gv, const Tensor& h,
                            const Tensor& gx) {
  a.gs = gs.data_ptr(), a.gv = gv ? gv->data_ptr() : nullptr, a.h_saved = h.data_ptr(), a.gx = gx.data_ptr();
}
void set_backward_io(NeuronArgs&, const Tensor&, std::optional<Tensor>&&, const Tensor&, const Tensor&) = delete;
inline void set_backward_io(NeuronArgs& a, const Tensor& gs, std::nullopt_t, const Tensor& h, const Tensor& gx) {
  const std::optional<Tensor> none;
  set_backward_io(a, gs, none, h, gx);
}

// LIF's optional initial potential: N values, as a contiguous acc-type tensor (undefined if absent).
inline Tensor lif_v_init(const std::optional<Tensor>& v_init, const Tensor& x, int64_t N) {
  if (!v_init.has_value() || !v_init->defined()) return Tensor();
  TORCH_CHECK(v_init->numel() == N, "spikekern: v_init must have ", N, " elements (x.shape[1:]), got ",
              v_init->sizes());
  return v_init->to(acc_dtype(x)).contiguous();
}

// PLIF's q (its learned 1/tau): one value on x's device, as a contiguous acc-type tensor.
inline Tensor plif_q(const Tensor& q, const Tensor& x) {
  TORCH_CHECK(q.numel() == 1, "spikekern: PLIF's q must hold one value, got shape ", q.sizes());
  TORCH_CHECK(q.device() == x.device(), "spikekern: PLIF's q is on ", q.device(), " but x is on ", x.device());
  return q.to(acc_dtype(x)).reshape({}).contiguous();
}


// CLIF's backward reads the forward's m beside h, the same shape and dtype.
inline void check_clif_backward(const Tensor& grad_s, const Tensor& h, const Tensor& m, c10::DeviceType device) {
  check_backward(grad_s, h, device, "clif_backward");
  TORCH_CHECK(m.sizes() == h.sizes() && m.scalar_type() == h.scalar_type() && m.device() == h.device(),
              "spikekern: clif_backward: m must match h in shape, dtype and device");
}

struct IlcDims {
  int64_t T, M, A, P;
};

inline IlcDims ilc_dims(const Tensor& x, const Tensor& weight) {
  TORCH_CHECK(x.dim() >= 2 && x.size(0) > 0, "spikekern: ILC input must be [T, *, A*P], got ",
              x.sizes());
  TORCH_CHECK(weight.dim() == 3 && weight.size(1) == weight.size(2),
              "spikekern: ILC weight must be [A, P, P], got ", weight.sizes());
  const int64_t A = weight.size(0), P = weight.size(1);
  TORCH_CHECK(x.size(-1) == A * P, "spikekern: ILC input's last dimension must be A*P = ", A * P,
              ", got ", x.size(-1));
  TORCH_CHECK(weight.device() == x.device(), "spikekern: ILC weight is on ", weight.device(),
              " but x is on ", x.device());
  const int64_t T = x.size(0);
  return {T, x.numel() / (T * A * P), A, P};
}

}  // namespace spikekern
