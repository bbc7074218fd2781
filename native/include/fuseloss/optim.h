// Optimizer steps fused into one pass over float32 parameter buffers, with PyTorch's update rules (the
// single-tensor implementations of torch.optim 1.13, which torch uses on the CPU): SGD (momentum,
// dampening, Nesterov, weight decay), Adam (L2 weight decay) and AdamW (decoupled weight decay). Per
// element in float32, in PyTorch's order of operations; the scalars derived from the step count (bias
// corrections) in float64, as PyTorch computes them in Python. Element-wise, so the result does not depend
// on the thread count; AVX2, AVX-512 and baseline give the same bits (no contraction).
#pragma once
#include <cstdint>
#include <vector>

#include "fuseloss/status.h"

namespace fuseloss {

enum class OptimizerKind { Sgd = 0, Adam = 1, AdamW = 2 };

struct OptimizerHyper {
  double lr = 1e-3;
  double momentum = 0.0, dampening = 0.0;         // SGD
  bool nesterov = false;                          // SGD (needs momentum > 0 and dampening 0)
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // Adam, AdamW
  double weight_decay = 0.0;
  bool maximize = false;
  // The step being taken, from 1. SGD: step 1 starts the momentum buffer at the gradient (PyTorch's
  // buf = grad.clone()); Adam/AdamW: the bias corrections 1 - beta^step.
  int64_t step = 1;
};

// One parameter buffer and its state: exp_avg is SGD's momentum buffer or Adam's first moment (needed
// when momentum > 0 or for Adam/AdamW); exp_avg_sq is Adam's second moment (Adam/AdamW only).
struct ParamBuffer {
  float* param = nullptr;
  const float* grad = nullptr;
  float* exp_avg = nullptr;
  float* exp_avg_sq = nullptr;
  int64_t param_len = 0, grad_len = -1, exp_avg_len = -1, exp_avg_sq_len = -1;  // -1: absent
};

struct OptimizerArgs {
  OptimizerKind kind = OptimizerKind::Sgd;
  OptimizerHyper hyper;
  std::vector<ParamBuffer> buffers;
};

// Checks hyper-parameters (PyTorch's ranges), lengths and aliasing; nothing is written when it fails.
Status validate_optimizer(const OptimizerArgs& args);
// Validates, then updates every buffer in place (all buffers in one pool job).
Status optimizer_step(const OptimizerArgs& args);

}  // namespace fuseloss
