// Elementwise loss kernels compiled for the baseline level (flags set per file in CMakeLists.txt).
#include <emmintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "../elementwise_kernel.h"

namespace fuseloss {
namespace baseline {

template <class F> F splat(float);
template <class F> F load(const float*);
template <class D> D dzero();
template <class D> D dsplat(double);
template <class D> D dload(const double*);
template <class D> D dload_f(const float*);
#include "../../simd/vec_sse2.h"
#include "../../simd/lane.h"
#include "../simd_exp.inc"
#include "../simd_math.inc"
#include "../elementwise_kernels.inc"

}  // namespace baseline

double ew::chunk_baseline(const ew::KernelArgs& k, int64_t begin, int64_t end) { return baseline::ew_chunk_any(k, begin, end); }
double ew::margin_row_baseline(const float* x, float* g, int64_t C, int64_t y, float mxy, float s, bool sq, double* gy) {
  return baseline::margin_row_any(x, g, C, y, mxy, s, sq, gy);
}
ew::CosineKernels ew::cosine_baseline() { return {baseline::dot3_row, baseline::cosine_grad_row}; }
void ew::sigmoid_baseline(const float* x, float* p, int64_t count) { baseline::sigmoid_array(x, p, count); }

}  // namespace fuseloss
