// Operator schemas of spikekern (one place for every backend's signature) and the
// Python module init of spikekern._C. Per-device implementations register themselves
// in cpu/ops_cpu.cpp and cuda/ops_cuda.cpp, autograd in autograd.cpp (C++, the Autograd
// dispatch key); the fake (meta) kernels are registered from Python in
// spikekern/ops/fake_kernels.py.
#include <Python.h>
#include <torch/library.h>

extern "C" {
// Importing spikekern._C loads this library, which runs the registrations below.
PyObject* PyInit__C(void) {
  static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};
  return PyModule_Create(&module_def);
}
}

// Common neuron arguments: v_threshold, v_reset (ignored when soft_reset), detach_reset,
// surrogate (code of spikekern/ops/surrogate.py), alpha. Outputs not asked for
// (save_h / return_v false) are returned as empty tensors of shape [0].
TORCH_LIBRARY(spikekern, m) {
  m.def(
      "lif_forward(Tensor x, Tensor? v_init, float a, float b, float c, float v_threshold, "
      "float v_reset, bool soft_reset, bool detach_reset, int surrogate, float alpha, "
      "bool save_h, bool return_v) -> (Tensor spikes, Tensor h, Tensor v)");
  m.def(
      "lif_backward(Tensor grad_spikes, Tensor? grad_v, Tensor h, float a, float b, "
      "float v_threshold, float v_reset, bool soft_reset, bool detach_reset, int surrogate, "
      "float alpha, bool need_grad_v_init) -> (Tensor grad_x, Tensor grad_v_init)");
  m.def(
      "cuba_lif_forward(Tensor x, float c_decay, float v_decay, float v_threshold, "
      "float v_reset, bool soft_reset, bool detach_reset, int surrogate, float alpha, "
      "bool save_h, bool return_v) -> (Tensor spikes, Tensor h, Tensor v)");
  m.def(
      "cuba_lif_backward(Tensor grad_spikes, Tensor? grad_v, Tensor h, float c_decay, "
      "float v_decay, float v_threshold, float v_reset, bool soft_reset, bool detach_reset, "
      "int surrogate, float alpha) -> Tensor");
  m.def(
      "ilc_cuba_lif_forward(Tensor x, Tensor weight, Tensor bias, float c_decay, "
      "float v_decay, float v_threshold, float v_reset, bool soft_reset, bool detach_reset, "
      "int surrogate, float alpha, bool save_h) -> (Tensor spikes, Tensor h)");
  m.def(
      "ilc_cuba_lif_backward(Tensor grad_spikes, Tensor h, Tensor weight, float c_decay, "
      "float v_decay, float v_threshold, float v_reset, bool soft_reset, bool detach_reset, "
      "int surrogate, float alpha) -> (Tensor grad_x, Tensor grad_weight, Tensor grad_bias)");
  // PLIF: q is the learned 1/tau (one value, sigmoid of the module's parameter), a tensor so
  // that backward returns its gradient; backward derives it from h (neuron_math.h, PlifNeuron).
  m.def(
      "plif_forward(Tensor x, Tensor q, float v_threshold, float v_reset, bool soft_reset, "
      "bool decay_input, bool detach_reset, int surrogate, float alpha, bool save_h, "
      "bool return_v) -> (Tensor spikes, Tensor h, Tensor v)");
  m.def(
      "plif_backward(Tensor grad_spikes, Tensor? grad_v, Tensor h, Tensor q, "
      "float v_threshold, float v_reset, bool soft_reset, bool decay_input, bool detach_reset, "
      "int surrogate, float alpha) -> (Tensor grad_x, Tensor grad_q)");
  // CLIF: soft reset, nothing detached; h and m (the complementary potential, both in the acc
  // dtype) are saved for the backward when save_h, else returned as [0].
  m.def(
      "clif_forward(Tensor x, float tau, float v_threshold, int surrogate, float alpha, bool save_h) -> "
      "(Tensor spikes, Tensor h, Tensor m)");
  m.def(
      "clif_backward(Tensor grad_spikes, Tensor h, Tensor m, float tau, float v_threshold, int surrogate, "
      "float alpha) -> Tensor");
  // spike_linear: y = s @ weight^T + bias for s in {0, 1}. bits: s packed 8 per byte, [M, 8 * ceil(in / 64)]
  // (M: the rows of s); spikes: how many ones s holds (0-dim int64). check: an entry of s that is
  // neither 0 nor 1 is an error. Gradients not asked for are returned as empty tensors of shape [0].
  m.def("spike_linear_forward(Tensor s, Tensor weight, Tensor? bias, bool check) -> (Tensor out, Tensor bits, "
        "Tensor spikes)");
  m.def(
      "spike_linear_backward(Tensor grad_out, Tensor bits, Tensor spikes, Tensor weight, bool need_input, "
      "bool need_weight, bool need_bias) -> (Tensor grad_s, Tensor grad_weight, Tensor grad_bias)");
}
