// Device-side pieces of the row losses (rowwise.cu), shared with MultiTaskLoss on CUDA (multi_task.cu).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

#include "fuseloss/cuda.h"
#include "fuseloss/rowwise.h"
#include "fuseloss/status.h"

namespace fuseloss {
namespace cuda {

// Device pointers and per-call scalars of the row kernels.
struct RowDev {
  const float *x, *x2, *t, *w, *sw, *go;
  const int32_t* ti;
  float *g, *g2, *lo;
  double* row_loss;  // per row (per label for soft F1)
  double* uv;        // soft F1: A, B, then u, v per label
  int64_t n, c;
  double base;  // the reduction's gradient scale (gradScale, over N for the mean)
  float margin;
  bool squared, none;
  double eps;
};

// The arguments with multiMargin's device-resident class ids read back to host memory (kept in ids), so the
// CPU planner's checks can read them; refuses a gradient that is those ids.
Status mirror_row_args(const RowLossArgs& args, RowLossArgs* h, std::vector<char>* ids);
// How many float64 loss partials the kernels write to row_loss: N (rows), or C (labels) for soft F1.
int64_t row_partials(RowKind kind, const RowLossArgs& args);
// RowDev::base for these arguments (the gradient scale over N for the mean).
double row_base(const RowLossArgs& args);
// Enqueues the loss's kernels (N·C > 0 except for soft F1); the partials' sum reduces with row_reduce.
void launch_rows(RowKind kind, const RowLossArgs& args, const RowDev& a, cudaStream_t stream);
// The loss from the sum of the partials (PyTorch's reduction of the loss).
double row_reduce(RowKind kind, const RowLossArgs& args, double sum);

}  // namespace cuda
}  // namespace fuseloss
