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

namespace spikekern {
namespace cuda {

enum class DType : int { kFloat32 = 0, kFloat64 = 1, kFloat16 = 2, kBFloat16 = 3 };

struct Fire {
  double v_th, v_reset, alpha;
  int surrogate;  // SurrogateKind of neuron_math.h
  bool soft, detach;
};

cudaError_t lif_forward(DType dt, const void* x, const void* v_init, double a, double b, double c,
                        const Fire& f, int64_t T, int64_t N, void* s, void* h, void* v,
                        cudaStream_t stream);
cudaError_t lif_backward(DType dt, const void* gs, const void* gv, const void* h, double a,
                         double b, const Fire& f, int64_t T, int64_t N, void* gx, void* gv_init,
                         cudaStream_t stream);
cudaError_t cuba_lif_forward(DType dt, const void* x, double c_decay, double v_decay, const Fire& f,
                         int64_t T, int64_t N, void* s, void* h, void* v, cudaStream_t stream);
cudaError_t cuba_lif_backward(DType dt, const void* gs, const void* gv, const void* h, double c_decay,
                          double v_decay, const Fire& f, int64_t T, int64_t N, void* gx,
                          cudaStream_t stream);

// PLIF: q points to its learned 1/tau (one acc value on the device). The backward writes one
// partial dL/dq per block into param_parts (plif_param_blocks(N) of them, double) and
// their sum, in block order, into gq (acc dtype).
int64_t plif_param_blocks(int64_t N);
cudaError_t plif_forward(DType dt, const void* x, const void* q, bool decay_input, const Fire& f, int64_t T,
                         int64_t N, void* s, void* h, void* v, cudaStream_t stream);
cudaError_t plif_backward(DType dt, const void* gs, const void* gv, const void* h, const void* x, const void* q,
                          bool decay_input, const Fire& f, int64_t T, int64_t N, void* gx, void* param_parts,
                          void* gq, cudaStream_t stream);

// CLIF: h and m (acc dtype) are written when h is not null (the backward reads both); its
// reset is soft and nothing is detached (f's soft and detach are not read).
cudaError_t clif_forward(DType dt, const void* x, double tau, double v_th, int64_t T, int64_t N, void* s, void* h,
                         void* m, cudaStream_t stream);
cudaError_t clif_backward(DType dt, const void* gs, const void* h, const void* m, double tau, const Fire& f, int64_t T,
                          int64_t N, void* gx, cudaStream_t stream);

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
