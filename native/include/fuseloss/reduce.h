// Passes over task gradients for multi-task gradient reduction: the Gram matrix of T gradients, a
// linear combination of them, GradDrop's sign-consistent masking, norms, scaling, clipping and float64
// accumulation. Every sum is float64, split into fixed blocks and added in block order: the same bits
// for any thread count and every ISA level. The small T×T decisions (which combination) are made above
// (src/combine.ts); every pass over gradient memory runs here.
#pragma once
#include <cstddef>
#include <cstdint>

#include "fuseloss/status.h"

namespace fuseloss {

// The checks of T same-length task gradients (1 <= T <= 4096, present, not overlapping `out`; `writes`: out
// is required), shared with the CUDA backend.
Status check_task_grads(const float* const* grads, int T, int64_t n, const float* out, bool writes);

// The checks of a list of arrays (lengths in range, present; `distinct`: no two overlap), shared with CUDA.
Status check_array_list(const void* const* arrays, const int64_t* lengths, int count, bool distinct);

// out[i·T + j] = g_i · g_j (T×T, symmetric), one read of the gradients.
Status gram_matrix(const float* const* grads, int T, int64_t n, double* out);

// out[k] = float(Σ_t coef[t]·grads[t][k]); out must not overlap the gradients.
Status combine_gradients(const float* const* grads, int T, int64_t n, const double* coef, float* out);

// GradDrop (Chen et al. 2020): per element, P = ½(1 + Σ_t g_t / Σ_t |g_t|) and u ~ U(0, 1) from a
// counter-based hash of (seed, k) (the same u for any thread count); out = Σ of the positive g_t where
// P > u, else of the negative ones (a NaN belongs to both, so it propagates).
Status grad_drop(const float* const* grads, int T, int64_t n, uint64_t seed, float* out);

// DB-MTL's gradient EMA, in place: buffers[t][k] = float((1 − keep)·grads[t][k] + keep·buffers[t][k]) (the
// combine pass's float64 arithmetic with coefficients {1 − keep, keep}), and norms[t] = ‖buffers[t]‖₂ of
// the updated values (total_norm's blocks and order, so its bits), in one pass over each pair: the norm's
// read of a pool chunk comes from cache, right after its update. T buffers and T gradients of n elements;
// a buffer must not overlap another buffer or any gradient (gradients may share memory).
Status ema_update(float* const* buffers, const float* const* grads, int T, int64_t n, double keep, double* norms);

// The p-norm (p > 0, or +inf) of all elements of all arrays together.
Status total_norm(const float* const* arrays, const int64_t* lengths, int count, double p, double* out);
// The p-norm from partial sums of |x|^p (or partial maxima for p = ∞), combined in order; shared with CUDA.
double norm_from_partials(const double* partial, size_t count, double p);
// arrays *= factor (float32 multiply, as PyTorch's clip_grad_norm_).
Status scale_arrays(float* const* arrays, const int64_t* lengths, int count, float factor);
// Clamps every element to [-value, value] (NaN stays NaN).
Status clip_values(float* const* arrays, const int64_t* lengths, int count, float value);

// acc[k] += g[k] (float64 accumulator); read: out[k] = float(acc[k] / divisor).
Status accumulate_f64(double* acc, const float* g, int64_t n);
Status read_f64(const double* acc, int64_t n, double divisor, float* out);

}  // namespace fuseloss
