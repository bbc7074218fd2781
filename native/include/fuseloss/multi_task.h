// Many losses ("tasks") in one call: every task's chunks share the thread pool in one parallel_for per
// phase, each task writes its gradient already multiplied by its weight, and the per-task losses come
// back. The joint loss and the weighting strategies live above this (src/multiTask.ts); the core only
// needs a task's weight before its pass, or (weights that depend on this step's losses) a rule to derive
// them after the loss pass and a rescale pass over the gradients.
#pragma once
#include <cstdint>
#include <vector>

#include "fuseloss/cross_entropy.h"
#include "fuseloss/elementwise.h"
#include "fuseloss/rowwise.h"
#include "fuseloss/status.h"

namespace fuseloss {

// Each family's comment is its TypeScript name; test/losses/nativeCodes.test.ts checks multiTaskLoss.ts's FAMILY.
enum class TaskFamily : int {
  CrossEntropy = 0,          // crossEntropy
  Nll = 1,                   // nllLoss
  Elementwise = 2,           // elementwise
  MultiMargin = 3,           // multiMarginLoss
  MultilabelSoftMargin = 4,  // multilabelSoftMarginLoss
  CosineEmbedding = 5,       // cosineEmbeddingLoss
  SoftF1 = 6,                // softF1Loss
  CosineDistance = 7,        // cosineDistance
  kCount,                    // the number of families (not a family)
};

struct TaskArgs {
  TaskFamily family = TaskFamily::CrossEntropy;
  CrossEntropyArgs ce;  // CrossEntropy, Nll
  ElementwiseArgs ew;   // Elementwise
  RowLossArgs row;      // the row losses
};

// How the weights are found.
//   Fixed:     w_t = 1; the task's own grad_scale (set by the caller to its weight) is applied in its pass.
//   Geometric: after the loss pass, w_t = G / (T·L_t) with G = (Π L_t)^(1/T) over the T non-empty tasks
//              (the chain rule of the geometric mean, GLS).
//   Log:       after the loss pass, w_t = a_t / (L_t - m_t + eps), divided by Σ_t a_t / (L_t - m_t + eps)
//              when `normalize` (log-loss weighting: DB-MTL's loss-scale part, FAMO).
// Geometric and Log rescale the gradients in a second pass over them: g = float(double(g)·w_t).
enum class WeightRule : int { Fixed = 0, Geometric = 1, Log = 2 };

struct MultiTaskArgs {
  std::vector<TaskArgs> tasks;
  WeightRule rule = WeightRule::Fixed;
  std::vector<double> coef, offset;  // Log: a_t and m_t, one per task (empty: 1 and 0)
  double eps = 1e-8;
  bool normalize = false;
};

struct MultiTaskResult {
  std::vector<double> losses;   // each task's reduced loss (0 for an empty task)
  std::vector<double> weights;  // the factor applied after the pass (1 for Fixed; 0 for an empty task)
  std::vector<uint8_t> empty;   // 1: no sample contributed (no elements, every class id ignored); its
                                // gradient is zero and it takes no part in the weights
};

// Checks every task first (nothing is written if any is invalid; the error names the task by index),
// then runs them together. Each task's mean/sum must be a reduction to a scalar (reduction None is refused).
Status multi_task_loss(const MultiTaskArgs& args, MultiTaskResult* result);

// The steps of multi_task_loss, for other backends (CUDA):
// every check of every task and the cross-task aliasing check, nothing run or written;
Status validate_multi_task(const MultiTaskArgs& args);
// the Geometric/Log weights from result->losses and result->empty (Fixed: leaves the weights alone);
void multi_task_rule_weights(const MultiTaskArgs& args, MultiTaskResult* result);
// g = float(double(g)·w) over each span, on the pool.
struct GradSpan {
  float* g;
  int64_t n;
  double w;
};
void multi_task_rescale(const std::vector<GradSpan>& grads);

}  // namespace fuseloss
