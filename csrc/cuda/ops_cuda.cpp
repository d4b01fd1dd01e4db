// CUDA implementations of the spikekern ops: the torch glue around kernels_cuda.h (checks,
// outputs, the current stream, error checking). Built only where torch has CUDA; the
// kernels themselves are compiled (and so checked) by CMake everywhere nvcc exists.
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../op_common.h"
#include "../spike_linear_dense.h"
#include "kernels_cuda.h"
#include "../spikekern/neuron_math.h"

namespace spikekern {
namespace {

constexpr auto kCUDA = c10::DeviceType::CUDA;

cuda::Fire fire(double v_th, double v_reset, bool soft, bool detach, int64_t surrogate, double alpha) {
  return {v_th, v_reset, alpha, check_surrogate(surrogate), soft, detach};
}

void* ptr_or_null(const Tensor& t) { return t.numel() ? t.data_ptr() : nullptr; }
cudaStream_t stream() { return c10::cuda::getCurrentCUDAStream(); }

std::tuple<Tensor, Tensor, Tensor> lif_forward_cuda(
    const Tensor& x_in, const std::optional<Tensor>& v_init_in, double a, double b, double c,
    double v_th, double v_reset, bool soft, bool detach, int64_t surrogate, double alpha,
    bool save_h, bool return_v) {
  check_seq(x_in, "x", kCUDA);
  const c10::cuda::CUDAGuard guard(x_in.device());
  const Tensor x = x_in.contiguous();
  NeuronArgs args;
  set_call(args, neuron_id<LifNeuron>, x, v_th, v_reset, soft, detach, surrogate, alpha);
  const Tensor v_init = lif_v_init(v_init_in, x, args.N);
  Tensor s, h, v;
  std::tie(s, h, v) = forward_outputs(x, save_h, return_v);
  args.k0 = a, args.k1 = b, args.k2 = c;
  set_forward_io(args, x, s, h, v);
  args.v_init = v_init.defined() ? v_init.data_ptr() : nullptr;
  C10_CUDA_CHECK(cuda::neuron_forward(args, stream()));
  return {s, h, v};
}

std::tuple<Tensor, Tensor> lif_backward_cuda(
    const Tensor& grad_s_in, const std::optional<Tensor>& grad_v_in, const Tensor& h_in, double a,
    double b, double v_th, double v_reset, bool soft, bool detach, int64_t surrogate, double alpha,
    bool need_grad_v_init) {
  check_backward(grad_s_in, h_in, kCUDA, "lif_backward");
  const c10::cuda::CUDAGuard guard(h_in.device());
  const Tensor gs = grad_s_in.contiguous(), h = h_in.contiguous();
  const auto gv = present(grad_v_in, gs);  // held: its data outlives the call
  NeuronArgs args;
  set_call(args, neuron_id<LifNeuron>, gs, v_th, v_reset, soft, detach, surrogate, alpha);
  Tensor gx = at::empty_like(gs);
  Tensor gvi = need_grad_v_init ? empty_acc(h.sizes().slice(1), gs) : empty_acc({0}, gs);
  args.k0 = a, args.k1 = b;
  set_backward_io(args, gs, gv, h, gx);
  args.gv_init = ptr_or_null(gvi);
  C10_CUDA_CHECK(cuda::neuron_backward(args, stream()));
  return {gx, gvi};
}

std::tuple<Tensor, Tensor, Tensor> cuba_lif_forward_cuda(
    const Tensor& x_in, double c_decay, double v_decay, double v_th, double v_reset, bool soft,
    bool detach, int64_t surrogate, double alpha, bool save_h, bool return_v) {
  check_seq(x_in, "x", kCUDA);
  const c10::cuda::CUDAGuard guard(x_in.device());
  const Tensor x = x_in.contiguous();
  NeuronArgs args;
  set_call(args, neuron_id<CubaNeuron>, x, v_th, v_reset, soft, detach, surrogate, alpha);
  Tensor s, h, v;
  std::tie(s, h, v) = forward_outputs(x, save_h, return_v);
  args.k0 = c_decay, args.k1 = v_decay;
  set_forward_io(args, x, s, h, v);
  C10_CUDA_CHECK(cuda::neuron_forward(args, stream()));
  return {s, h, v};
}

Tensor cuba_lif_backward_cuda(const Tensor& grad_s_in, const std::optional<Tensor>& grad_v_in,
                          const Tensor& h_in, double c_decay, double v_decay, double v_th,
                          double v_reset, bool soft, bool detach, int64_t surrogate, double alpha) {
  check_backward(grad_s_in, h_in, kCUDA, "cuba_lif_backward");
  const c10::cuda::CUDAGuard guard(h_in.device());
  const Tensor gs = grad_s_in.contiguous(), h = h_in.contiguous();
  const auto gv = present(grad_v_in, gs);  // held: its data outlives the call
  NeuronArgs args;
  set_call(args, neuron_id<CubaNeuron>, gs, v_th, v_reset, soft, detach, surrogate, alpha);
  Tensor gx = at::empty_like(gs);
  args.k0 = c_decay, args.k1 = v_decay;
  set_backward_io(args, gs, gv, h, gx);
  C10_CUDA_CHECK(cuda::neuron_backward(args, stream()));
  return gx;
}

std::tuple<Tensor, Tensor, Tensor> plif_forward_cuda(const Tensor& x_in, const Tensor& q_in, double v_th,
                                                     double v_reset, bool soft, bool decay_input, bool detach,
                                                     int64_t surrogate, double alpha, bool save_h, bool return_v) {
  check_seq(x_in, "x", kCUDA);
  const c10::cuda::CUDAGuard guard(x_in.device());
  const Tensor x = x_in.contiguous();
  const Tensor q = plif_q(q_in, x);
  NeuronArgs args;
  set_call(args, plif_id(decay_input), x, v_th, v_reset, soft, detach, surrogate, alpha);
  Tensor s, h, v;
  std::tie(s, h, v) = forward_outputs(x, save_h, return_v);
  args.q = q.data_ptr();
  set_forward_io(args, x, s, h, v);
  C10_CUDA_CHECK(cuda::neuron_forward(args, stream()));
  return {s, h, v};
}

std::tuple<Tensor, Tensor> plif_backward_cuda(const Tensor& grad_s_in, const std::optional<Tensor>& grad_v_in,
                                              const Tensor& h_in, const Tensor& q_in,
                                              double v_th, double v_reset, bool soft, bool decay_input,
                                              bool detach, int64_t surrogate, double alpha) {
  check_backward(grad_s_in, h_in, kCUDA, "plif_backward");
  const c10::cuda::CUDAGuard guard(h_in.device());
  const Tensor gs = grad_s_in.contiguous(), h = h_in.contiguous();
  const Tensor q = plif_q(q_in, gs);
  const auto gv = present(grad_v_in, gs);  // held: its data outlives the call
  NeuronArgs args;
  set_call(args, plif_id(decay_input), gs, v_th, v_reset, soft, detach, surrogate, alpha);
  Tensor gx = at::empty_like(gs);
  Tensor parts = at::empty({cuda::neuron_param_blocks(args.N)}, gs.options().dtype(at::kDouble));
  Tensor gq = empty_acc({}, gs);
  args.q = q.data_ptr();
  set_backward_io(args, gs, gv, h, gx);
  args.param_parts = parts.data_ptr(), args.param_grad = gq.data_ptr();
  C10_CUDA_CHECK(cuda::neuron_backward(args, stream()));
  return {gx, gq};
}

// CLIF resets itself: soft, nothing detached.
std::tuple<Tensor, Tensor, Tensor> clif_forward_cuda(const Tensor& x_in, double tau, double v_th, int64_t surrogate,
                                                     double alpha, bool save_h) {
  check_seq(x_in, "x", kCUDA);
  const c10::cuda::CUDAGuard guard(x_in.device());
  const Tensor x = x_in.contiguous();
  NeuronArgs args;
  set_call(args, neuron_id<ClifNeuron>, x, v_th, 0.0, true, false, surrogate, alpha);
  Tensor s, h, unused;
  std::tie(s, h, unused) = forward_outputs(x, save_h, false);
  const Tensor m = empty_acc(save_h ? x.sizes() : at::IntArrayRef{0}, x);
  args.k0 = tau;
  set_forward_io(args, x, s, h, unused);
  args.m = ptr_or_null(m);
  C10_CUDA_CHECK(cuda::neuron_forward(args, stream()));
  return {s, h, m};
}

Tensor clif_backward_cuda(const Tensor& grad_s_in, const Tensor& h_in, const Tensor& m_in, double tau, double v_th,
                          int64_t surrogate, double alpha) {
  check_clif_backward(grad_s_in, h_in, m_in, kCUDA);
  const c10::cuda::CUDAGuard guard(h_in.device());
  const Tensor gs = grad_s_in.contiguous(), h = h_in.contiguous(), m = m_in.contiguous();
  NeuronArgs args;
  set_call(args, neuron_id<ClifNeuron>, gs, v_th, 0.0, true, false, surrogate, alpha);
  Tensor gx = at::empty_like(gs);
  args.k0 = tau;
  set_backward_io(args, gs, std::nullopt, h, gx);
  args.m_saved = m.data_ptr();
  C10_CUDA_CHECK(cuda::neuron_backward(args, stream()));
  return gx;
}

std::tuple<Tensor, Tensor> ilc_cuba_lif_forward_cuda(const Tensor& x_in, const Tensor& weight,
                                            const Tensor& bias, double c_decay, double v_decay,
                                            double v_th, double v_reset, bool soft, bool detach,
                                            int64_t surrogate, double alpha, bool save_h) {
  check_seq(x_in, "x", kCUDA);
  const IlcDims d = ilc_dims(x_in, weight);
  TORCH_CHECK(d.P <= cuda::kIlcMaxPop, "spikekern: the CUDA ILC kernel supports P <= ", cuda::kIlcMaxPop);
  TORCH_CHECK(bias.sizes() == at::IntArrayRef({d.A, d.P}), "spikekern: ILC bias must be [A, P]");
  const c10::cuda::CUDAGuard guard(x_in.device());
  const Tensor x = x_in.contiguous();
  const Tensor W = weight.to(acc_dtype(x)).contiguous(), B = bias.to(acc_dtype(x)).contiguous();
  Tensor s = at::empty_like(x);
  Tensor h = save_h ? empty_acc(x.sizes(), x) : empty_acc({0}, x);
  C10_CUDA_CHECK(cuda::ilc_cuba_lif_forward(dtype_code(x), x.data_ptr(), W.data_ptr(), B.data_ptr(), c_decay,
                                   v_decay, fire(v_th, v_reset, soft, detach, surrogate, alpha), d.T,
                                   d.M, d.A, d.P, s.data_ptr(), ptr_or_null(h), stream()));
  return {s, h};
}

std::tuple<Tensor, Tensor, Tensor> ilc_cuba_lif_backward_cuda(const Tensor& grad_s_in, const Tensor& h_in,
                                                     const Tensor& weight, double c_decay,
                                                     double v_decay, double v_th, double v_reset,
                                                     bool soft, bool detach, int64_t surrogate,
                                                     double alpha) {
  check_backward(grad_s_in, h_in, kCUDA, "ilc_cuba_lif_backward");
  const IlcDims d = ilc_dims(h_in, weight);
  const c10::cuda::CUDAGuard guard(h_in.device());
  const Tensor gs = grad_s_in.contiguous(), h = h_in.contiguous();
  const Tensor W = weight.to(h.scalar_type()).contiguous();
  const int64_t tiles = cuda::ilc_tiles(d.M, d.P);
  Tensor gx = at::empty_like(gs);
  Tensor gW_part = at::empty({tiles, d.A, d.P, d.P}, h.options());
  Tensor gb_part = at::empty({tiles, d.A, d.P}, h.options());
  Tensor gW = at::empty({d.A, d.P, d.P}, h.options()), gb = at::empty({d.A, d.P}, h.options());
  C10_CUDA_CHECK(cuda::ilc_cuba_lif_backward(dtype_code(gs), gs.data_ptr(), h.data_ptr(), W.data_ptr(), c_decay,
                                    v_decay, fire(v_th, v_reset, soft, detach, surrogate, alpha), d.T,
                                    d.M, d.A, d.P, gx.data_ptr(), gW_part.data_ptr(), gb_part.data_ptr(),
                                    gW.data_ptr(), gb.data_ptr(), stream()));
  return {gx, gW.to(weight.scalar_type()), gb.to(weight.scalar_type())};
}

// spike_linear on the GPU: the dense product (tensor cores beat skipping zeros at the RL
// networks' sizes), with the spikes saved as bits as on the CPU (spike_linear_dense.h).
std::tuple<Tensor, Tensor, Tensor> spike_linear_forward_cuda(const Tensor& s, const Tensor& weight,
                                                             const std::optional<Tensor>& bias, bool check) {
  dense_spikes::check_shapes(s, weight);
  const c10::cuda::CUDAGuard guard(s.device());
  return dense_spikes::forward(s, weight, bias, check);
}

std::tuple<Tensor, Tensor, Tensor> spike_linear_backward_cuda(const Tensor& grad_out, const Tensor& bits,
                                                              const Tensor& spikes, const Tensor& weight,
                                                              bool need_input, bool need_weight, bool need_bias) {
  const c10::cuda::CUDAGuard guard(grad_out.device());
  return dense_spikes::backward(grad_out, bits, weight, need_input, need_weight, need_bias);
}

}  // namespace

TORCH_LIBRARY_IMPL(spikekern, CUDA, m) {
  m.impl("spike_linear_forward", &spike_linear_forward_cuda);
  m.impl("spike_linear_backward", &spike_linear_backward_cuda);
  m.impl("lif_forward", &lif_forward_cuda);
  m.impl("lif_backward", &lif_backward_cuda);
  m.impl("cuba_lif_forward", &cuba_lif_forward_cuda);
  m.impl("cuba_lif_backward", &cuba_lif_backward_cuda);
  m.impl("ilc_cuba_lif_forward", &ilc_cuba_lif_forward_cuda);
  m.impl("ilc_cuba_lif_backward", &ilc_cuba_lif_backward_cuda);
  m.impl("plif_forward", &plif_forward_cuda);
  m.impl("plif_backward", &plif_backward_cuda);
  m.impl("clif_forward", &clif_forward_cuda);
  m.impl("clif_backward", &clif_backward_cuda);
}

}  // namespace spikekern
