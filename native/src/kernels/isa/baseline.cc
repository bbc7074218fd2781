// Every kernel for baseline x86-64 (SSE2), the level any x86-64 CPU runs.
#include <emmintrin.h>
#define FUSELOSS_ISA baseline
#define FUSELOSS_ISA_PACKS "../../simd/vec_sse2.h"
#include "isa_kernels.inc"
