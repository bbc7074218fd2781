// Device-side arguments and launcher of the cross-entropy kernels (shared with the CUDA micro-benchmark).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "fuseloss/cross_entropy.h"
#include "fuseloss/status.h"

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
// nllLoss on log-probabilities (class ids; per-position losses into row_loss, the gradient zeroed and set).
void launch_nll(const DevArgs& d, cudaStream_t stream);

// The arguments with their device-resident class ids and class weights mirrored to host memory (kept in
// ids/weights), so ce::prepare's checks can read them; also refuses a gradient that is one of them.
Status mirror_ce_args(const CrossEntropyArgs& args, CrossEntropyArgs* h, std::vector<char>* ids, std::vector<char>* weights);

}  // namespace cuda
}  // namespace fuseloss
