// Stand-in for the CUDA toolkit header of this name: the runtime types and API only
// (no device spellings), as the plain C++ API kernels_cuda.h needs. See ../cuda_sim.h.
#pragma once
#include "../cuda_sim.h"
