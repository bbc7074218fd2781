// Internal interface between the gradient-reduction drivers (reduce.cc) and their per-ISA block kernels.
#pragma once
#include <cstdint>

namespace fuseloss {
namespace red {

struct Kernels {
  // out[i·T + j] (i ≤ j) = the dot products over [b, e)
  void (*gram)(const float* const* g, int T, int64_t b, int64_t e, double* out);
  void (*combine)(const float* const* g, int T, const double* coef, int64_t b, int64_t e, float* out);
  double (*sumsq)(const float* g, int64_t b, int64_t e);
  // GradDrop over [b, e) (b a multiple of 16): out[k] = the positive or the negative part of the g_t[k]
  void (*grad_drop)(const float* const* g, int T, int64_t b, int64_t e, uint64_t seed, float* out);
};
Kernels kernels_baseline();
Kernels kernels_avx2();
Kernels kernels_avx512();

}  // namespace red
}  // namespace fuseloss
