// A linear head and its softmax cross-entropy in one call, the logits never materialised whole: PyTorch's
// F.linear_cross_entropy(input, weight, target, bias, …) — cross_entropy(linear(input, weight, bias), target)
// — with its gradients. The rows are walked in chunks; each chunk's logits live in a buffer of chunk × C
// floats, their loss and gradient are computed there (the cross-entropy kernels of cross_entropy.h, same
// per-row arithmetic), and the chunk's gradient becomes gradInput rows and is added into gradWeight /
// gradBias while it is still in cache. Also the large-vocabulary extras of Liger-Kernel: z-loss
// (lse_square_scale · lse² per counted row), soft-capped logits (cap · tanh(z / cap)), the per-row lse and
// the argmax accuracy. Float32 data; GEMM sums in float32 FMA (as linear.h), losses and bias sums in
// float64. The chunk size comes from the shape (or the caller), never from the thread count, so results
// carry the same bits for any thread count.
#pragma once
#include <cstdint>

#include "fuseloss/cross_entropy.h"
#include "fuseloss/status.h"

namespace fuseloss {

struct LinearCrossEntropyArgs {
  int64_t n = 0, h = 0, c = 0;            // rows, features, classes
  const float* input = nullptr;           // [N, H]
  const float* weight = nullptr;          // [C, H] (PyTorch's Linear layout)
  const float* bias = nullptr;            // [C] or null
  const int32_t* target_index = nullptr;  // [N] class ids (exactly one of target_index / target_prob)
  const float* target_prob = nullptr;     // [N, C] class probabilities
  const float* class_weight = nullptr;    // [C] or null
  const float* sample_weight = nullptr;   // [N] or null: multiplies each row's loss and gradient
  const float* grad_output = nullptr;     // [N], reduction None only; null means ones
  int64_t ignore_index = -100;
  double label_smoothing = 0.0;
  Reduction reduction = Reduction::Mean;
  double grad_scale = 1.0;
  double lse_square_scale = 0.0;  // z-loss: each counted row adds s·lse² (not class-weighted; 'mean' divides by the count)
  double softcap = 0.0;           // > 0: logits become softcap·tanh(logits / softcap) before the loss
  int64_t chunk_rows = 0;         // rows per chunk (0: chosen from C)
  bool accumulate = false;        // add into grad_input / grad_weight / grad_bias instead of overwriting
  bool want_accuracy = false;     // compute result->accuracy (a row max pass; class ids only)
  float* grad_input = nullptr;    // [N, H] or null (not computed)
  float* grad_weight = nullptr;   // [C, H] or null
  float* grad_bias = nullptr;     // [C] or null
  float* loss_out = nullptr;      // [N], reduction None
  float* lse_out = nullptr;       // [N] or null: log-sum-exp of each row's (capped) logits
  // Element counts of the caller's buffers (-1: unchecked).
  int64_t input_len = -1, weight_len = -1, bias_len = -1, target_len = -1, class_weight_len = -1, sample_weight_len = -1,
          grad_output_len = -1, grad_input_len = -1, grad_weight_len = -1, grad_bias_len = -1, loss_len = -1, lse_len = -1;
};

struct LinearCrossEntropyResult {
  double loss = 0.0;      // reduced loss (cross-entropy + z-loss); 0 for None
  double z_loss = 0.0;    // the z-loss part, reduced like the loss (for None: its sum)
  double accuracy = 0.0;  // share of counted rows whose argmax is the target (class ids; NaN when none counts)
};

// Rows per chunk for C classes when the caller names none: about 24 MiB of logits, at least 16 rows.
int64_t linear_cross_entropy_chunk_rows(int64_t c);

// Checks every size, class id and overlap before anything is written, then computes.
Status linear_cross_entropy(const LinearCrossEntropyArgs& args, LinearCrossEntropyResult* result);

}  // namespace fuseloss
