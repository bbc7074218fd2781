// Elementwise losses: loss and d(loss)/d(input) in one pass, PyTorch semantics. Input and target have the
// same shape; weights broadcast per element, per last dim ("class") or per sample (first dim).
#pragma once
#include <cstdint>

#include "fuseloss/cross_entropy.h"  // Reduction
#include "fuseloss/status.h"

namespace fuseloss {

// Every elementwise kind, once: X(Name, code, typeScriptName). The enum below and the CPU and CUDA
// dispatch switches are generated from this list, so a new kind is its line here and its formula in
// native/src/kernels/elementwise_ops.inc (test/losses/nativeCodes.test.ts checks the codes against the op
// table, src/losses/ops.ts).
// clang-format off
#define FUSELOSS_ELEMENTWISE_KINDS(X) \
  X(Mse, 0, mseLoss)                                /* (x - t)² */ \
  X(L1, 1, l1Loss)                                  /* |x - t| */ \
  X(SmoothL1, 2, smoothL1Loss)                      /* p0 = beta */ \
  X(Huber, 3, huberLoss)                            /* p0 = delta */ \
  X(Bce, 4, binaryCrossEntropy)                     /* binary cross-entropy on probabilities, logs clamped at -100 */ \
  X(BceWithLogits, 5, binaryCrossEntropyWithLogits) /* pos_weight optional */ \
  X(HingeEmbedding, 6, hingeEmbeddingLoss)          /* p0 = margin */ \
  X(KlDiv, 7, klDiv)                                /* flag = log_target */ \
  X(PoissonNll, 8, poissonNllLoss)                  /* flag = log_input, flag2 = full, p0 = eps */ \
  X(SigmoidFocal, 9, sigmoidFocalLoss)              /* p0 = alpha (< 0: no alpha weighting), p1 = gamma */ \
  X(Hinge, 10, hingeLoss)                           /* tf.losses.hingeLoss: labels 0/1 as ±1, max(0, 1 − (2t − 1)·x) */ \
  X(LogLoss, 11, logLoss)                           /* tf.losses.logLoss: −t·log(x + p0) − (1 − t)·log(1 − x + p0), p0 = epsilon */ \
  X(SoftMargin, 12, softMarginLoss)                 /* log(1 + exp(−t·x)), targets ±1 */

enum class ElementwiseLoss : int {
#define FUSELOSS_EW_ENUM(name, code, ts) name = code,
  FUSELOSS_ELEMENTWISE_KINDS(FUSELOSS_EW_ENUM)
#undef FUSELOSS_EW_ENUM
  kCount,  // the number of kinds (not a kind): bounds for checks and the fuzz target
};
// clang-format on

struct ElementwiseArgs {
  ElementwiseLoss kind = ElementwiseLoss::Mse;
  const float* input = nullptr;
  const float* target = nullptr;
  float* grad = nullptr;      // may equal input (in place)
  float* loss_out = nullptr;  // reduction None
  int64_t numel = 0;
  int64_t samples = 1;            // size of the first dim (sampleWeight, 'batchmean')
  int64_t classes = 1;            // size of the last dim (per-class weight / posWeight)
  const float* weight = nullptr;  // numel (per element) or classes (per last dim)
  int64_t weight_len = 0;
  const float* pos_weight = nullptr;     // classes
  const float* sample_weight = nullptr;  // samples
  const float* grad_output = nullptr;    // numel, reduction None
  Reduction reduction = Reduction::Mean;
  bool batchmean = false;  // klDiv: sum / samples
  double grad_scale = 1.0;
  double p0 = 0.0, p1 = 0.0;
  bool flag = false, flag2 = false;
  // The caller checked the input's domain itself (binaryCrossEntropy's [0, 1]; the CUDA backend does it on
  // the device for device-resident input): the one check that reads data is skipped.
  bool input_checked = false;
  // Element counts of the caller's buffers, checked before anything is touched (-1: unchecked).
  int64_t input_len = -1, target_len = -1, grad_len = -1, loss_len = -1, pos_weight_len = -1, sample_weight_len = -1, grad_output_len = -1;
};

Status elementwise_loss(const ElementwiseArgs& args, double* loss);

}  // namespace fuseloss
