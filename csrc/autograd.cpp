// Autograd for the spikekern ops, in C++ (registered at the Autograd dispatch key).
//
// A Python `torch.library.register_autograd` wrapper costs about 150 us per forward+
// backward; at the sizes of RL networks (a few thousand neurons) that is more than the
// kernels. These Functions call the forward and backward ops through the dispatcher, so the
// same code serves the CPU and CUDA kernels, and FakeTensors under torch.compile.
//
// Forward ops return (spikes, h[, v]); h, the pre-reset potential, is all backward needs
// (s = Θ(h - v_th)) and is marked non-differentiable. Gradients of unused outputs arrive
// undefined instead of as zero-filled tensors.
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/autograd.h>
#include <torch/library.h>

namespace spikekern {
namespace {

using at::Tensor;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;
using OptTensor = std::optional<Tensor>;

template <typename Sig>
c10::TypedOperatorHandle<Sig> find_op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Sig>();
}

void check_saved(AutogradContext* ctx, const char* op) {
  TORCH_CHECK(ctx->saved_data["saved_h"].toBool(), "spikekern: backward through ", op,
              " whose forward ran without grad (it saved nothing); run the forward with grad enabled");
}

// dL/ds: an unused spike output contributes zero.
Tensor spike_grad(const Tensor& g, const Tensor& h, at::ScalarType dtype) {
  return g.defined() ? g : at::zeros(h.sizes(), h.options().dtype(dtype));
}

// The neuron parameters every op carries, stored in the context for backward.
struct FireArgs {
  double v_th, v_reset;
  bool soft, detach;
  int64_t surrogate;
  double alpha;
  void save(AutogradContext* ctx) const {
    ctx->saved_data["v_th"] = v_th;
    ctx->saved_data["v_reset"] = v_reset;
    ctx->saved_data["soft"] = soft;
    ctx->saved_data["detach"] = detach;
    ctx->saved_data["surrogate"] = surrogate;
    ctx->saved_data["alpha"] = alpha;
  }
  static FireArgs load(AutogradContext* ctx) {
    auto& d = ctx->saved_data;
    return {d["v_th"].toDouble(), d["v_reset"].toDouble(), d["soft"].toBool(),
            d["detach"].toBool(), d["surrogate"].toInt(), d["alpha"].toDouble()};
  }
};

using Tensor3 = std::tuple<Tensor, Tensor, Tensor>;
using Tensor2 = std::tuple<Tensor, Tensor>;

// ----------------------------------------------------------------------------- LIF
class LifFunction : public torch::autograd::Function<LifFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const Tensor& x, const OptTensor& v_init,
                               double a, double b, double c, double v_th, double v_reset,
                               bool soft, bool detach, int64_t surrogate, double alpha,
                               bool save_h, bool return_v) {
    at::AutoDispatchBelowADInplaceOrView guard;
    static auto op = find_op<Tensor3(const Tensor&, const OptTensor&, double, double, double, double,
                                     double, bool, bool, int64_t, double, bool, bool)>(
        "spikekern::lif_forward");
    auto [s, h, v] = op.call(x, v_init, a, b, c, v_th, v_reset, soft, detach, surrogate, alpha,
                             save_h, return_v);
    ctx->set_materialize_grads(false);
    ctx->saved_data["saved_h"] = save_h;
    ctx->mark_non_differentiable({h});
    ctx->save_for_backward({h});
    ctx->saved_data["a"] = a;
    ctx->saved_data["b"] = b;
    ctx->saved_data["spike_dtype"] = static_cast<int64_t>(x.scalar_type());
    ctx->saved_data["v_init_dtype"] =
        v_init.has_value() ? static_cast<int64_t>(v_init->scalar_type()) : int64_t(-1);
    FireArgs{v_th, v_reset, soft, detach, surrogate, alpha}.save(ctx);
    return {s, h, v};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    static auto op = find_op<Tensor2(const Tensor&, const OptTensor&, const Tensor&, double, double,
                                     double, double, bool, bool, int64_t, double, bool)>(
        "spikekern::lif_backward");
    const Tensor h = ctx->get_saved_variables()[0];
    check_saved(ctx, "spikekern.ops.lif");
    const auto f = FireArgs::load(ctx);
    const auto spike_dtype = static_cast<at::ScalarType>(ctx->saved_data["spike_dtype"].toInt());
    const int64_t v_init_dtype = ctx->saved_data["v_init_dtype"].toInt();
    const bool need_gvi = v_init_dtype >= 0 && ctx->needs_input_grad(1);
    OptTensor gv = grads[2].defined() ? OptTensor(grads[2]) : std::nullopt;
    auto [gx, gvi] = op.call(spike_grad(grads[0], h, spike_dtype), gv, h,
                             ctx->saved_data["a"].toDouble(), ctx->saved_data["b"].toDouble(),
                             f.v_th, f.v_reset, f.soft, f.detach, f.surrogate, f.alpha, need_gvi);
    variable_list out(13);
    out[0] = gx;
    if (need_gvi) out[1] = gvi.to(static_cast<at::ScalarType>(v_init_dtype));
    return out;
  }
};

