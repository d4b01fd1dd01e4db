// The AVX-512 (x86-64-v4) build of the CPU kernels, part 2 of 3 (kernels_isa.inc says which
// kernels each part compiles).
#define SK_ISA_PART 2
#define SK_ISA_TABLE table_avx512_part2
#include "isa_avx512.inc"
