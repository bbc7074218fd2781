// Linear heads y = x·Wᵀ + b (PyTorch's nn.Linear layout: W is [out, in]) and their backward pass, on the
// library's own blocked, multi-threaded GEMM (no BLAS at run time). Float32 data; GEMM sums accumulate in
// float32 with fused multiply-add, like BLAS (AVX2 and AVX-512 give the same bits; baseline SSE2 has no
// FMA and rounds twice); bias sums accumulate in float64. Results do not depend on the thread count.
#pragma once
#include <cstdint>
#include <vector>

#include "fuseloss/status.h"

namespace fuseloss {

struct LinearArgs {
  int64_t batch = 0, in = 0, out = 0;
  const float* x = nullptr;         // [batch, in]
  const float* weight = nullptr;    // [out, in]
  const float* bias = nullptr;      // [out] or null (forward)
  const float* grad_out = nullptr;  // [batch, out] (backward)
  float* y = nullptr;               // [batch, out] (forward)
  float* grad_weight = nullptr;     // [out, in]  = grad_outᵀ·x   (null: not computed)
  float* grad_bias = nullptr;       // [out]      = Σ_b grad_out  (null: not computed)
  float* grad_input = nullptr;      // [batch, in] = grad_out·W   (null: not computed)
  bool accumulate = false;          // add into grad_weight / grad_bias / grad_input instead of overwriting
  // Element counts of the caller's buffers (-1: unchecked).
  int64_t x_len = -1, weight_len = -1, bias_len = -1, grad_out_len = -1, y_len = -1, grad_weight_len = -1, grad_bias_len = -1,
          grad_input_len = -1;
};

// The size and aliasing checks of linear_forward (forward) or linear_backward, shared with the CUDA backend.
Status check_linear(const LinearArgs& args, bool forward);

// y = x·Wᵀ + b. Checks sizes and aliasing before writing.
Status linear_forward(const LinearArgs& args);
// gradWeight, gradBias and gradInput (whichever are non-null). Checks sizes and aliasing before writing.
Status linear_backward(const LinearArgs& args);

// Several linear heads on the same features x [batch, in] (multi-task heads): every head's GEMMs share
// one pool job; then, when `gram` is non-null, the T×T Gram matrix of the heads' gradInputs (the task
// gradients on the shared representation). The bits of each head's results are those of linear_backward.
struct HeadArgs {
  int64_t out = 0;
  const float* weight = nullptr;    // [out, in]
  const float* grad_out = nullptr;  // [batch, out]
  float* grad_weight = nullptr;     // [out, in] or null
  float* grad_bias = nullptr;       // [out] or null
  float* grad_input = nullptr;      // [batch, in] or null
  int64_t weight_len = -1, grad_out_len = -1, grad_weight_len = -1, grad_bias_len = -1, grad_input_len = -1;
};
struct MultiHeadArgs {
  int64_t batch = 0, in = 0;
  const float* x = nullptr;
  int64_t x_len = -1;
  bool accumulate = false;
  std::vector<HeadArgs> heads;
};
Status multi_head_backward(const MultiHeadArgs& args, double* gram);
// multi_head_backward's checks (sizes, aliasing across heads; every gradInput when `gram`), and each head's
// LinearArgs; shared with the CUDA backend.
Status check_multi_head(const MultiHeadArgs& args, bool gram, std::vector<LinearArgs>* heads);

// Single-thread float32 FMA peak of the active ISA level in GFLOP/s (the benchmarks' GEMM roofline).
double fma_peak_gflops(double milliseconds);
// The same on every pool thread at once: the aggregate rate of all threads (GFLOP/s).
double fma_peak_all_gflops(double milliseconds);

}  // namespace fuseloss
