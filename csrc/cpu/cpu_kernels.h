// The CPU kernels as the torch binding sees them: one table of entry points per
// instruction set, chosen once at load time (isa_select.cpp).
//
// The kernels are compiled three times on x86-64, each build in its own namespace and with
// its own target flags (isa_baseline.inc: x86-64-v2, isa_avx2.inc: x86-64-v3,
// isa_avx512.inc: x86-64-v4; each compiled in three parts, isa_<build>_part0/1/2.cpp), so
// one build of spikekern runs at full speed on every x86 machine. The binding (ops_cpu.cpp)
// checks tensors, allocates outputs and splits the work with at::parallel_for; each entry
// point runs the kernel on one range of neurons (or of ILC sample tiles). Framework-free:
// raw pointers, no torch types.
#pragma once

#include <array>
#include <cstdint>

#include "../spikekern/neuron_args.h"

namespace spikekern {
namespace cpu_isa {

using spikekern::DType;

// One call of a sequence op: a neuron op of the shared loops (NeuronArgs), or ILC-CUBA-LIF,
// whose x is [T, M, A*P] and whose weights and their partial gradients have the
// accumulation type.
struct SeqArgs : NeuronArgs {
  int64_t M = 0, A = 0, P = 0;  // ILC: x is [T, M, A*P], the weights [A, P, P]
  const void* w = nullptr;
  const void* bias = nullptr;
  void* gw_parts = nullptr;  // ILC: [tiles, A, P, P], one partial gradient per sample tile
  void* gb_parts = nullptr;  // ILC: [tiles, A, P]
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

struct KernelTable {
  const char* isa;  // "baseline", "avx2" or "avx512"
  // The shared time loops for each neuron type, by NeuronArgs::neuron (neuron_math.h,
  // neuron_id); null past the last. A neuron with a learned parameter's backward runs on
  // blocks of neuron_block neurons, each writing its partial gradient.
  std::array<RangeFn, kMaxNeuronTypes> neuron_forward, neuron_backward;
  RangeFn ilc_cuba_lif_forward, ilc_cuba_lif_backward;
  int64_t ilc_tile;  // samples per ILC tile
  int64_t neuron_block;  // neurons per partial parameter gradient
  SpikeRangeFn spike_pack, spike_unpack, spike_linear_forward, spike_linear_grad_weight, spike_transpose;
  SpikeRangeFn spike_columns;  // serial: the CSC index of all M rows (begin, end unused)
};

// The tables of each build's three parts (kernels_isa.inc: the kernels of one part are
// null in the others' tables); null where this platform has no such build. kernels()
// merges them.
const KernelTable* table_baseline_part0();
const KernelTable* table_baseline_part1();
const KernelTable* table_baseline_part2();
const KernelTable* table_avx2_part0();
const KernelTable* table_avx2_part1();
const KernelTable* table_avx2_part2();
const KernelTable* table_avx512_part0();
const KernelTable* table_avx512_part1();
const KernelTable* table_avx512_part2();

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
