// One call of a neuron op of the shared time loops, as plain values and pointers: what the
// torch bindings (cpu/ops_cpu.cpp, cuda/ops_cuda.cpp) hand to the kernels of either device,
// and what a neuron type reads its coefficients from (neuron_math.h, `coeffs`).
// Framework-free, so the kernels compile without torch (CMake, the C++ tests).
#pragma once

#include <cstdint>

namespace spikekern {

// The input dtype. The accumulation type is double for kDouble, float otherwise.
enum class DType : int { kFloat = 0, kDouble = 1, kHalf = 2, kBFloat16 = 3 };

// Surrogate codes (NEURONS.md §5; neuron_math.h, surrogate_grad); the Python side
// (spikekern/ops/surrogate.py) uses the same numbers.
enum SurrogateKind : int {
  kQGate = 0,
  kRect = 1,
  kSigmoid = 2,
  kATan = 3,
  kPass = 4,  // the last
};

// At most this many neuron types (neuron_math.h, `Neurons`): the size of the kernel tables.
constexpr int kMaxNeuronTypes = 16;

// Pointers are to contiguous [T, N] data of `dtype`, except h, m, v_init and gv_init,
// which have the accumulation type, and param_parts (double). Unused pointers are null.
struct NeuronArgs {
  int neuron = -1;  // the neuron type: its index in neuron_math.h's `Neurons` (neuron_id)
  DType dtype = DType::kFloat;
  int64_t T = 0, N = 0;
  double k0 = 0, k1 = 0, k2 = 0;  // the neuron's coefficients (its `coeffs` says which is which)
  double v_th = 0, v_reset = 0, alpha = 0;
  int surrogate = 0;  // SurrogateKind
  bool soft = false, detach = false, save_h = false, save_v = false;
  bool stream = false;     // CPU: write the [T, N] outputs with streaming stores
  const void* q = nullptr;  // a learned parameter (PLIF's 1/tau), one acc-type value on the device
  // forward: x in; s, and h (save_h), v (save_v), m (a second saved state, kOwnStep) out
  const void* x = nullptr;
  const void* v_init = nullptr;
  void* s = nullptr;
  void* h = nullptr;
  void* v = nullptr;
  void* m = nullptr;
  // backward: gs, h_saved (and gv, m_saved) in; gx out
  const void* gs = nullptr;
  const void* gv = nullptr;  // null: zero
  const void* h_saved = nullptr;
  const void* m_saved = nullptr;
  void* gx = nullptr;
  void* gv_init = nullptr;
  void* param_parts = nullptr;  // one partial parameter gradient per block of neurons (double)
  void* param_grad = nullptr;   // CUDA: their sum in block order (acc type)
};

}  // namespace spikekern
