#include "fuseloss/bandwidth.h"

#include <algorithm>

#include "fuseloss/thread_pool.h"

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
}  // namespace fuseloss
