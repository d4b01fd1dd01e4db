// The CPU kernels as the torch binding sees them: one table of entry points per
// instruction set, chosen once at load time (isa_select.cpp).
//
// The kernels are compiled three times on x86-64, each build in its own namespace and with
// its own target flags (isa_baseline.cpp: x86-64-v2, isa_avx2.cpp: x86-64-v3,
// isa_avx512.cpp: x86-64-v4), so one build of spikekern runs at full speed on every x86
// machine. The binding (ops_cpu.cpp) checks tensors, allocates outputs and splits the work
// with at::parallel_for; each entry point runs the kernel on one range of neurons (or of
// ILC sample tiles). Framework-free: raw pointers, no torch types.
#pragma once

#include <cstdint>

namespace spikekern {
namespace cpu_isa {

enum class DType : int { kFloat, kDouble, kHalf, kBFloat16 };

// One call of a sequence op. Pointers are to contiguous [T, ...] data of `dtype`, except
// h, v_init, w, bias, gv_init and the partial weight gradients, which have the accumulation
// type (double for double, float otherwise). Unused pointers are null.
struct SeqArgs {
  DType dtype = DType::kFloat;
  int64_t T = 0, N = 0;     // the [T, N] view of LIF and CUBA-LIF
  int64_t M = 0, A = 0, P = 0;  // ILC: x is [T, M, A*P], the weights [A, P, P]
  double k0 = 0, k1 = 0, k2 = 0;  // LIF: a, b, c; CUBA-LIF and ILC: c_decay, v_decay; CLIF: tau
  double v_th = 0, v_reset = 0, alpha = 0;
  int surrogate = 0;
  bool soft = false, detach = false, save_h = false, save_v = false;
  bool stream = false;  // LIF, CUBA-LIF: write the [T, N] outputs with streaming stores
  bool decay_input = false;  // PLIF
  const void* q = nullptr;   // PLIF: its learned 1/tau, one acc-type value
  void* m = nullptr;               // CLIF forward: the complementary potential m[t] (acc type)
  const void* m_saved = nullptr;   // CLIF backward: the forward's m
  // forward
  const void* x = nullptr;
  const void* v_init = nullptr;
  const void* w = nullptr;
  const void* bias = nullptr;
  void* s = nullptr;
  void* h = nullptr;
  void* v = nullptr;
  // backward (h_saved: the forward's h; gv may be null: zero)
  const void* gs = nullptr;
  const void* gv = nullptr;
  const void* h_saved = nullptr;
  void* gx = nullptr;
  void* gv_init = nullptr;
  void* gw_parts = nullptr;  // ILC: [tiles, A, P, P], one partial gradient per sample tile
  void* gb_parts = nullptr;  // ILC: [tiles, A, P]
  void* param_parts = nullptr;  // PLIF: [blocks] double, one partial dL/dq per block of neuron_block
};

// Runs an op on neurons [begin, end) (ILC: on sample tiles [begin, end)).
using RangeFn = void (*)(const SeqArgs&, int64_t begin, int64_t end);

// One call of spike_linear's kernels (spike_linear_cpu.h). s, wt, bias, y, gy, gwt, s_out
// have `dtype` (float or double); bits: [M, words(in)] uint64; count: [M] spikes per row.
struct SpikeArgs {
  DType dtype = DType::kFloat;
  int64_t M = 0, in = 0, out = 0;
  const void* s = nullptr;     // [M, in]
  uint64_t* bits = nullptr;    // [M, words(in)]
  int32_t* count = nullptr;    // [M]
  const void* wt = nullptr;    // W^T, [in, out]
  const void* bias = nullptr;  // [out], or null
  void* y = nullptr;           // [M, out]
  int64_t* col_ptr = nullptr;  // the spikes by column: [in + 1] ...
  int32_t* rows = nullptr;     // ... and [nnz] row indices
  const void* gy = nullptr;    // [M, out]
  void* gwt = nullptr;         // dW^T, [in, out]
  void* s_out = nullptr;       // [M, in], the unpacked spikes
  // spike_transpose: dst [cols, rows] (row stride ld_dst) = src [rows, cols]^T (row stride ld_src)
  const void* t_src = nullptr;
  void* t_dst = nullptr;
  int64_t t_cols = 0, t_ld_src = 0, t_ld_dst = 0;
};

// Runs a spike_linear kernel on rows (pack, unpack, forward; transpose: rows of its source)
// or input features (grad_weight) [begin, end); pack returns the count of entries that are neither 0 nor 1, the others 0.
using SpikeRangeFn = int64_t (*)(const SpikeArgs&, int64_t begin, int64_t end);

// Named as the ops are (torch.ops.spikekern.<name>), so one search finds every backend.
struct KernelTable {
  const char* isa;  // "baseline", "avx2" or "avx512"
  RangeFn lif_forward, lif_backward;
  RangeFn cuba_lif_forward, cuba_lif_backward;
  RangeFn ilc_cuba_lif_forward, ilc_cuba_lif_backward;
  RangeFn plif_forward, plif_backward;  // backward: on blocks of neuron_block neurons
  RangeFn clif_forward, clif_backward;
  int64_t ilc_tile;  // samples per ILC tile
  int64_t neuron_block;  // neurons per partial parameter gradient
  SpikeRangeFn spike_pack, spike_unpack, spike_linear_forward, spike_linear_grad_weight, spike_transpose;
  SpikeRangeFn spike_columns;  // serial: the CSC index of all M rows (begin, end unused)
};

// The table of each build; null where this platform has no such build.
const KernelTable* table_baseline();
const KernelTable* table_avx2();
const KernelTable* table_avx512();

// The table in use: the best build this CPU runs, or the one SPIKEKERN_CPU_ISA names.
// Throws std::runtime_error when SPIKEKERN_CPU_ISA names an unknown or unsupported path.
const KernelTable& kernels();

// Whether this CPU runs the build named "baseline", "avx2" or "avx512" (capped by
// SPIKEKERN_CPU_ISA_MAX), whichever build is in use.
bool cpu_supports(const char* isa);

}  // namespace cpu_isa

// cpu_isa::kernels() for the torch bindings (ops_cpu.cpp, spike_linear_ops.cpp): its error as
// a torch error. Defined in ops_cpu.cpp.
const cpu_isa::KernelTable& cpu_kernels();
}  // namespace spikekern
