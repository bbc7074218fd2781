// Softmax cross-entropy, loss and d(loss)/d(input) in one call, PyTorch's F.cross_entropy semantics.
// Layout: input [N, C, S] where S is the product of spatial dims (S = 1 for [N, C]); class dim second.
#pragma once
#include <cstdint>

#include "fuseloss/status.h"

namespace fuseloss {

enum class Reduction : int { None = 0, Mean = 1, Sum = 2 };

struct CrossEntropyArgs {
  const float* input = nullptr;           // [N, C, S]
  const int32_t* target_index = nullptr;  // [N, S] class ids (exactly one of target_index / target_prob)
  const float* target_prob = nullptr;     // [N, C, S] class probabilities
  const float* weight = nullptr;          // [C] or null
  const float* grad_output = nullptr;     // [N, S], reduction None only; null means ones
  const float* sample_weight = nullptr;   // [N] or null: multiplies each sample's losses and gradients
  float* grad = nullptr;                  // [N, C, S]; may equal input (in place), must not overlap otherwise
  float* loss_out = nullptr;              // [N, S] for reduction None
  int64_t n = 0, c = 0, s = 1;
  int64_t ignore_index = -100;
  double label_smoothing = 0.0;
  Reduction reduction = Reduction::Mean;
  double grad_scale = 1.0;
  // Liger-Kernel's large-vocabulary extras (input [N, C] only; their rules as linear_cross_entropy.h):
  double lse_square_scale = 0.0;  // z-loss: each counted row adds s·lse² (not class-weighted; 'mean' over the count)
  double softcap = 0.0;           // > 0: logits become softcap·tanh(logits / softcap) before the loss
  float* lse_out = nullptr;       // [N] or null: each row's log-sum-exp of the (capped) logits
  bool want_accuracy = false;     // extras_out[1]: share of counted rows whose argmax is the target (class ids)
  double* extras_out = nullptr;   // [2] or null: the z-loss part of the loss (reduced like it) and the accuracy
  int64_t lse_len = -1;
  // Element counts of the caller's buffers, checked against the shape before anything is touched
  // (-1: the caller vouches for the size, as C++ callers of the core may).
  int64_t input_len = -1, target_len = -1, weight_len = -1, grad_output_len = -1, grad_len = -1, loss_len = -1, sample_weight_len = -1;
};

// Validates sizes and class ids before writing anything; on error nothing is written.
// For Mean/Sum the reduced loss goes to *loss; for None, loss_out is filled and *loss is set to 0.
Status cross_entropy(const CrossEntropyArgs& args, double* loss);

}  // namespace fuseloss
