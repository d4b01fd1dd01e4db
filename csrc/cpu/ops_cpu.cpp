// CPU implementations of the spikekern ops: argument checks, dtype dispatch, and the
// parallel walk over neurons (at::parallel_for, so torch.set_num_threads governs it).
// The kernels themselves are in kernels_cpu.h.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <torch/library.h>

#include "../op_common.h"

#include "../spikekern/dispatch.h"
#include "kernels_cpu.h"

namespace spikekern {
namespace {

// Neurons per parallel task: large enough that the scheduling cost is negligible.
constexpr int64_t kGrain = 8192;
constexpr auto kCPU = c10::DeviceType::CPU;

template <typename acc_t>
FireParams<acc_t> fire_params(double v_th, double v_reset, double alpha) {
  return {static_cast<acc_t>(v_th), static_cast<acc_t>(v_reset), static_cast<acc_t>(alpha)};
}

// -------------------------------------------------------------------------------- LIF
std::tuple<Tensor, Tensor, Tensor> lif_forward_cpu(
    const Tensor& x_in, const std::optional<Tensor>& v_init_in, double a, double b, double c,
    double v_th, double v_reset, bool soft, bool detach, int64_t surrogate, double alpha,
    bool save_h, bool return_v) {
  (void)detach, (void)surrogate;
  check_seq(x_in, "x", kCPU);
  const Tensor x = x_in.contiguous();
  int64_t T, N;
  std::tie(T, N) = seq_sizes(x);
  Tensor v_init;
  if (v_init_in.has_value() && v_init_in->defined()) {
    TORCH_CHECK(v_init_in->numel() == N, "spikekern: v_init must have ", N,
                " elements (x.shape[1:]), got ", v_init_in->sizes());
    v_init = v_init_in->to(acc_dtype(x)).contiguous();
  }
  Tensor s, h, v;
  std::tie(s, h, v) = forward_outputs(x, save_h, return_v);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "lif_forward", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const cpu::LifCoeffs<acc_t> k{acc_t(a), acc_t(b), acc_t(c)};
    const auto p = fire_params<acc_t>(v_th, v_reset, alpha);
    const acc_t v0 = soft ? acc_t(0) : acc_t(v_reset);
    const acc_t* vi = v_init.defined() ? v_init.data_ptr<acc_t>() : nullptr;
    const scalar_t* xp = x.data_ptr<scalar_t>();
    scalar_t* sp = s.data_ptr<scalar_t>();
    acc_t* hp = save_h ? h.data_ptr<acc_t>() : nullptr;
    scalar_t* vp = return_v ? v.data_ptr<scalar_t>() : nullptr;
    with_bool(soft, [&](auto SOFT) {
      with_bool(save_h, [&](auto SAVE_H) {
        with_bool(return_v, [&](auto SAVE_V) {
          at::parallel_for(0, N, kGrain, [&](int64_t begin, int64_t end) {
            cpu::lif_forward<scalar_t, acc_t, SOFT.value, SAVE_H.value, SAVE_V.value>(
                k, p, xp, vi, v0, T, N, begin, end, sp, hp, vp);
          });
        });
      });
    });
  });
  return {s, h, v};
}

std::tuple<Tensor, Tensor> lif_backward_cpu(
    const Tensor& grad_s_in, const std::optional<Tensor>& grad_v_in, const Tensor& h_in,
    double a, double b, double v_th, double v_reset, bool soft, bool detach, int64_t surrogate,
    double alpha, bool need_grad_v_init) {
  check_backward(grad_s_in, h_in, kCPU, "lif_backward");
  const Tensor gs = grad_s_in.contiguous();
  const Tensor h = h_in.contiguous();
  const auto gv = present(grad_v_in, gs);
  int64_t T, N;
  std::tie(T, N) = seq_sizes(h);
  Tensor gx = at::empty_like(gs);
  Tensor gvi = need_grad_v_init ? empty_acc(h.sizes().slice(1), gs) : empty_acc({0}, gs);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, gs.scalar_type(), "lif_backward", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const cpu::LifCoeffs<acc_t> k{acc_t(a), acc_t(b), acc_t(0)};
    const auto p = fire_params<acc_t>(v_th, v_reset, alpha);
    const scalar_t* gsp = gs.data_ptr<scalar_t>();
    const scalar_t* gvp = gv ? gv->data_ptr<scalar_t>() : nullptr;
    const acc_t* hp = h.data_ptr<acc_t>();
    scalar_t* gxp = gx.data_ptr<scalar_t>();
    acc_t* gvip = need_grad_v_init ? gvi.data_ptr<acc_t>() : nullptr;
    with_surrogate(surrogate, [&](auto KIND) {
      with_bool(soft, [&](auto SOFT) {
        with_bool(detach, [&](auto DETACH) {
          with_bool(gv.has_value(), [&](auto HAS_GV) {
            at::parallel_for(0, N, kGrain, [&](int64_t begin, int64_t end) {
              cpu::lif_backward<scalar_t, acc_t, KIND.value, SOFT.value, DETACH.value,
                                HAS_GV.value>(k, p, gsp, gvp, hp, T, N, begin, end, gxp, gvip);
            });
          });
        });
      });
    });
  });
  return {gx, gvi};
}

