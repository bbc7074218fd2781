// Elementwise loss kernels compiled for the avx512 level (flags set per file in CMakeLists.txt).
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "../elementwise_kernel.h"

namespace fuseloss {
namespace avx512 {

template <class F> F splat(float);
template <class F> F load(const float*);
template <class D> D dzero();
template <class D> D dsplat(double);
template <class D> D dload(const double*);
template <class D> D dload_f(const float*);
#include "../../simd/vec_avx512.h"
#include "../../simd/lane.h"
#include "../simd_exp.inc"
#include "../simd_math.inc"
#include "../elementwise_kernels.inc"

}  // namespace avx512

double ew::chunk_avx512(const ew::KernelArgs& k, int64_t begin, int64_t end) { return avx512::ew_chunk_any(k, begin, end); }
double ew::margin_row_avx512(const float* x, float* g, int64_t C, int64_t y, float mxy, float s, bool sq, double* gy) {
  return avx512::margin_row_any(x, g, C, y, mxy, s, sq, gy);
}
ew::CosineKernels ew::cosine_avx512() { return {avx512::dot3_row, avx512::cosine_grad_row}; }
void ew::sigmoid_avx512(const float* x, float* p, int64_t count) { avx512::sigmoid_array(x, p, count); }

}  // namespace fuseloss
