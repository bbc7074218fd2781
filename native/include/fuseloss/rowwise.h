// Losses whose terms couple the elements of a row (or a column): nll, multi-class margin, multi-label
// soft margin, cosine embedding, soft F1, tfjs's cosine distance. Loss and d(loss)/d(input) in one call, PyTorch semantics.
#pragma once
#include <cstdint>

#include "fuseloss/cross_entropy.h"
#include "fuseloss/status.h"

namespace fuseloss {

// F.nll_loss on log-probabilities [N, C, S] with class ids (label_smoothing and target_prob must be unset).
Status nll_loss(const CrossEntropyArgs& args, double* loss);

// Shared by the losses below: one row per sample.
struct RowLossArgs {
  const float* input = nullptr;           // [N, C]
  const float* input2 = nullptr;          // [N, C] (cosine embedding)
  const int32_t* target_index = nullptr;  // [N] (multi-margin)
  const float* target = nullptr;          // [N, C] (multi-label, soft F1) or [N] (cosine embedding: ±1)
  const float* weight = nullptr;          // [C]
  const float* sample_weight = nullptr;   // [N]
  const float* grad_output = nullptr;     // [N] (soft F1: [C]); reduction None only
  float* grad = nullptr;                  // [N, C]
  float* grad2 = nullptr;                 // [N, C] (cosine embedding)
  float* loss_out = nullptr;              // [N] (soft F1: [C]); reduction None
  int64_t n = 0, c = 0;
  Reduction reduction = Reduction::Mean;
  double grad_scale = 1.0;
  double p = 1.0, margin = 1.0, eps = 1e-8;
  int64_t input_len = -1, input2_len = -1, target_len = -1, weight_len = -1, sample_weight_len = -1, grad_output_len = -1, grad_len = -1,
          grad2_len = -1, loss_len = -1;
};

Status multi_margin_loss(const RowLossArgs& args, double* loss);
Status multilabel_soft_margin_loss(const RowLossArgs& args, double* loss);
Status cosine_embedding_loss(const RowLossArgs& args, double* loss);
Status soft_f1_loss(const RowLossArgs& args, double* loss);
// tf.losses.cosineDistance along the last dim: ℓ_i = 1 − Σ_d t_id·x_id (no normalisation, as tfjs).
Status cosine_distance(const RowLossArgs& args, double* loss);

}  // namespace fuseloss