// --------------------------------------------------------------------------- CUBA-LIF
std::tuple<Tensor, Tensor, Tensor> cuba_forward_cpu(
    const Tensor& x_in, double c_decay, double v_decay, double v_th, double v_reset, bool soft,
    bool detach, int64_t surrogate, double alpha, bool save_h, bool return_v) {
  (void)detach, (void)surrogate;
  check_seq(x_in, "x", kCPU);
  const Tensor x = x_in.contiguous();
  int64_t T, N;
  std::tie(T, N) = seq_sizes(x);
  Tensor s, h, v;
  std::tie(s, h, v) = forward_outputs(x, save_h, return_v);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "cuba_forward", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const cpu::CubaCoeffs<acc_t> k{acc_t(c_decay), acc_t(v_decay),
                                   soft ? acc_t(0) : acc_t(v_reset)};
    const auto p = fire_params<acc_t>(v_th, v_reset, alpha);
    const scalar_t* xp = x.data_ptr<scalar_t>();
    scalar_t* sp = s.data_ptr<scalar_t>();
    acc_t* hp = save_h ? h.data_ptr<acc_t>() : nullptr;
    scalar_t* vp = return_v ? v.data_ptr<scalar_t>() : nullptr;
    with_bool(soft, [&](auto SOFT) {
      with_bool(save_h, [&](auto SAVE_H) {
        with_bool(return_v, [&](auto SAVE_V) {
          at::parallel_for(0, N, kGrain, [&](int64_t begin, int64_t end) {
            cpu::cuba_forward<scalar_t, acc_t, SOFT.value, SAVE_H.value, SAVE_V.value>(
                k, p, xp, T, N, begin, end, sp, hp, vp);
          });
        });
      });
    });
  });
  return {s, h, v};
}

Tensor cuba_backward_cpu(const Tensor& grad_s_in, const std::optional<Tensor>& grad_v_in,
                         const Tensor& h_in, double c_decay, double v_decay, double v_th,
                         double v_reset, bool soft, bool detach, int64_t surrogate,
                         double alpha) {
  check_backward(grad_s_in, h_in, kCPU, "cuba_lif_backward");
  const Tensor gs = grad_s_in.contiguous();
  const Tensor h = h_in.contiguous();
  const auto gv = present(grad_v_in, gs);
  int64_t T, N;
  std::tie(T, N) = seq_sizes(h);
  Tensor gx = at::empty_like(gs);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, gs.scalar_type(), "cuba_backward", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const cpu::CubaCoeffs<acc_t> k{acc_t(c_decay), acc_t(v_decay), acc_t(0)};
    const auto p = fire_params<acc_t>(v_th, v_reset, alpha);
    const scalar_t* gsp = gs.data_ptr<scalar_t>();
    const scalar_t* gvp = gv ? gv->data_ptr<scalar_t>() : nullptr;
    const acc_t* hp = h.data_ptr<acc_t>();
    scalar_t* gxp = gx.data_ptr<scalar_t>();
    with_surrogate(surrogate, [&](auto KIND) {
      with_bool(soft, [&](auto SOFT) {
        with_bool(detach, [&](auto DETACH) {
          with_bool(gv.has_value(), [&](auto HAS_GV) {
            at::parallel_for(0, N, kGrain, [&](int64_t begin, int64_t end) {
              cpu::cuba_backward<scalar_t, acc_t, KIND.value, SOFT.value, DETACH.value,
                                 HAS_GV.value>(k, p, gsp, gvp, hp, T, N, begin, end, gxp);
            });
          });
        });
      });
    });
  });
  return gx;
}

// ----------------------------------------------------------------------- ILC-CUBA-LIF
cpu::IlcShape ilc_shape(const Tensor& x, const Tensor& weight) {
  const IlcDims d = ilc_dims(x, weight);
  return {d.T, d.M, d.A, d.P};
}

