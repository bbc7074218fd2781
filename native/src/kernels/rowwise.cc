// Row-coupled losses. Each works in chunks of rows fixed by the shape (never by the thread count) on the
// pool, sums chunk losses in chunk order (float64), and checks sizes and class ids before writing.
// nll and multi-margin and cosine embedding are plain C++ (one or two passes over a row, float64 sums);
// multi-label soft margin runs the SIMD BCE-with-logits kernel; soft F1 sums columns per chunk and adds
// the chunk partials in order.
#include "fuseloss/rowwise.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "checks.h"
#include "cross_entropy_kernel.h"
#include "elementwise_kernel.h"
#include "fuseloss/thread_pool.h"
#include "plans.h"

namespace fuseloss {
namespace {

constexpr int64_t kChunkElems = 32768;

double reduce(Reduction r, double total, double denom) {
  if (r == Reduction::Mean) return total / denom;
  return r == Reduction::Sum ? total : 0.0;
}

// A phase over fixed chunks of rows (about kChunkElems elements each): chunk i runs fn(first_row, end_row)
// and returns its loss sum. fn is copied into the plan, so it must capture by value.
template <class Fn>
LossPlan::Phase row_phase(int64_t rows, int64_t elems_per_row, Fn fn) {
  if (rows <= 0) return {0, nullptr};
  const int64_t per = std::max<int64_t>(1, kChunkElems / std::max<int64_t>(1, elems_per_row));
  const int64_t chunks = (rows + per - 1) / per;
  return {size_t(chunks), [fn, rows, per](size_t i) {
            const int64_t b = int64_t(i) * per;
            return fn(b, std::min(rows, b + per));
          }};
}

// The plan's bookkeeping shared by the row losses.
void finish_rows(LossPlan* plan, const RowLossArgs& a, Reduction r, double denom) {
  plan->finish = [r, denom](double total) { return reduce(r, total, denom); };
  plan->empty = a.n == 0;
  plan->grad = a.grad, plan->grad2 = a.grad2, plan->grad_len = a.n * a.c;
}

// Single-loss entry points: build the plan, run it.
template <class Args, Status (*Plan)(const Args&, LossPlan*)>
Status run_single(const Args& a, double* loss) {
  LossPlan plan;
  Status st = Plan(a, &plan);
  if (st.is_ok()) *loss = run_plan(plan);
  return st;
}

// Common checks of RowLossArgs; `per_row_out` is the length of loss_out / grad_output for 'none'.
Status check_rows(const RowLossArgs& a, int64_t out_len) {
  if (a.n < 0 || a.c < 1 || a.n > (int64_t(1) << 40) || a.c > (int64_t(1) << 40) / std::max<int64_t>(1, a.n))
    return Status::range_error("shape: expected N >= 0 and C >= 1 within the addressable range");
  const int64_t elems = a.n * a.c;
  Status st;
  if (!(st = check_length("input", a.input_len, elems)).is_ok() || !(st = check_length("out.grad", a.grad_len, elems)).is_ok() ||
      !(st = check_length("weight", a.weight ? a.weight_len : -1, a.c)).is_ok() ||
      !(st = check_length("sampleWeight", a.sample_weight ? a.sample_weight_len : -1, a.n)).is_ok())
    return st;
  if (a.grad_output && a.reduction != Reduction::None)
    return Status::type_error("gradOutput: only allowed with reduction 'none' (use gradScale for reduced losses)");
  if (a.grad_output && !(st = check_length("gradOutput", a.grad_output_len, out_len)).is_ok()) return st;
  if (a.reduction == Reduction::None && out_len > 0 && !a.loss_out)
    return Status::type_error("loss: reduction 'none' needs an output Float32Array");
  if (a.loss_out && !(st = check_length("out.loss", a.loss_len, out_len)).is_ok()) return st;
  if (elems > 0 && (!a.input || !a.grad)) return Status::type_error("input and grad are required");
  // A gradient may be its own input (in place) and nothing else.
  const uint64_t eb = uint64_t(elems) * 4, nb = uint64_t(a.n) * 4, tb = uint64_t(a.target_len >= 0 ? a.target_len : 0) * 4;
  for (float* g : {a.grad, a.grad2}) {
    const float* own = g == a.grad ? a.input : a.input2;
    if (g &&
        ((g != own && overlaps(g, eb, own, eb)) || overlaps(g, eb, g == a.grad ? a.input2 : a.input, eb) || overlaps(g, eb, a.target, tb) ||
         overlaps(g, eb, a.target_index, nb) || overlaps(g, eb, a.weight, uint64_t(a.c) * 4) || overlaps(g, eb, a.sample_weight, nb) ||
         overlaps(g, eb, a.grad_output, uint64_t(out_len) * 4) || overlaps(g, eb, a.loss_out, uint64_t(out_len) * 4)))
      return Status::range_error("out.grad: overlaps an input other than its own (in place needs the same array)");
  }
  if (a.grad && a.grad2 && overlaps(a.grad, eb, a.grad2, eb)) return Status::range_error("out.grad2: overlaps out.grad");
  return Status::ok();
}

// Gradient factor of row/label i: the reduction's scale times gradOutput (None) and the sample weight.
struct RowScale {
  double base;
  const float* go;
  const float* sw;
  double operator()(int64_t i) const { return base * (go ? double(go[i]) : 1.0) * (sw ? double(sw[i]) : 1.0); }
};

// The scale of a per-sample loss: the mean's 1/N, grad_output ('none'), the sample weights.
RowScale per_sample_scale(const RowLossArgs& a) {
  return {a.reduction == Reduction::Mean ? a.grad_scale / double(a.n) : a.grad_scale,
          a.reduction == Reduction::None ? a.grad_output : nullptr, a.sample_weight};
}

// A plan of one loss per sample row: row(i) writes row i's gradients and returns its loss, sample
// weight included; the loss goes to loss_out ('none') and into the sum, reduced over N.
template <class RowFn>
Status plan_per_sample(const RowLossArgs& a, LossPlan* plan, int64_t elems_per_row, RowFn row) {
  plan->phases = {row_phase(a.n, elems_per_row, [a, row](int64_t r0, int64_t r1) {
    double sum = 0.0;
    for (int64_t i = r0; i < r1; ++i) {
      const double l = row(i);
      if (a.reduction == Reduction::None) a.loss_out[i] = float(l);
      sum += l;
    }
    return sum;
  })};
  finish_rows(plan, a, a.reduction, double(a.n));
  return Status::ok();
}

}  // namespace

// ---------------------------------------------------------------- nll

Status plan_nll_loss(const CrossEntropyArgs& args, LossPlan* plan) {
  if (args.target_prob || !args.target_index) return Status::type_error("target: expected an Int32Array of class ids");
  if (args.label_smoothing != 0.0) return Status::range_error("nllLoss has no labelSmoothing");
  ce::KernelArgs k;
  double denom = 0.0;
  Status st = ce::prepare(args, &k, &denom);
  if (!st.is_ok()) return st;
  const int64_t C = k.c, S = k.s;
  // Unit: a sample (its [C, S] block): zero it, then set -w_y·scale at each position's target.
  plan->phases = {row_phase(k.n, C * S, [k, C, S](int64_t n0, int64_t n1) {
    double sum = 0.0;
    for (int64_t n = n0; n < n1; ++n) {
      const float* x = k.x + n * C * S;
      float* g = k.g + n * C * S;
      // Blocks of up to 64 positions: read their targets' logits, zero their columns, then write -w·scale
      // at each target (in place safe: a block's logits are read before its gradient is written).
      double x_y[64];
      for (int64_t p0 = 0; p0 < S; p0 += 64) {
        const int64_t pe = std::min(S, p0 + 64);
        for (int64_t p = p0; p < pe; ++p) {
          const int32_t y = k.ti[n * S + p];
          x_y[p - p0] = y == k.ignore_index ? 0.0 : double(x[int64_t(y) * S + p]);
        }
        if (S <= 64)
          std::memset(g, 0, size_t(C * S) * sizeof(float));  // one block: the whole sample
        else
          for (int64_t c = 0; c < C; ++c) std::memset(g + c * S + p0, 0, size_t(pe - p0) * sizeof(float));
        for (int64_t p = p0; p < pe; ++p) {
          const int64_t pos = n * S + p;
          const int32_t y = k.ti[pos];
          if (y == k.ignore_index) {
            if (k.none) k.lo[pos] = 0.0f;
            continue;
          }
          const double w = k.w ? double(k.w[y]) : 1.0, sw = ce::sample_weight(k, pos);
          const double l = -w * x_y[p - p0] * sw;
          const double s = (k.none ? k.scale * (k.go ? double(k.go[pos]) : 1.0) : k.scale) * sw;
          g[int64_t(y) * S + p] = float(-w * s);
          if (k.none) k.lo[pos] = float(l);
          sum += l;
        }
      }
    }
    return sum;
  })};
  const Reduction reduction = args.reduction;
  plan->finish = [reduction, denom](double total) { return ce::reduce(reduction, total, denom); };
  plan->empty = k.n * S == 0 || denom == 0.0;
  plan->grad = args.grad, plan->grad_len = k.n * C * S;
  return Status::ok();
}

Status nll_loss(const CrossEntropyArgs& args, double* loss) { return run_single<CrossEntropyArgs, plan_nll_loss>(args, loss); }

// ---------------------------------------------------------------- multi-class margin (F.multi_margin_loss)

Status plan_multi_margin_loss(const RowLossArgs& a, LossPlan* plan) {
  Status st = check_rows(a, a.n);
  if (!st.is_ok()) return st;
  if (!(st = check_length("target", a.target_len, a.n)).is_ok()) return st;
  if (a.p != 1.0 && a.p != 2.0) return Status::range_error("multiMarginLoss.p: expected 1 or 2");
  if (a.n > 0 && !a.target_index) return Status::type_error("target: expected an Int32Array of class ids");
  for (int64_t i = 0; i < a.n; ++i)
    if (a.target_index[i] < 0 || a.target_index[i] >= a.c)
      return Status::range_error("target[" + std::to_string(i) + "] = " + std::to_string(a.target_index[i]) +
                                 ": expected a class id in [0, " + std::to_string(a.c) + ")");
  const int64_t C = a.c;
  const bool squared = a.p == 2.0;
  const float margin = float(a.margin);
  const RowScale scale = per_sample_scale(a);
  const ew::MarginRowKernel margin_row = ew::active_margin_row();
  plan->phases = {row_phase(a.n, C, [=](int64_t r0, int64_t r1) {
    double sum = 0.0;
    for (int64_t i = r0; i < r1; ++i) {
      const float* x = a.input + i * C;
      float* g = a.grad + i * C;
      const int32_t y = a.target_index[i];
      const float x_y = x[y];
      const double w = a.weight ? double(a.weight[y]) : 1.0;
      const double s = scale(i) * w / double(C);
      double g_y = 0.0;
      double l = margin_row(x, g, C, y, margin - x_y, float(s), squared, &g_y);
      g[y] = float(g_y);
      l = l * w / double(C) * (a.sample_weight ? double(a.sample_weight[i]) : 1.0);
      if (a.reduction == Reduction::None) a.loss_out[i] = float(l);
      sum += l;
    }
    return sum;
  })};
  finish_rows(plan, a, a.reduction, double(a.n));
  return Status::ok();
}

Status multi_margin_loss(const RowLossArgs& a, double* loss) { return run_single<RowLossArgs, plan_multi_margin_loss>(a, loss); }

// ---------------------------------------------------------------- multi-label soft margin

Status plan_multilabel_soft_margin_loss(const RowLossArgs& a, LossPlan* plan) {
  Status st = check_rows(a, a.n);
  if (!st.is_ok()) return st;
  if (!(st = check_length("target", a.target_len, a.n * a.c)).is_ok()) return st;
  if (a.n > 0 && !a.target) return Status::type_error("target: expected a Float32Array");
  // ℓ_i = (1/C)·Σ_c w_c·BCEWithLogits(x_ic, t_ic): the SIMD elementwise kernel with per-class weights and
  // sample weights; reduced forms run over whole chunks, 'none' one row at a time (its own scale).
  ew::KernelArgs k{};
  k.kind = ElementwiseLoss::BceWithLogits;
  k.x = a.input, k.t = a.target, k.g = a.grad, k.lo = nullptr;
  k.numel = a.n * a.c, k.classes = a.c, k.per_sample = a.c;
  k.w = a.weight, k.w_classes = true, k.pw = nullptr, k.sw = a.sample_weight, k.go = nullptr, k.none = false;
  const ew::ChunkKernel kernel = ew::active_kernel();
  const double C = double(a.c);
  if (a.reduction != Reduction::None) {
    const double denom = a.reduction == Reduction::Mean ? double(a.n) * C : C;
    k.scale = float(a.grad_scale / denom);
    const int64_t chunks = (k.numel + ew::kChunk - 1) / ew::kChunk;
    plan->phases = {row_phase(chunks, ew::kChunk, [k, kernel](int64_t c0, int64_t c1) {
      double sum = 0.0;
      for (int64_t c = c0; c < c1; ++c) sum += kernel(k, c * ew::kChunk, std::min(k.numel, (c + 1) * ew::kChunk));
      return sum;
    })};
    finish_rows(plan, a, Reduction::Sum, 0.0);
    const bool mean = a.reduction == Reduction::Mean;
    const double n = double(a.n);
    plan->finish = [mean, n, C](double total) { return mean ? total / (n * C) : total / C; };
    return Status::ok();
  }
  plan->phases = {row_phase(a.n, a.c, [a, k, kernel, C](int64_t r0, int64_t r1) {
    ew::KernelArgs row = k;
    for (int64_t i = r0; i < r1; ++i) {
      row.scale = float(a.grad_scale * (a.grad_output ? double(a.grad_output[i]) : 1.0) / C);
      a.loss_out[i] = float(kernel(row, i * a.c, (i + 1) * a.c) / C);
    }
    return 0.0;
  })};
  finish_rows(plan, a, Reduction::None, 0.0);
  return Status::ok();
}

Status multilabel_soft_margin_loss(const RowLossArgs& a, double* loss) {
  return run_single<RowLossArgs, plan_multilabel_soft_margin_loss>(a, loss);
}

// ---------------------------------------------------------------- cosine embedding (F.cosine_embedding_loss)

Status plan_cosine_embedding_loss(const RowLossArgs& a, LossPlan* plan) {
  Status st = check_rows(a, a.n);
  if (!st.is_ok()) return st;
  if (!(st = check_length("input2", a.input2_len, a.n * a.c)).is_ok() || !(st = check_length("target", a.target_len, a.n)).is_ok() ||
      !(st = check_length("out.grad2", a.grad2_len, a.n * a.c)).is_ok())
    return st;
  if (a.n > 0 && (!a.input2 || !a.target || !a.grad2)) return Status::type_error("input2, target and grad2 are required");
  const int64_t D = a.c;
  const double margin = a.margin;
  const RowScale scale = per_sample_scale(a);
  const ew::CosineKernels cosine = ew::active_cosine();
  plan->phases = {row_phase(a.n, 2 * D, [=](int64_t r0, int64_t r1) {
    double sum = 0.0;
    for (int64_t i = r0; i < r1; ++i) {
      const float* x1 = a.input + i * D;
      const float* x2 = a.input2 + i * D;
      double sums[3];
      cosine.dot3(x1, x2, D, sums);
      double dot = sums[0], m1 = sums[1], m2 = sums[2];
      m1 += 1e-12, m2 += 1e-12;  // PyTorch's EPSILON
      const double denom = std::sqrt(m1 * m2), cos = dot / denom;
      const float t = a.target[i];
      double l = 0.0, dcos = 0.0;
      if (t == 1.0f)
        l = 1.0 - cos, dcos = -1.0;
      else if (t == -1.0f && cos - margin >= 0.0)
        l = cos - margin, dcos = 1.0;  // clamp_min passes the gradient at 0
      const double sw = a.sample_weight ? double(a.sample_weight[i]) : 1.0;
      const double s = scale(i) * dcos;
      float* g1 = a.grad + i * D;
      float* g2 = a.grad2 + i * D;
      // dcos/dx1 = x2/denom - cos·x1/m1, dcos/dx2 = x1/denom - cos·x2/m2 (coefficients in float64, applied
      // in float32)
      cosine.grad(x1, x2, g1, g2, D, float(s / denom), float(s * cos / m1), float(s * cos / m2));
      l *= sw;
      if (a.reduction == Reduction::None) a.loss_out[i] = float(l);
      sum += l;
    }
    return sum;
  })};
  finish_rows(plan, a, a.reduction, double(a.n));
  return Status::ok();
}

Status cosine_embedding_loss(const RowLossArgs& a, double* loss) { return run_single<RowLossArgs, plan_cosine_embedding_loss>(a, loss); }

// ---------------------------------------------------------------- cosine distance (tf.losses.cosineDistance)

Status plan_cosine_distance(const RowLossArgs& a, LossPlan* plan) {
  Status st = check_rows(a, a.n);
  if (!st.is_ok()) return st;
  if (!(st = check_length("target", a.target_len, a.n * a.c)).is_ok()) return st;
  if (a.n > 0 && !a.target) return Status::type_error("target: expected a Float32Array");
  const int64_t D = a.c;
  const RowScale scale = per_sample_scale(a);
  const ew::CosineKernels cosine = ew::active_cosine();
  return plan_per_sample(a, plan, 2 * D, [=](int64_t i) {
    const float* x = a.input + i * D;
    const float* t = a.target + i * D;
    double sums[3];
    cosine.dot3(x, t, D, sums);  // Σ x·t in float64 lanes (the norms are not used)
    // ℓ = 1 − Σ t·x; dℓ/dx = −t, scaled (coefficient in float64, applied in float32)
    const float s = float(-scale(i));
    float* g = a.grad + i * D;
    for (int64_t d = 0; d < D; ++d) g[d] = s * t[d];
    return (1.0 - sums[0]) * (a.sample_weight ? double(a.sample_weight[i]) : 1.0);
  });
}

Status cosine_distance(const RowLossArgs& a, double* loss) { return run_single<RowLossArgs, plan_cosine_distance>(a, loss); }

// ---------------------------------------------------------------- soft F1 (macro over labels)

Status plan_soft_f1_loss(const RowLossArgs& a, LossPlan* plan) {
  Status st = check_rows(a, a.c);
  if (!st.is_ok()) return st;
  if (!(st = check_length("target", a.target_len, a.n * a.c)).is_ok()) return st;
  if (!(a.eps >= 0.0)) return Status::range_error("softF1Loss.eps: expected a number >= 0");
  if (a.n > 0 && !a.target) return Status::type_error("target: expected a Float32Array");
  struct State {
    RowLossArgs a;
    int64_t per, chunks;
    std::vector<double> part, u, v;
    double total = 0.0;
  };
  auto state = std::make_shared<State>();
  State& s = *state;
  s.a = a;
  const int64_t N = a.n, C = a.c;
  s.per = std::max<int64_t>(1, kChunkElems / C), s.chunks = N > 0 ? (N + s.per - 1) / s.per : 0;
  s.part.assign(size_t(s.chunks) * 2 * size_t(C), 0.0);
  s.u.assign(size_t(C), 0.0), s.v.assign(size_t(C), 0.0);
  const ew::SigmoidKernel sigmoid = ew::active_sigmoid();
  // Phase 0: p = sigmoid(x) into grad; per-chunk column sums A = Σ w·p·t and B = Σ w·(p + t).
  LossPlan::Phase sums{size_t(s.chunks), [state, sigmoid](size_t ci) {
                         State& s = *state;
                         const RowLossArgs& a = s.a;
                         const int64_t C = a.c, r0 = int64_t(ci) * s.per, r1 = std::min(a.n, r0 + s.per);
                         double* sa = s.part.data() + ci * 2 * size_t(C);
                         double* sb = sa + C;
                         sigmoid(a.input + r0 * C, a.grad + r0 * C, (r1 - r0) * C);
                         for (int64_t i = r0; i < r1; ++i) {
                           const double w = a.sample_weight ? double(a.sample_weight[i]) : 1.0;
                           const float* pr = a.grad + i * C;
                           const float* t = a.target + i * C;
                           for (int64_t j = 0; j < C; ++j) {
                             sa[j] += w * double(pr[j]) * double(t[j]);
                             sb[j] += w * (double(pr[j]) + double(t[j]));
                           }
                         }
                         return 0.0;
                       }};
  // Phase 1: dℓ/dx = -coef·w·(2·t·B - 2A)/B²·p(1 - p) = w·p(1 - p)·(u_j·t + v_j) with per-label u, v.
  LossPlan::Phase grads{size_t(s.chunks), [state](size_t ci) {
                          const State& s = *state;
                          const RowLossArgs& a = s.a;
                          const int64_t C = a.c, r0 = int64_t(ci) * s.per, r1 = std::min(a.n, r0 + s.per);
                          for (int64_t i = r0; i < r1; ++i) {
                            const double w = a.sample_weight ? double(a.sample_weight[i]) : 1.0;
                            float* g = a.grad + i * C;
                            const float* t = a.target + i * C;
                            for (int64_t j = 0; j < C; ++j) {
                              const double pr = g[j];
                              g[j] = float(w * pr * (1.0 - pr) * (s.u[j] * double(t[j]) + s.v[j]));
                            }
                          }
                          return 0.0;
                        }};
  plan->phases = {std::move(sums), std::move(grads)};
  // Between the phases, per label: F1 = 2A/B, loss 1 - F1; dF1/dp_i = w_i·(2·t_i·B - 2A)/B².
  plan->after = [state](size_t phase, double) {
    if (phase != 0) return;
    State& s = *state;
    const RowLossArgs& a = s.a;
    const int64_t C = a.c;
    std::vector<double> A(size_t(C), 0.0), B(size_t(C), a.eps);
    for (int64_t ci = 0; ci < s.chunks; ++ci)
      for (int64_t j = 0; j < C; ++j) A[j] += s.part[ci * 2 * C + j], B[j] += s.part[ci * 2 * C + C + j];
    const double base = a.reduction == Reduction::Mean ? a.grad_scale / double(C) : a.grad_scale;
    double total = 0.0;
    for (int64_t j = 0; j < C; ++j) {
      const double f1 = 2.0 * A[j] / B[j], l = 1.0 - f1;
      if (a.reduction == Reduction::None) a.loss_out[j] = float(l);
      total += l;
      const double coef = base * (a.grad_output ? double(a.grad_output[j]) : 1.0);
      s.u[j] = -coef * 2.0 / B[j];
      s.v[j] = coef * 2.0 * A[j] / (B[j] * B[j]);
    }
    s.total = total;
  };
  finish_rows(plan, a, a.reduction, double(C));
  const Reduction reduction = a.reduction;
  plan->finish = [state, reduction, C](double) { return reduce(reduction, state->total, double(C)); };
  return Status::ok();
}

Status soft_f1_loss(const RowLossArgs& a, double* loss) { return run_single<RowLossArgs, plan_soft_f1_loss>(a, loss); }

}  // namespace fuseloss