Tensor3 lif_forward_autograd(const Tensor& x, const OptTensor& v_init, double a, double b,
                             double c, double v_th, double v_reset, bool soft, bool detach,
                             int64_t surrogate, double alpha, bool save_h, bool return_v) {
  auto out = LifFunction::apply(x, v_init, a, b, c, v_th, v_reset, soft, detach, surrogate, alpha,
                                save_h, return_v);
  return {out[0], out[1], out[2]};
}

// ------------------------------------------------------------------------- CUBA-LIF
class CubaFunction : public torch::autograd::Function<CubaFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const Tensor& x, double c_decay,
                               double v_decay, double v_th, double v_reset, bool soft,
                               bool detach, int64_t surrogate, double alpha, bool save_h,
                               bool return_v) {
    at::AutoDispatchBelowADInplaceOrView guard;
    static auto op = find_op<Tensor3(const Tensor&, double, double, double, double, bool, bool,
                                     int64_t, double, bool, bool)>("spikekern::cuba_lif_forward");
    auto [s, h, v] = op.call(x, c_decay, v_decay, v_th, v_reset, soft, detach, surrogate, alpha,
                             save_h, return_v);
    ctx->set_materialize_grads(false);
    ctx->saved_data["saved_h"] = save_h;
    ctx->mark_non_differentiable({h});
    ctx->save_for_backward({h});
    ctx->saved_data["c_decay"] = c_decay;
    ctx->saved_data["v_decay"] = v_decay;
    ctx->saved_data["spike_dtype"] = static_cast<int64_t>(x.scalar_type());
    FireArgs{v_th, v_reset, soft, detach, surrogate, alpha}.save(ctx);
    return {s, h, v};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    static auto op = find_op<Tensor(const Tensor&, const OptTensor&, const Tensor&, double, double,
                                    double, double, bool, bool, int64_t, double)>(
        "spikekern::cuba_lif_backward");
    const Tensor h = ctx->get_saved_variables()[0];
    check_saved(ctx, "spikekern.ops.cuba_lif");
    const auto f = FireArgs::load(ctx);
    const auto spike_dtype = static_cast<at::ScalarType>(ctx->saved_data["spike_dtype"].toInt());
    OptTensor gv = grads[2].defined() ? OptTensor(grads[2]) : std::nullopt;
    variable_list out(11);
    out[0] = op.call(spike_grad(grads[0], h, spike_dtype), gv, h,
                     ctx->saved_data["c_decay"].toDouble(), ctx->saved_data["v_decay"].toDouble(),
                     f.v_th, f.v_reset, f.soft, f.detach, f.surrogate, f.alpha);
    return out;
  }
};

Tensor3 cuba_forward_autograd(const Tensor& x, double c_decay, double v_decay, double v_th,
                              double v_reset, bool soft, bool detach, int64_t surrogate,
                              double alpha, bool save_h, bool return_v) {
  auto out = CubaFunction::apply(x, c_decay, v_decay, v_th, v_reset, soft, detach, surrogate,
                                 alpha, save_h, return_v);
  return {out[0], out[1], out[2]};
}

