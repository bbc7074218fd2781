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
};
Kernels kernels_baseline();
Kernels kernels_avx2();
Kernels kernels_avx512();

}  // namespace red
}  // namespace fuseloss
