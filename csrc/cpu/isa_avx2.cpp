// The CPU kernels for x86-64-v3 (AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE): 8 float lanes.
// -ffp-contract=off keeps every multiply and add of the forward separately rounded, as in
// the reference loop; only the backward's explicit mul_add uses FMA (SK_ISA_FMA).
#include "cpu_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define SK_ISA_NAMESPACE avx2
#define SK_ISA_NAME "avx2"
#define SK_ISA_TABLE table_avx2
#define SK_ISA_FMA 1  // the backward's mul_add fuses (neuron_math.h)
#define SK_ISA_VECTOR_BYTES 32
#define SK_ISA_TARGET_PRAGMA _Pragma("GCC target(\"avx2,fma,bmi,bmi2,f16c,lzcnt,movbe,popcnt\")")
#include "kernels_isa.inc"
#else
const spikekern::cpu_isa::KernelTable* spikekern::cpu_isa::table_avx2() { return nullptr; }
#endif
