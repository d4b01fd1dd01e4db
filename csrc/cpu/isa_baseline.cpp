// The CPU kernels for the baseline instruction set: whatever the whole extension is
// compiled for (x86-64-v2 by default on x86-64, see setup.py; the compiler's default
// elsewhere). Runs on every machine the extension runs on.
#define SK_ISA_NAMESPACE baseline
#define SK_ISA_NAME "baseline"
#define SK_ISA_TABLE table_baseline
#define SK_ISA_TARGET_PRAGMA
#include "kernels_isa.inc"
