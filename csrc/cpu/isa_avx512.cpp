// The CPU kernels for x86-64-v4 (AVX-512 F/BW/CD/DQ/VL on top of x86-64-v3): 16 float
// lanes, and 512-bit vectors preferred by the auto-vectoriser (GCC's generic tuning would
// otherwise stay at 256 bits).
#include "cpu_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define SK_ISA_NAMESPACE avx512
#define SK_ISA_NAME "avx512"
#define SK_ISA_TABLE table_avx512
#define SK_ISA_FMA 1  // the backward's mul_add fuses (neuron_math.h)
#define SK_ISA_VECTOR_BYTES 64
#define SK_ISA_TARGET_PRAGMA                                                                  \
  _Pragma("GCC target(\"avx512f,avx512bw,avx512cd,avx512dq,avx512vl,avx2,fma,bmi,bmi2,f16c,lzcnt,movbe,popcnt,prefer-vector-width=512\")")
#include "kernels_isa.inc"
#else
const spikekern::cpu_isa::KernelTable* spikekern::cpu_isa::table_avx512() { return nullptr; }
#endif
