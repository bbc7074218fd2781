// Per-row math of softmax cross-entropy, shared by the CPU kernels and the CUDA kernels
// (FUSELOSS_HD = __host__ __device__ under nvcc), so the CPU tests cover the formulas the GPU runs.
//
// For one row (or one spatial position) with logits x, m = max x, sum = Σ exp(x - m), lse = m + log(sum),
// p = exp(x - m) / sum, smoothing ε, class weights w (all ones if none, Wsum = Σ w), scale s:
//   class-index target y:    loss = (1-ε)·w_y·(lse - x_y) + (ε/C)·(Wsum·lse - Σ w_c·x_c)
//                            grad_c = a·e_c - b_c,  a = s·((1-ε)·w_y + (ε/C)·Wsum)/sum,
//                                                   b_c = s·(ε/C)·w_c + [c = y]·s·(1-ε)·w_y
//   probability target t:    q_c = w_c·((1-ε)·t_c + ε/C),  T = Σ q_c,  Q = Σ q_c·x_c
//                            loss = T·lse - Q,  grad_c = a·e_c - s·q_c,  a = s·T/sum
// These are PyTorch's F.cross_entropy (log_softmax + nll_loss + its label-smoothing term) rewritten so
// that one pass computes them. Sums are float64; per-element work is float32.
#pragma once
#include <cmath>

#include "hd.h"

namespace fuseloss {
namespace ce {

struct IndexRowCoef {
  double loss;
  float a;    // multiplies e_c = exp(x_c - m)
  float b;    // s·(ε/C): multiplies w_c (or is the constant when unweighted)
  float hit;  // subtracted at the target class
};

// sum_wx = Σ w_c·x_c (Σ x_c unweighted); only read when eps > 0.
FUSELOSS_HD static inline IndexRowCoef index_row(double m, double sum, double x_y, double w_y, double wsum, double sum_wx, double eps,
                                                 double c, double s) {
  const double lse = m + log(sum);
  double loss = (1.0 - eps) * w_y * (lse - x_y);
  if (eps > 0.0) loss += (eps / c) * (wsum * lse - sum_wx);
  IndexRowCoef r;
  r.loss = loss;
  r.a = float(s * ((1.0 - eps) * w_y + (eps / c) * wsum) / sum);
  r.b = float(s * eps / c);
  r.hit = float(s * (1.0 - eps) * w_y);
  return r;
}

struct ProbRowCoef {
  double loss;
  float a;  // multiplies e_c
  float s;  // multiplies q_c
};

FUSELOSS_HD static inline ProbRowCoef prob_row(double m, double sum, double t_sum, double qx_sum, double s) {
  const double lse = m + log(sum);
  ProbRowCoef r;
  r.loss = t_sum * lse - qx_sum;
  r.a = float(s * t_sum / sum);
  r.s = float(s);
  return r;
}

// q_c = w_c·((1-ε)·t_c + ε/C), in float32 as PyTorch forms the smoothed target.
FUSELOSS_HD static inline float smoothed_target(float t, float keep, float spread) { return t * keep + spread; }

}  // namespace ce
}  // namespace fuseloss
