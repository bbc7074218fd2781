// Every kernel for AVX2 (+FMA present; contraction off, so the same bits as baseline).
#include <immintrin.h>
#define FUSELOSS_ISA avx2
#define FUSELOSS_ISA_PACKS "../../simd/vec_avx2.h"
#include "isa_kernels.inc"
