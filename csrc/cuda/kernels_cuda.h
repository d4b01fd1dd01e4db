// Plain C++ API of the CUDA kernels (no torch types), so the kernels compile with nvcc
// alone (CMake, CI) and the torch binding (ops_cuda.cpp) stays a thin layer.
//
// Pointers are device pointers to contiguous [T, N] (or [T, M, A*P]) arrays. `scalar`
// arrays (x, spikes, grad_spikes, grad_x, v) have the input dtype; `acc` arrays (h,
// v_init, grad_v_init, ILC weights and their gradients) are float32, or float64 for
// float64 input. Null optional pointers mean "absent". Every launcher runs on `stream`
// and returns the launch's error code.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "../spikekern/neuron_args.h"

namespace spikekern {
namespace cuda {

using spikekern::DType;

struct Fire {
  double v_th, v_reset, alpha;
  int surrogate;  // SurrogateKind (neuron_args.h)
  bool soft, detach;
};

// The neuron ops of the shared time loops (LIF, CUBA-LIF, PLIF, CLIF, ...), for the neuron type
// a.neuron (neuron_math.h, neuron_id), with NeuronArgs' pointers on the device. A neuron with a
// learned parameter: the backward writes one partial gradient per block into a.param_parts
// (neuron_param_blocks(N) of them, double) and their sum, in block order, into a.param_grad
// (acc dtype). A kOwnStep neuron (CLIF) writes its second state to a.m beside h, reads it back
// from a.m_saved, and resets itself (a.soft and a.detach are not read).
int64_t neuron_param_blocks(int64_t N);
cudaError_t neuron_forward(const NeuronArgs& a, cudaStream_t stream);
cudaError_t neuron_backward(const NeuronArgs& a, cudaStream_t stream);

// ILC-CUBA-LIF. Blocks take a tile of samples of one group; the backward writes one
// partial weight/bias gradient per tile (gW_part [tiles, A, P, P], gb_part [tiles, A, P],
// acc dtype) and then sums them in tile order into gW [A, P, P], gb [A, P].
int64_t ilc_tiles(int64_t M, int64_t P);
constexpr int64_t kIlcMaxPop = 64;
cudaError_t ilc_cuba_lif_forward(DType dt, const void* x, const void* W, const void* bias, double c_decay,
                        double v_decay, const Fire& f, int64_t T, int64_t M, int64_t A, int64_t P,
                        void* s, void* h, cudaStream_t stream);
cudaError_t ilc_cuba_lif_backward(DType dt, const void* gs, const void* h, const void* W, double c_decay,
                         double v_decay, const Fire& f, int64_t T, int64_t M, int64_t A,
                         int64_t P, void* gx, void* gW_part, void* gb_part, void* gW, void* gb,
                         cudaStream_t stream);

}  // namespace cuda
}  // namespace spikekern
