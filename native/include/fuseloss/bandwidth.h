// The roofline probe: y[i] = a * x[i] over the thread pool with the same chunking as the kernels. It reads
// and writes the same bytes per element as a fused loss (4 in, 4 out), so its GB/s bound a kernel's speed.
#pragma once
#include <cstdint>

namespace fuseloss {
void scale_copy(const float* x, float* y, int64_t n, float a);
}  // namespace fuseloss

namespace fuseloss {
// Index of the first NaN or ±Infinity in x[0, n), or -1 (nanPolicy 'raise'); fixed chunks on the pool.
int64_t first_non_finite(const float* x, int64_t n);
}  // namespace fuseloss