// --------------------------------------------------------------------- ILC-CUBA-LIF
class IlcFunction : public torch::autograd::Function<IlcFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const Tensor& x, const Tensor& weight,
                               const Tensor& bias, double c_decay, double v_decay, double v_th,
                               double v_reset, bool soft, bool detach, int64_t surrogate,
                               double alpha, bool save_h) {
    at::AutoDispatchBelowADInplaceOrView guard;
    static auto op = find_op<Tensor2(const Tensor&, const Tensor&, const Tensor&, double, double,
                                     double, double, bool, bool, int64_t, double, bool)>(
        "spikekern::ilc_cuba_lif_forward");
    auto [s, h] = op.call(x, weight, bias, c_decay, v_decay, v_th, v_reset, soft, detach,
                          surrogate, alpha, save_h);
    ctx->set_materialize_grads(false);
    ctx->saved_data["saved_h"] = save_h;
    ctx->mark_non_differentiable({h});
    ctx->save_for_backward({h, weight});
    ctx->saved_data["c_decay"] = c_decay;
    ctx->saved_data["v_decay"] = v_decay;
    ctx->saved_data["spike_dtype"] = static_cast<int64_t>(x.scalar_type());
    FireArgs{v_th, v_reset, soft, detach, surrogate, alpha}.save(ctx);
    return {s, h};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    static auto op = find_op<Tensor3(const Tensor&, const Tensor&, const Tensor&, double, double,
                                     double, double, bool, bool, int64_t, double)>(
        "spikekern::ilc_cuba_lif_backward");
    const auto saved = ctx->get_saved_variables();
    const Tensor& h = saved[0];
    check_saved(ctx, "spikekern.ops.ilc_cuba_lif");
    const auto f = FireArgs::load(ctx);
    const auto spike_dtype = static_cast<at::ScalarType>(ctx->saved_data["spike_dtype"].toInt());
    auto [gx, gw, gb] = op.call(spike_grad(grads[0], h, spike_dtype), h, saved[1],
                                ctx->saved_data["c_decay"].toDouble(),
                                ctx->saved_data["v_decay"].toDouble(), f.v_th, f.v_reset, f.soft,
                                f.detach, f.surrogate, f.alpha);
    variable_list out(12);
    out[0] = gx;
    out[1] = gw;
    out[2] = gb;
    return out;
  }
};

Tensor2 ilc_forward_autograd(const Tensor& x, const Tensor& weight, const Tensor& bias,
                             double c_decay, double v_decay, double v_th, double v_reset,
                             bool soft, bool detach, int64_t surrogate, double alpha,
                             bool save_h) {
  auto out = IlcFunction::apply(x, weight, bias, c_decay, v_decay, v_th, v_reset, soft, detach,
                                surrogate, alpha, save_h);
  return {out[0], out[1]};
}

// ----------------------------------------------------------------------------- PLIF
// Saves h and q: dL/dq needs h[t] and v[t-1] (recomputed from h[t-1]), not x.
class PlifFunction : public torch::autograd::Function<PlifFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const Tensor& x, const Tensor& q, double v_th,
                               double v_reset, bool soft, bool decay_input, bool detach, int64_t surrogate,
                               double alpha, bool save_h, bool return_v) {
    at::AutoDispatchBelowADInplaceOrView guard;
    static auto op = find_op<Tensor3(const Tensor&, const Tensor&, double, double, bool, bool, bool, int64_t,
                                     double, bool, bool)>("spikekern::plif_forward");
    auto [s, h, v] = op.call(x, q, v_th, v_reset, soft, decay_input, detach, surrogate, alpha, save_h, return_v);
    ctx->set_materialize_grads(false);
    ctx->saved_data["saved_h"] = save_h;
    ctx->mark_non_differentiable({h});
    ctx->save_for_backward({h, q});
    ctx->saved_data["decay_input"] = decay_input;
    ctx->saved_data["spike_dtype"] = static_cast<int64_t>(x.scalar_type());
    FireArgs{v_th, v_reset, soft, detach, surrogate, alpha}.save(ctx);
    return {s, h, v};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    static auto op = find_op<Tensor2(const Tensor&, const OptTensor&, const Tensor&, const Tensor&, double, double,
                                     bool, bool, bool, int64_t, double)>(
        "spikekern::plif_backward");
    const auto saved = ctx->get_saved_variables();
    const Tensor& h = saved[0];
    check_saved(ctx, "spikekern.ops.plif");
    const auto f = FireArgs::load(ctx);
    const auto spike_dtype = static_cast<at::ScalarType>(ctx->saved_data["spike_dtype"].toInt());
    OptTensor gv = grads[2].defined() ? OptTensor(grads[2]) : std::nullopt;
    auto [gx, gq] = op.call(spike_grad(grads[0], h, spike_dtype), gv, h, saved[1], f.v_th, f.v_reset,
                            f.soft, ctx->saved_data["decay_input"].toBool(), f.detach, f.surrogate, f.alpha);
    variable_list out(11);
    out[0] = gx;
    if (ctx->needs_input_grad(1)) out[1] = gq.to(saved[1].scalar_type()).reshape(saved[1].sizes());
    return out;
  }
};

Tensor3 plif_forward_autograd(const Tensor& x, const Tensor& q, double v_th, double v_reset, bool soft,
                              bool decay_input, bool detach, int64_t surrogate, double alpha, bool save_h,
                              bool return_v) {
  auto out = PlifFunction::apply(x, q, v_th, v_reset, soft, decay_input, detach, surrogate, alpha, save_h,
                                 return_v);
  return {out[0], out[1], out[2]};
}

