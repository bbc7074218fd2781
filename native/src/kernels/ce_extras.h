// The large-vocabulary extras of cross-entropy (Liger-Kernel's): soft-capped logits, z-loss, the per-row
// log-sum-exp and argmax. Row helpers shared by linear_cross_entropy.cc (on a chunk of logits it owns) and
// the cross_entropy plan (on the caller's logits, which stay unmodified: capped values are recomputed).
// Scalar code: these passes run only when an extra is asked for.
#pragma once
#include <cmath>
#include <cstdint>

namespace fuseloss {
namespace ce_extras {

// The soft-capped logit cap·tanh(z / cap), rounded to float32 (cap > 0), or z.
inline float capped(float z, double cap) { return cap > 0 ? float(cap * std::tanh(double(z) / cap)) : z; }

// One row: the (capped) logits into dst (null: not stored; may be z itself), and their log-sum-exp (float32 exp, float64
// sum) and argmax (the first maximum; NaN counts as the maximum, as torch.argmax).
inline void row_stats(const float* z, float* dst, int64_t C, double cap, double* lse, int32_t* argmax) {
  float m = capped(z[0], cap);
  int32_t am = 0;
  for (int64_t j = 0; j < C; ++j) {
    const float v = capped(z[j], cap);
    if (dst) dst[j] = v;
    if (v > m || (std::isnan(v) && !std::isnan(m))) m = v, am = int32_t(j);
  }
  double s = 0.0;
  for (int64_t j = 0; j < C; ++j) s += double(std::exp((dst ? dst[j] : capped(z[j], cap)) - m));  // dst may be z
  *lse = double(m) + std::log(s);
  *argmax = am;
}

// One row's gradient g (d loss / d capped logits on entry): adds the z-loss term zcoef·softmax (zcoef =
// 2·s·lse·scale; 0: none), then applies the soft-cap chain rule (1 − tanh²). `z` holds the capped logits
// when `is_capped`, else the raw ones (capped again here, the same float32 values).
inline void row_post(const float* z, bool is_capped, float* g, int64_t C, double cap, double lse, double zcoef) {
  for (int64_t j = 0; j < C; ++j) {
    const float v = is_capped ? z[j] : capped(z[j], cap);
    double d = double(g[j]);
    if (zcoef != 0.0) d += zcoef * std::exp(double(v) - lse);
    if (cap > 0) {
      const double t = double(v) / cap;
      d *= 1.0 - t * t;
    }
    g[j] = float(d);
  }
}

}  // namespace ce_extras
}  // namespace fuseloss
