// Device-side arguments and launcher of the cross-entropy kernels (shared with the CUDA micro-benchmark).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace fuseloss {
namespace cuda {

// Device pointers and per-call scalars (see ce::KernelArgs for their meaning).
struct DevArgs {
  const float* x;
  const int32_t* ti;
  const float* tp;
  const float* w;
  const float* go;
  const float* sw;
  float* g;
  double* row_loss;
  int64_t n, c, s, ignore_index;
  double eps;
  float keep, spread;
  double wsum, scale;
  bool none;
};

// Enqueues the kernel for these arguments on `stream` (rows kernel for S = 1, C >= 32; lanes kernel otherwise).
void launch(const DevArgs& d, cudaStream_t stream);

}  // namespace cuda
}  // namespace fuseloss
