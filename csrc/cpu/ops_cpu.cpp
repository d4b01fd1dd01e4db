// CPU implementations of the spikekern ops: argument checks, outputs from the output pool,
// and the parallel walk over neurons (at::parallel_for, so torch.set_num_threads governs
// it). The kernels are in kernels_cpu.h, compiled once per instruction set
// (isa_*.inc); cpu_isa::kernels() is the build this CPU runs (isa_select.cpp).
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <torch/library.h>

#include <atomic>
#include <fstream>
#include <string>

#include "../op_common.h"

#include "cpu_kernels.h"
#include "kernels_cpu.h"
#include "output_pool.h"

namespace spikekern {

const cpu_isa::KernelTable& cpu_kernels() {
  try {
    return cpu_isa::kernels();
  } catch (const std::exception& e) {
    TORCH_CHECK(false, e.what());
  }
}

namespace {

// Neurons per parallel task: large enough that the scheduling cost is negligible.
constexpr int64_t kGrain = 8192;
constexpr auto kCPU = c10::DeviceType::CPU;
using cpu_isa::SeqArgs;

Tensor pooled_like(const Tensor& t) { return cpu_pool::empty(t.sizes(), t.options()); }

// ------------------------------------------------------ when outputs take streaming stores
// The LIF and CUBA-LIF kernels write an output with streaming stores when it has at least
// this many bytes (kernels_cpu.h says why). Default: half the last-level cache, so an
// output that could stay cached for its consumer is written plainly; SPIKEKERN_CPU_STREAM_MB
// sets it (0: every output), spikekern.cpu.set_stream_min_bytes() changes it at run time.

// The size of the last-level cache that CPU 0 sees, as the kernel reports it in sysfs
// (glibc's sysconf(_SC_LEVEL3_CACHE_SIZE) can report the whole package's L3 instead,
// 320 MiB against a 32 MiB one on the development machine); 0 if unknown.
int64_t last_level_cache_bytes() {
  int64_t best_level = 0, bytes = 0;
  for (int i = 0; i < 16; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    std::ifstream level_file(dir + "level"), size_file(dir + "size"), type_file(dir + "type");
    int64_t level = 0, size = 0;
    std::string unit, type;
    if (!(level_file >> level) || !(size_file >> size) || !(type_file >> type) || type == "Instruction") continue;
    size_file >> unit;  // "32768K": the number, then its unit (none: bytes)
    const char u = unit.empty() ? ' ' : unit[0];
    size <<= (u == 'K' ? 10 : u == 'M' ? 20 : u == 'G' ? 30 : 0);
    if (level > best_level) best_level = level, bytes = size;
  }
  return bytes;
}

int64_t stream_min_bytes_default() {
  const int64_t set = env_megabytes("SPIKEKERN_CPU_STREAM_MB", -1, "streams every output");
  if (set >= 0) return set;
  int64_t llc = last_level_cache_bytes();
  if (llc <= 0) llc = int64_t(32) << 20;  // unknown: a common last-level cache size
  return llc / 2;
}

std::atomic<int64_t>& stream_min_bytes() {
  static std::atomic<int64_t> bytes{stream_min_bytes_default()};
  return bytes;
}

bool streams(const SeqArgs& a, const Tensor& out) {
  return a.T * a.N * static_cast<int64_t>(out.element_size()) >= stream_min_bytes().load(std::memory_order_relaxed);
}

void set_stream_min_bytes(int64_t bytes) {
  TORCH_CHECK(bytes >= 0, "spikekern: the streaming threshold must be >= 0 bytes, got ", bytes);
  stream_min_bytes().store(bytes, std::memory_order_relaxed);
}

// The shared time loops of neuron type args.neuron (neuron_math.h, neuron_id).
cpu_isa::RangeFn neuron_entry(const std::array<cpu_isa::RangeFn, kMaxNeuronTypes>& entries, int neuron) {
  TORCH_CHECK(neuron >= 0 && neuron < kMaxNeuronTypes && entries[neuron], "spikekern: no CPU kernel for neuron type ",
              neuron);
  return entries[neuron];
}
cpu_isa::RangeFn forward_of(const SeqArgs& args) { return neuron_entry(cpu_kernels().neuron_forward, args.neuron); }
cpu_isa::RangeFn backward_of(const SeqArgs& args) { return neuron_entry(cpu_kernels().neuron_backward, args.neuron); }

// Runs fn over [0, n) in parallel chunks of `grain`.
void run(cpu_isa::RangeFn fn, const SeqArgs& a, int64_t n, int64_t grain) {
  at::parallel_for(0, n, grain, [&](int64_t begin, int64_t end) { fn(a, begin, end); });
}

// A forward of the shared time loops over every neuron; s (its spikes) decides whether its
// outputs take streaming stores.
void run_forward(SeqArgs& a, const Tensor& s) {
  a.stream = streams(a, s);
  run(forward_of(a), a, a.N, kGrain);
}

// A backward over every neuron; gx (its input gradient) decides streaming.
void run_backward(SeqArgs& a, const Tensor& gx) {
  a.stream = streams(a, gx);
  run(backward_of(a), a, a.N, kGrain);
}

// -------------------------------------------------------------------------------- LIF
std::tuple<Tensor, Tensor, Tensor> lif_forward_cpu(
    const Tensor& x_in, const std::optional<Tensor>& v_init_in, double a, double b, double c,
    double v_th, double v_reset, bool soft, bool detach, int64_t surrogate, double alpha,
    bool save_h, bool return_v) {
  check_seq(x_in, "x", kCPU);
  const Tensor x = x_in.contiguous();
  SeqArgs args;
  set_call(args, neuron_id<LifNeuron>, x, v_th, v_reset, soft, detach, surrogate, alpha);
  const Tensor v_init = lif_v_init(v_init_in, x, args.N);
  Tensor s, h, v;
  std::tie(s, h, v) = forward_outputs(x, save_h, return_v, cpu_pool::empty);
  args.k0 = a, args.k1 = b, args.k2 = c;
  set_forward_io(args, x, s, h, v);
  args.v_init = v_init.defined() ? v_init.data_ptr() : nullptr;
  run_forward(args, s);
  return {s, h, v};
}

std::tuple<Tensor, Tensor> lif_backward_cpu(
    const Tensor& grad_s_in, const std::optional<Tensor>& grad_v_in, const Tensor& h_in,
    double a, double b, double v_th, double v_reset, bool soft, bool detach, int64_t surrogate,
    double alpha, bool need_grad_v_init) {
  check_backward(grad_s_in, h_in, kCPU, "lif_backward");
  const Tensor gs = grad_s_in.contiguous();
  const Tensor h = h_in.contiguous();
  const auto gv = present(grad_v_in, gs);  // held: its data outlives the call
  SeqArgs args;
  set_call(args, neuron_id<LifNeuron>, gs, v_th, v_reset, soft, detach, surrogate, alpha);
  Tensor gx = pooled_like(gs);
  Tensor gvi = need_grad_v_init ? empty_acc(h.sizes().slice(1), gs) : empty_acc({0}, gs);
  args.k0 = a, args.k1 = b;
  set_backward_io(args, gs, gv, h, gx);
  args.gv_init = need_grad_v_init ? gvi.data_ptr() : nullptr;
  run_backward(args, gx);
  return {gx, gvi};
}

// --------------------------------------------------------------------------- CUBA-LIF
std::tuple<Tensor, Tensor, Tensor> cuba_lif_forward_cpu(
    const Tensor& x_in, double c_decay, double v_decay, double v_th, double v_reset, bool soft,
    bool detach, int64_t surrogate, double alpha, bool save_h, bool return_v) {
  check_seq(x_in, "x", kCPU);
  const Tensor x = x_in.contiguous();
  SeqArgs args;
  set_call(args, neuron_id<CubaNeuron>, x, v_th, v_reset, soft, detach, surrogate, alpha);
  Tensor s, h, v;
  std::tie(s, h, v) = forward_outputs(x, save_h, return_v, cpu_pool::empty);
  args.k0 = c_decay, args.k1 = v_decay;
  set_forward_io(args, x, s, h, v);
  run_forward(args, s);
  return {s, h, v};
}

Tensor cuba_lif_backward_cpu(const Tensor& grad_s_in, const std::optional<Tensor>& grad_v_in,
                             const Tensor& h_in, double c_decay, double v_decay, double v_th,
                             double v_reset, bool soft, bool detach, int64_t surrogate,
                             double alpha) {
  check_backward(grad_s_in, h_in, kCPU, "cuba_lif_backward");
  const Tensor gs = grad_s_in.contiguous();
  const Tensor h = h_in.contiguous();
  const auto gv = present(grad_v_in, gs);  // held: its data outlives the call
  SeqArgs args;
  set_call(args, neuron_id<CubaNeuron>, gs, v_th, v_reset, soft, detach, surrogate, alpha);
  Tensor gx = pooled_like(gs);
  args.k0 = c_decay, args.k1 = v_decay;
  set_backward_io(args, gs, gv, h, gx);
  run_backward(args, gx);
  return gx;
}

// ------------------------------------------------------------------------------- PLIF
std::tuple<Tensor, Tensor, Tensor> plif_forward_cpu(const Tensor& x_in, const Tensor& q_in, double v_th,
                                                    double v_reset, bool soft, bool decay_input, bool detach,
                                                    int64_t surrogate, double alpha, bool save_h, bool return_v) {
  check_seq(x_in, "x", kCPU);
  const Tensor x = x_in.contiguous();
  const Tensor q = plif_q(q_in, x);
  SeqArgs args;
  set_call(args, plif_id(decay_input), x, v_th, v_reset, soft, detach, surrogate, alpha);
  Tensor s, h, v;
  std::tie(s, h, v) = forward_outputs(x, save_h, return_v, cpu_pool::empty);
  args.q = q.data_ptr();
  set_forward_io(args, x, s, h, v);
  run_forward(args, s);
  return {s, h, v};
}

std::tuple<Tensor, Tensor> plif_backward_cpu(const Tensor& grad_s_in, const std::optional<Tensor>& grad_v_in,
                                             const Tensor& h_in, const Tensor& q_in,
                                             double v_th, double v_reset, bool soft, bool decay_input,
                                             bool detach, int64_t surrogate, double alpha) {
  check_backward(grad_s_in, h_in, kCPU, "plif_backward");
  const Tensor gs = grad_s_in.contiguous();
  const Tensor h = h_in.contiguous();
  const Tensor q = plif_q(q_in, gs);
  const auto gv = present(grad_v_in, gs);  // held: its data outlives the call
  SeqArgs args;
  set_call(args, plif_id(decay_input), gs, v_th, v_reset, soft, detach, surrogate, alpha);
  const auto& k = cpu_kernels();
  // One partial dL/dq per block of neurons, summed in block order (in double: the total often
  // cancels to far below its terms): the same bits whatever the thread count.
  const int64_t blocks = (args.N + k.neuron_block - 1) / k.neuron_block;
  Tensor gx = pooled_like(gs);
  Tensor parts = at::empty({blocks}, gs.options().dtype(at::kDouble));
  args.q = q.data_ptr();
  set_backward_io(args, gs, gv, h, gx);
  args.param_parts = parts.data_ptr();
  args.stream = streams(args, gx);
  run(backward_of(args), args, blocks, std::max<int64_t>(1, kGrain / k.neuron_block));
  Tensor gq = at::empty({}, parts.options());
  cpu::sum_partials_in_order(parts.data_ptr<double>(), blocks, 1, gq.data_ptr<double>());
  return {gx, gq.to(acc_dtype(gs))};
}

// ------------------------------------------------------------------------------- CLIF
// CLIF resets itself: soft, nothing detached.
std::tuple<Tensor, Tensor, Tensor> clif_forward_cpu(const Tensor& x_in, double tau, double v_th, int64_t surrogate,
                                                    double alpha, bool save_h) {
  check_seq(x_in, "x", kCPU);
  const Tensor x = x_in.contiguous();
  SeqArgs args;
  set_call(args, neuron_id<ClifNeuron>, x, v_th, 0.0, true, false, surrogate, alpha);
  Tensor s, h, unused;
  std::tie(s, h, unused) = forward_outputs(x, save_h, false, cpu_pool::empty);
  const Tensor m = save_h ? cpu_pool::empty(x.sizes(), h.options()) : empty_acc({0}, x);
  args.k0 = tau;
  set_forward_io(args, x, s, h, unused);
  args.m = save_h ? m.data_ptr() : nullptr;
  run_forward(args, s);
  return {s, h, m};
}

Tensor clif_backward_cpu(const Tensor& grad_s_in, const Tensor& h_in, const Tensor& m_in, double tau, double v_th,
                         int64_t surrogate, double alpha) {
  check_clif_backward(grad_s_in, h_in, m_in, kCPU);
  const Tensor gs = grad_s_in.contiguous();
  const Tensor h = h_in.contiguous();
  const Tensor m = m_in.contiguous();
  SeqArgs args;
  set_call(args, neuron_id<ClifNeuron>, gs, v_th, 0.0, true, false, surrogate, alpha);
  Tensor gx = pooled_like(gs);
  args.k0 = tau;
  set_backward_io(args, gs, std::nullopt, h, gx);
  args.m_saved = m.data_ptr();
  run_backward(args, gx);
  return gx;
}

// ----------------------------------------------------------------------- ILC-CUBA-LIF
void set_ilc_shape(SeqArgs& args, const Tensor& x, const Tensor& weight) {
  const IlcDims d = ilc_dims(x, weight);
  args.T = d.T, args.M = d.M, args.A = d.A, args.P = d.P;
}

int64_t ilc_tiles(const SeqArgs& args, const cpu_isa::KernelTable& k) {
  return (args.M + k.ilc_tile - 1) / k.ilc_tile;
}

std::tuple<Tensor, Tensor> ilc_cuba_lif_forward_cpu(const Tensor& x_in, const Tensor& weight,
                                                    const Tensor& bias, double c_decay,
                                                    double v_decay, double v_th, double v_reset,
                                                    bool soft, bool detach, int64_t surrogate,
                                                    double alpha, bool save_h) {
  check_seq(x_in, "x", kCPU);
  SeqArgs args;
  set_ilc_shape(args, x_in, weight);
  TORCH_CHECK(bias.sizes() == at::IntArrayRef({args.A, args.P}), "spikekern: ILC bias must be [A, P]");
  const Tensor x = x_in.contiguous();
  const Tensor W = weight.to(acc_dtype(x)).contiguous();
  const Tensor B = bias.to(acc_dtype(x)).contiguous();
  Tensor s, h, unused;
  std::tie(s, h, unused) = forward_outputs(x, save_h, false, cpu_pool::empty);
  args.dtype = dtype_code(x);
  args.k0 = c_decay, args.k1 = v_decay;
  set_fire(args, v_th, v_reset, soft, detach, surrogate, alpha);
  args.save_h = save_h;
  args.x = x.data_ptr(), args.w = W.data_ptr(), args.bias = B.data_ptr();
  args.s = s.data_ptr(), args.h = save_h ? h.data_ptr() : nullptr;
  const auto& k = cpu_kernels();
  run(k.ilc_cuba_lif_forward, args, ilc_tiles(args, k), 1);
  return {s, h};
}

std::tuple<Tensor, Tensor, Tensor> ilc_cuba_lif_backward_cpu(
    const Tensor& grad_s_in, const Tensor& h_in, const Tensor& weight, double c_decay,
    double v_decay, double v_th, double v_reset, bool soft, bool detach, int64_t surrogate,
    double alpha) {
  check_backward(grad_s_in, h_in, kCPU, "ilc_cuba_lif_backward");
  SeqArgs args;
  set_ilc_shape(args, h_in, weight);
  const Tensor gs = grad_s_in.contiguous();
  const Tensor h = h_in.contiguous();
  const Tensor W = weight.to(h.scalar_type()).contiguous();
  const auto& k = cpu_kernels();
  const int64_t tiles = ilc_tiles(args, k), wsize = args.A * args.P * args.P, bsize = args.A * args.P;
  Tensor gx = pooled_like(gs);
  // One partial weight and bias gradient per sample tile, summed in tile order below: the
  // result does not depend on the thread count.
  Tensor gW_parts = at::empty({tiles, args.A, args.P, args.P}, h.options());
  Tensor gb_parts = at::empty({tiles, args.A, args.P}, h.options());
  args.dtype = dtype_code(gs);
  args.k0 = c_decay, args.k1 = v_decay;
  set_fire(args, v_th, v_reset, soft, detach, surrogate, alpha);
  args.gs = gs.data_ptr(), args.h_saved = h.data_ptr(), args.w = W.data_ptr();
  args.gx = gx.data_ptr(), args.gw_parts = gW_parts.data_ptr(), args.gb_parts = gb_parts.data_ptr();
  run(k.ilc_cuba_lif_backward, args, tiles, 1);
  Tensor gW = at::empty({args.A, args.P, args.P}, h.options());
  Tensor gb = at::empty({args.A, args.P}, h.options());
  AT_DISPATCH_FLOATING_TYPES(h.scalar_type(), "sum_partials_in_order", [&] {
    cpu::sum_partials_in_order(gW_parts.data_ptr<scalar_t>(), tiles, wsize, gW.data_ptr<scalar_t>());
    cpu::sum_partials_in_order(gb_parts.data_ptr<scalar_t>(), tiles, bsize, gb.data_ptr<scalar_t>());
  });
  return {gx, gW.to(weight.scalar_type()), gb.to(weight.scalar_type())};
}

// ------------------------------------------------------- the CPU runtime, for Python
std::string cpu_isa_name() { return cpu_kernels().isa; }

int64_t cpu_stream_min_bytes() { return stream_min_bytes().load(std::memory_order_relaxed); }

std::vector<int64_t> cpu_pool_stats() {
  const cpu_pool::Stats s = cpu_pool::stats();
  return {s.cached_bytes, s.in_use_bytes, s.limit_bytes, s.hits, s.misses, s.returned, s.released};
}

}  // namespace

TORCH_LIBRARY_IMPL(spikekern, CPU, m) {
  m.impl("lif_forward", &lif_forward_cpu);
  m.impl("lif_backward", &lif_backward_cpu);
  m.impl("cuba_lif_forward", &cuba_lif_forward_cpu);
  m.impl("cuba_lif_backward", &cuba_lif_backward_cpu);
  m.impl("ilc_cuba_lif_forward", &ilc_cuba_lif_forward_cpu);
  m.impl("ilc_cuba_lif_backward", &ilc_cuba_lif_backward_cpu);
  m.impl("plif_forward", &plif_forward_cpu);
  m.impl("plif_backward", &plif_backward_cpu);
  m.impl("clif_forward", &clif_forward_cpu);
  m.impl("clif_backward", &clif_backward_cpu);
}

// The CPU runtime's own functions (not neuron ops, so not in csrc/op_schemas.cpp): which
// instruction-set build runs, the output pool, and the streaming-store threshold.
// spikekern/cpu.py wraps them.
TORCH_LIBRARY_FRAGMENT(spikekern, m) {
  m.def("cpu_isa() -> str", &cpu_isa_name);
  m.def("cpu_stream_min_bytes() -> int", &cpu_stream_min_bytes);
  m.def("cpu_set_stream_min_bytes(int min_bytes) -> ()", &set_stream_min_bytes);
  m.def("cpu_pool_stats() -> int[]", &cpu_pool_stats);
  m.def("cpu_pool_empty_cache() -> ()", &cpu_pool::empty_cache);
  m.def("cpu_pool_set_limit(int limit_bytes) -> ()", &cpu_pool::set_limit);
}

}  // namespace spikekern