// ----------------------------------------------------------------------------- CLIF
// Saves h and m: step t's backward needs h[t], m[t] and m[t-1].
class ClifFunction : public torch::autograd::Function<ClifFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const Tensor& x, double tau, double v_th, int64_t surrogate,
                               double alpha, bool save_h) {
    at::AutoDispatchBelowADInplaceOrView guard;
    static auto op = find_op<Tensor3(const Tensor&, double, double, int64_t, double, bool)>("spikekern::clif_forward");
    auto [s, h, m] = op.call(x, tau, v_th, surrogate, alpha, save_h);
    ctx->set_materialize_grads(false);
    ctx->saved_data["saved_h"] = save_h;
    ctx->mark_non_differentiable({h, m});
    ctx->save_for_backward({h, m});
    ctx->saved_data["tau"] = tau;
    ctx->saved_data["v_th"] = v_th;
    ctx->saved_data["surrogate"] = surrogate;
    ctx->saved_data["alpha"] = alpha;
    return {s, h, m};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    static auto op = find_op<Tensor(const Tensor&, const Tensor&, const Tensor&, double, double, int64_t, double)>(
        "spikekern::clif_backward");
    variable_list out(6);
    if (!grads[0].defined()) return out;  // h and m are not differentiable: only the spikes carry a gradient
    const auto saved = ctx->get_saved_variables();
    check_saved(ctx, "spikekern.ops.clif");
    auto& d = ctx->saved_data;
    out[0] = op.call(grads[0], saved[0], saved[1], d["tau"].toDouble(), d["v_th"].toDouble(), d["surrogate"].toInt(),
                     d["alpha"].toDouble());
    return out;
  }
};

Tensor3 clif_forward_autograd(const Tensor& x, double tau, double v_th, int64_t surrogate, double alpha, bool save_h) {
  auto out = ClifFunction::apply(x, tau, v_th, surrogate, alpha, save_h);
  return {out[0], out[1], out[2]};
}

// ----------------------------------------------------------------------- spike_linear
// Saves the spikes as bits (the forward's second output) and the weight; the input
// gradient is the dense dy @ W, the weight gradient sums dy's rows where s spiked.
class SpikeLinearFunction : public torch::autograd::Function<SpikeLinearFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const Tensor& s, const Tensor& weight, const OptTensor& bias,
                               bool check) {
    at::AutoDispatchBelowADInplaceOrView guard;
    static auto op = find_op<Tensor3(const Tensor&, const Tensor&, const OptTensor&, bool)>(
        "spikekern::spike_linear_forward");
    auto [y, bits, spikes] = op.call(s, weight, bias, check);
    ctx->set_materialize_grads(false);
    ctx->mark_non_differentiable({bits, spikes});
    ctx->save_for_backward({bits, spikes, weight});
    ctx->saved_data["has_bias"] = bias.has_value() && bias->defined();
    return {y, bits, spikes};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    static auto op = find_op<Tensor3(const Tensor&, const Tensor&, const Tensor&, const Tensor&, bool, bool, bool)>(
        "spikekern::spike_linear_backward");
    variable_list out(4);
    if (!grads[0].defined()) return out;
    const auto saved = ctx->get_saved_variables();
    const bool need_bias = ctx->saved_data["has_bias"].toBool() && ctx->needs_input_grad(2);
    auto [gs, gw, gb] = op.call(grads[0], saved[0], saved[1], saved[2], ctx->needs_input_grad(0),
                                ctx->needs_input_grad(1), need_bias);
    if (ctx->needs_input_grad(0)) out[0] = gs;
    if (ctx->needs_input_grad(1)) out[1] = gw;
    if (need_bias) out[2] = gb;
    return out;
  }
};

Tensor3 spike_linear_forward_autograd(const Tensor& s, const Tensor& weight, const OptTensor& bias, bool check) {
  auto out = SpikeLinearFunction::apply(s, weight, bias, check);
  return {out[0], out[1], out[2]};
}

}  // namespace

TORCH_LIBRARY_IMPL(spikekern, Autograd, m) {
  m.impl("lif_forward", &lif_forward_autograd);
  m.impl("cuba_lif_forward", &cuba_forward_autograd);
  m.impl("ilc_cuba_lif_forward", &ilc_forward_autograd);
  m.impl("plif_forward", &plif_forward_autograd);
  m.impl("clif_forward", &clif_forward_autograd);
  m.impl("spike_linear_forward", &spike_linear_forward_autograd);
}

}  // namespace spikekern
