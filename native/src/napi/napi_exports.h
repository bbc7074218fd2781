#pragma once
#include <napi.h>

#include "fuseloss/cross_entropy.h"
#include "fuseloss/linear.h"
#include "fuseloss/rowwise.h"
#include "fuseloss/multi_task.h"
#include "fuseloss/optim.h"

namespace fuseloss {
namespace napi {
// A backend's cross-entropy: the CPU kernels (fuseloss::cross_entropy) or CUDA (fuseloss::cuda::cross_entropy).
using ComputeFn = Status (*)(const CrossEntropyArgs&, double*);
void register_cross_entropy(Napi::Env env, Napi::Object exports, ComputeFn compute);
// Another kernel with crossEntropy's arguments (nllLoss).
void register_cross_entropy_like(Napi::Env env, Napi::Object exports, const char* name, ComputeFn compute);
void register_rowwise(Napi::Env env, Napi::Object exports);
// The five row losses over a backend's functions (CPU or CUDA).
using RowLossFn = Status (*)(const RowLossArgs&, double*);
struct RowLossFns {
  RowLossFn multi_margin, multilabel_soft_margin, cosine_embedding, soft_f1, cosine_distance;
};
void register_row_losses(Napi::Env env, Napi::Object exports, const RowLossFns& fns);
void register_runtime(Napi::Env env, Napi::Object exports);
void register_elementwise(Napi::Env env, Napi::Object exports);
// A backend's multi-task loss: the CPU (fuseloss::multi_task_loss) or CUDA (fuseloss::cuda::multi_task_loss).
using MultiTaskFn = Status (*)(const MultiTaskArgs&, MultiTaskResult*);
void register_multi_task(Napi::Env env, Napi::Object exports, MultiTaskFn compute);
void register_linear(Napi::Env env, Napi::Object exports);
// linearCrossEntropy (+ Async): a linear head and its cross-entropy in one pass (CPU).
void register_linear_cross_entropy(Napi::Env env, Napi::Object exports);
void register_reduce(Napi::Env env, Napi::Object exports);
// linearForward / linearBackward, gramMatrix / combineGradients over another backend's functions (CUDA).
void register_linear_backend(Napi::Env env, Napi::Object exports, Status (*fwd)(const LinearArgs&, double*),
                             Status (*bwd)(const LinearArgs&, double*), Status (*heads)(const MultiHeadArgs&, double* gram));
using GramFn = Status (*)(const float* const*, int, int64_t, double*);
using CombineFn = Status (*)(const float* const*, int, int64_t, const double*, float*);
// The passes over task gradients of a backend (fuseloss/reduce.h's signatures); `fns` must outlive the addon.
struct GradientFns {
  using GradDrop = Status (*)(const float* const*, int, int64_t, uint64_t, float*);
  using Norm = Status (*)(const float* const*, const int64_t*, int, double, double*);
  using Each = Status (*)(float* const*, const int64_t*, int, float);
  GramFn gram;
  CombineFn combine;
  GradDrop grad_drop;
  Norm total_norm;
  Each scale, clip;
  Status (*accumulate)(double*, const float*, int64_t);    // GradAccumulator.add
  Status (*read)(const double*, int64_t, double, float*);  // GradAccumulator.read
};
void register_gradient_passes(Napi::Env env, Napi::Object exports, const GradientFns* fns);
// optimizerStep(+Async) on `step` (a backend's: the CPU's optimizer_step when null).
void register_optim(Napi::Env env, Napi::Object exports, Status (*step)(const OptimizerArgs&, double*) = nullptr);
}  // namespace napi
}  // namespace fuseloss
