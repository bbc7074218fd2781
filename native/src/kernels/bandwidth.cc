#include "fuseloss/bandwidth.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "fuseloss/thread_pool.h"
#include "scan.h"

namespace fuseloss {
namespace {
struct Job {
  const float* x;
  float* y;
  int64_t n, per_chunk;
  float a;
};
void run(void* ctx, size_t i) {
  const Job& j = *static_cast<const Job*>(ctx);
  const int64_t b = int64_t(i) * j.per_chunk, e = std::min(j.n, b + j.per_chunk);
  const float* __restrict x = j.x;
  float* __restrict y = j.y;
  for (int64_t k = b; k < e; ++k) y[k] = j.a * x[k];
}
}  // namespace

void scale_copy(const float* x, float* y, int64_t n, float a) {
  if (n <= 0) return;
  const int64_t per_chunk = 32768;  // the kernels' chunk size
  Job j{x, y, n, per_chunk, a};
  parallel_for(size_t((n + per_chunk - 1) / per_chunk), run, &j);
}
int64_t first_non_finite(const float* x, int64_t n) {
  // finite exactly when the exponent bits are not all ones (bit test: no floating-point compare)
  return first_failing(x, n, [](float v) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    return (u & 0x7f800000u) != 0x7f800000u;
  });
}

}  // namespace fuseloss