std::tuple<Tensor, Tensor> ilc_forward_cpu(const Tensor& x_in, const Tensor& weight,
                                           const Tensor& bias, double c_decay, double v_decay,
                                           double v_th, double v_reset, bool soft, bool detach,
                                           int64_t surrogate, double alpha, bool save_h) {
  (void)detach, (void)surrogate;
  check_seq(x_in, "x", kCPU);
  const cpu::IlcShape sh = ilc_shape(x_in, weight);
  TORCH_CHECK(bias.sizes() == at::IntArrayRef({sh.A, sh.P}), "spikekern: ILC bias must be [A, P]");
  const Tensor x = x_in.contiguous();
  const Tensor W = weight.to(acc_dtype(x)).contiguous();
  const Tensor B = bias.to(acc_dtype(x)).contiguous();
  Tensor s = at::empty_like(x);
  Tensor h = save_h ? empty_acc(x.sizes(), x) : empty_acc({0}, x);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "ilc_forward", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const cpu::CubaCoeffs<acc_t> k{acc_t(c_decay), acc_t(v_decay),
                                   soft ? acc_t(0) : acc_t(v_reset)};
    const auto p = fire_params<acc_t>(v_th, v_reset, alpha);
    const scalar_t* xp = x.data_ptr<scalar_t>();
    const acc_t* wp = W.data_ptr<acc_t>();
    const acc_t* bp = B.data_ptr<acc_t>();
    scalar_t* sp = s.data_ptr<scalar_t>();
    acc_t* hp = save_h ? h.data_ptr<acc_t>() : nullptr;
    with_bool(soft, [&](auto SOFT) {
      with_bool(save_h, [&](auto SAVE_H) {
        at::parallel_for(0, sh.num_blocks(), 1, [&](int64_t begin, int64_t end) {
          for (int64_t blk = begin; blk < end; ++blk)
            cpu::ilc_forward_block<scalar_t, acc_t, SOFT.value, SAVE_H.value>(k, p, sh, xp, wp, bp,
                                                                              blk, sp, hp);
        });
      });
    });
  });
  return {s, h};
}

std::tuple<Tensor, Tensor, Tensor> ilc_backward_cpu(const Tensor& grad_s_in, const Tensor& h_in,
                                                    const Tensor& weight, double c_decay,
                                                    double v_decay, double v_th, double v_reset,
                                                    bool soft, bool detach, int64_t surrogate,
                                                    double alpha) {
  check_backward(grad_s_in, h_in, kCPU, "ilc_cuba_lif_backward");
  const cpu::IlcShape sh = ilc_shape(h_in, weight);
  const Tensor gs = grad_s_in.contiguous();
  const Tensor h = h_in.contiguous();
  const Tensor W = weight.to(h.scalar_type()).contiguous();
  Tensor gx = at::empty_like(gs);
  const int64_t n_blocks = sh.num_blocks();
  Tensor gW_parts = at::empty({n_blocks, sh.A, sh.P, sh.P}, h.options());
  Tensor gb_parts = at::empty({n_blocks, sh.A, sh.P}, h.options());
  Tensor gW = at::empty({sh.A, sh.P, sh.P}, h.options());
  Tensor gb = at::empty({sh.A, sh.P}, h.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, gs.scalar_type(), "ilc_backward", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const cpu::CubaCoeffs<acc_t> k{acc_t(c_decay), acc_t(v_decay), acc_t(0)};
    const auto p = fire_params<acc_t>(v_th, v_reset, alpha);
    const scalar_t* gsp = gs.data_ptr<scalar_t>();
    const acc_t* hp = h.data_ptr<acc_t>();
    const acc_t* wp = W.data_ptr<acc_t>();
    scalar_t* gxp = gx.data_ptr<scalar_t>();
    acc_t* gWp = gW_parts.data_ptr<acc_t>();
    acc_t* gbp = gb_parts.data_ptr<acc_t>();
    const int64_t wsize = sh.A * sh.P * sh.P, bsize = sh.A * sh.P;
    with_surrogate(surrogate, [&](auto KIND) {
      with_bool(soft, [&](auto SOFT) {
        with_bool(detach, [&](auto DETACH) {
          at::parallel_for(0, n_blocks, 1, [&](int64_t begin, int64_t end) {
            for (int64_t blk = begin; blk < end; ++blk)
              cpu::ilc_backward_block<scalar_t, acc_t, KIND.value, SOFT.value, DETACH.value>(
                  k, p, sh, gsp, hp, wp, blk, gxp, gWp + blk * wsize, gbp + blk * bsize);
          });
        });
      });
    });
    cpu::ilc_reduce_partials(gWp, n_blocks, wsize, gW.data_ptr<acc_t>());
    cpu::ilc_reduce_partials(gbp, n_blocks, bsize, gb.data_ptr<acc_t>());
  });
  return {gx, gW.to(weight.scalar_type()), gb.to(weight.scalar_type())};
}

}  // namespace

TORCH_LIBRARY_IMPL(spikekern, CPU, m) {
  m.impl("lif_forward", &lif_forward_cpu);
  m.impl("lif_backward", &lif_backward_cpu);
  m.impl("cuba_lif_forward", &cuba_forward_cpu);
  m.impl("cuba_lif_backward", &cuba_backward_cpu);
  m.impl("ilc_cuba_lif_forward", &ilc_forward_cpu);
  m.impl("ilc_cuba_lif_backward", &ilc_backward_cpu);
}

}  // namespace spikekern
