// Stand-in for the CUDA toolkit header of this name: see ../cuda_sim.h.
#pragma once
#include "../device.h"
