// Internal interface between the optimizer driver (optim.cc) and its per-ISA element loop.
#pragma once
#include <cstdint>

#include "fuseloss/optim.h"

namespace fuseloss {
namespace optim {

// The per-step scalars of one update, already in the precision PyTorch applies them (float), and the
// buffers of one parameter tensor.
struct Step {
  int kind;  // 0 SGD, 1 Adam, 2 AdamW
  float lr, momentum, one_minus_dampening, weight_decay, one_minus_beta1, beta2, one_minus_beta2, eps;
  float neg_step_size, bias_correction2_sqrt, decay;  // Adam/AdamW: -lr / (1 - beta1^t), sqrt(1 - beta2^t); AdamW: 1 - lr·wd
  bool nesterov, maximize, first, has_momentum;
};

// The scalars of the step `a` describes (the backends share them: CPU, CUDA).
Step make_step(const OptimizerArgs& a);

void step_baseline(const Step& s, float* p, const float* g, float* m, float* v, int64_t b, int64_t e);
void step_avx2(const Step& s, float* p, const float* g, float* m, float* v, int64_t b, int64_t e);
void step_avx512(const Step& s, float* p, const float* g, float* m, float* v, int64_t b, int64_t e);

}  // namespace optim
}  // namespace fuseloss
