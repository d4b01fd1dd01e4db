// The AVX2 (x86-64-v3) build of the CPU kernels, part 0 of 3 (kernels_isa.inc says which
// kernels each part compiles).
#define SK_ISA_PART 0
#define SK_ISA_TABLE table_avx2_part0
#include "isa_avx2.inc"
