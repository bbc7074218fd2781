// Every kernel for AVX-512F (the same bits as baseline).
#include <immintrin.h>
#define FUSELOSS_ISA avx512
#define FUSELOSS_ISA_PACKS "../../simd/vec_avx512.h"
#include "isa_kernels.inc"
