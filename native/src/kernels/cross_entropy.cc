// Cross-entropy driver: checks every size and class id before anything is written, computes the mean's
// denominator from the targets (so the single pass can scale gradients), splits the work into chunks
// sized from the problem alone (never from the thread count), runs the chunk kernel of the active ISA
// on the pool, and adds the chunk losses in chunk order: identical bits for any thread count.
#include "fuseloss/cross_entropy.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "ce_extras.h"
#include "checks.h"
#include "cross_entropy_kernel.h"
#include "fuseloss/cpu.h"
#include "fuseloss/thread_pool.h"
#include "loss_plan.h"
#include "plans.h"

namespace fuseloss {
namespace {

// About 128 KiB of logits per chunk: large enough to amortise scheduling, small enough to balance.
constexpr int64_t kChunkElems = 32768;

ce::ChunkKernel kernel_for(Isa isa) { return ce::chunk_kernel(isa); }

}  // namespace

ce::ChunkKernel ce::chunk_kernel(Isa isa) {
  switch (isa) {
    case Isa::Avx512:
      return ce::chunk_avx512;
    case Isa::Avx2:
      return ce::chunk_avx2;
    default:
      return ce::chunk_baseline;
  }
}

Status ce::prepare(const CrossEntropyArgs& a, ce::KernelArgs* out, double* denominator) {
  // ---- shapes
  if (a.n < 0 || a.c < 1 || a.s < 0)
    return Status::range_error("shape: expected N >= 0, C >= 1 and spatial dims >= 0, got N=" + std::to_string(a.n) +
                               ", C=" + std::to_string(a.c) + ", S=" + std::to_string(a.s));
  const int64_t kMax = int64_t(1) << 50;  // far beyond any buffer; keeps every product below 2^63
  if (a.c > kMax || a.s > kMax || a.n > kMax || (a.s && a.n > kMax / a.s) || (a.n * a.s != 0 && a.c > kMax / (a.n * a.s)))
    return Status::range_error("shape: element count overflows");
  const int64_t positions = a.n * a.s, elems = positions * a.c;
  auto length_error = [&](const char* name, int64_t got, int64_t want, const char* what) {
    return Status::range_error(std::string(name) + ": expected " + std::to_string(want) + " elements (" + what + ") but received " +
                               std::to_string(got));
  };
  const std::string shape_txt = "N*C*S = " + std::to_string(a.n) + "*" + std::to_string(a.c) + "*" + std::to_string(a.s);
  const std::string pos_txt = "N*S = " + std::to_string(a.n) + "*" + std::to_string(a.s);
  if (a.input_len >= 0 && a.input_len != elems) return length_error("input", a.input_len, elems, shape_txt.c_str());
  if (a.grad_len >= 0 && a.grad_len != elems) return length_error("out.grad", a.grad_len, elems, shape_txt.c_str());
  if (a.target_len >= 0) {
    const int64_t want = a.target_index ? positions : elems;
    if (a.target_len != want) return length_error("target", a.target_len, want, a.target_index ? pos_txt.c_str() : shape_txt.c_str());
  }
  if (a.weight && a.weight_len >= 0 && a.weight_len != a.c) return length_error("weight", a.weight_len, a.c, "C");
  if (a.sample_weight && a.sample_weight_len >= 0 && a.sample_weight_len != a.n)
    return length_error("sampleWeight", a.sample_weight_len, a.n, "N");
  if (a.grad_output && a.grad_output_len >= 0 && a.grad_output_len != positions)
    return length_error("gradOutput", a.grad_output_len, positions, pos_txt.c_str());
  if (a.loss_out && a.loss_len >= 0 && a.loss_len != positions) return length_error("out.loss", a.loss_len, positions, pos_txt.c_str());
  if (!a.input && elems) return Status::type_error("input: expected a Float32Array");
  if (!a.grad && elems) return Status::type_error("grad: expected an output Float32Array");
  if ((a.target_index == nullptr) == (a.target_prob == nullptr) && elems)
    return Status::type_error("target: expected an Int32Array of class ids or a Float32Array of probabilities");
  if (a.reduction != Reduction::None && a.reduction != Reduction::Mean && a.reduction != Reduction::Sum)
    return Status::range_error("reduction: expected 'mean', 'sum' or 'none'");
  if (!(a.label_smoothing >= 0.0 && a.label_smoothing <= 1.0))
    return Status::range_error("labelSmoothing: expected a number in [0, 1], got " + std::to_string(a.label_smoothing));
  if (a.reduction == Reduction::None && !a.loss_out && positions)
    return Status::type_error("loss: reduction 'none' needs an output Float32Array of N*S elements");
  if (a.grad_output && a.reduction != Reduction::None)
    return Status::type_error("gradOutput: only allowed with reduction 'none' (use gradScale for reduced losses)");
  // In place is the only allowed overlap of the gradient with an input.
  const size_t bytes = size_t(elems) * sizeof(float);
  if (a.grad != a.input && overlaps(a.grad, bytes, a.input, bytes))
    return Status::range_error("out.grad: overlaps input without being the same array (in place needs the same array)");
  if (overlaps(a.grad, bytes, a.target_prob, bytes) || overlaps(a.grad, bytes, a.target_index, size_t(positions) * 4) ||
      overlaps(a.grad, bytes, a.weight, size_t(a.c) * 4) || overlaps(a.grad, bytes, a.grad_output, size_t(positions) * 4) ||
      overlaps(a.grad, bytes, a.loss_out, size_t(positions) * 4) || overlaps(a.grad, bytes, a.sample_weight, size_t(a.n) * 4))
    return Status::range_error("out.grad: must not overlap target, weights, gradOutput or the loss output");

  // ---- class ids and the mean's denominator (PyTorch: Σ w[y] over non-ignored targets; N·S for probabilities)
  double denom = double(positions);
  if (a.target_index) {
    double w_total = 0.0;
    for (int64_t i = 0; i < positions; ++i) {
      const int32_t y = a.target_index[i];
      if (y == a.ignore_index) continue;
      if (y < 0 || y >= a.c)
        return Status::range_error("target[" + std::to_string(i) + "] = " + std::to_string(y) + ": expected a class id in [0, " +
                                   std::to_string(a.c) + ") or ignoreIndex (" + std::to_string(a.ignore_index) + ")");
      w_total += a.weight ? double(a.weight[y]) : 1.0;
    }
    denom = w_total;
  }

  ce::KernelArgs k{};
  k.x = a.input, k.ti = a.target_index, k.tp = a.target_prob, k.w = a.weight, k.go = a.grad_output, k.sw = a.sample_weight;
  k.g = a.grad, k.lo = a.loss_out;
  k.n = a.n, k.c = a.c, k.s = a.s;
  k.ignore_index = a.ignore_index;
  k.eps = a.label_smoothing;
  k.keep = float(1.0 - a.label_smoothing), k.spread = float(a.label_smoothing / double(a.c));
  k.none = a.reduction == Reduction::None;
  double wsum = double(a.c);
  if (a.weight) {
    wsum = 0.0;
    for (int64_t c = 0; c < a.c; ++c) wsum += double(a.weight[c]);
  }
  k.wsum = wsum;
  // Mean with a zero denominator: the loss is NaN (0/0), and so is every gradient a counted row
  // receives (its weight is 0·∞), as in PyTorch; rows that are all ignored keep a zero gradient.
  k.scale = a.reduction == Reduction::Mean ? a.grad_scale / denom : a.grad_scale;
  *out = k;
  *denominator = denom;
  return Status::ok();
}

double ce::reduce(Reduction reduction, double total, double denominator) {
  if (reduction == Reduction::Mean) return total / denominator;
  if (reduction == Reduction::Sum) return total;
  return 0.0;
}

namespace {

// The extras' plan (ce_extras.h): phase 0 the rows' (capped) logits, lse and argmax — capped values go to the
// gradient buffer, where phase 1's kernel then runs in place; phase 2 the z-loss gradient and the soft-cap
// chain rule, the capped logits recomputed from the caller's (unmodified) input; then, serially in row
// order, the z-loss sum, the accuracy and the lse output.
Status plan_extras(const CrossEntropyArgs& a, LossPlan* plan) {
  if (a.s != 1) return Status::range_error("softcap, lseSquareScale and the lse / accuracy outputs need input [N, C] (no spatial dims)");
  if (a.grad == a.input && a.n * a.c != 0)
    return Status::range_error("out.grad: softcap and lseSquareScale need the input intact (no inplace)");
  if (!(a.softcap >= 0.0) || !std::isfinite(a.softcap)) return Status::range_error("softcap: expected a finite number > 0");
  if (!std::isfinite(a.lse_square_scale)) return Status::range_error("lseSquareScale: expected a finite number");
  if (a.lse_out && a.lse_len >= 0 && a.lse_len != a.n)
    return Status::range_error("out.lse: expected " + std::to_string(a.n) + " elements (N) but received " + std::to_string(a.lse_len));
  const uint64_t gb = uint64_t(a.n * a.c) * 4, lb = uint64_t(a.n) * 4;
  if (overlaps(a.lse_out, lb, a.grad, gb) || overlaps(a.lse_out, lb, a.input, gb) || overlaps(a.lse_out, lb, a.loss_out, lb))
    return Status::range_error("out.lse: overlaps another array");
  struct State {
    ce::KernelArgs k;
    ce::ChunkKernel kernel;
    int64_t units, per_chunk, rows;
    std::vector<double> lse;
    std::vector<int32_t> argmax;
    double denom, count, z_coef_base, z_part = 0.0;
    CrossEntropyArgs args;
  };
  auto state = std::make_shared<State>();
  double denom = 0.0;
  Status st = ce::prepare(a, &state->k, &denom);
  if (!st.is_ok()) return st;
  State& s = *state;
  s.args = a;
  s.rows = a.n;
  try {
    s.lse.assign(size_t(a.n), 0.0), s.argmax.assign(size_t(a.n), 0);
  } catch (const std::bad_alloc&) {
    return Status::internal("out of memory allocating crossEntropy's row statistics");
  }
  s.denom = denom;
  int64_t cnt = a.n;
  if (a.target_index) {
    cnt = 0;
    for (int64_t i = 0; i < a.n; ++i) cnt += a.target_index[i] != a.ignore_index;
  }
  s.count = double(cnt);
  s.z_coef_base = 2.0 * a.lse_square_scale * a.grad_scale / (a.reduction == Reduction::Mean ? s.count : 1.0);
  if (a.softcap > 0) s.k.x = a.grad;  // phase 0 writes the capped logits there; the kernel runs in place
  s.kernel = kernel_for(active_isa());
  s.units = ce::unit_count(s.k);
  s.per_chunk = std::max<int64_t>(1, kChunkElems / ce::unit_elems(s.k));
  const int64_t chunks = s.units > 0 ? (s.units + s.per_chunk - 1) / s.per_chunk : 0;
  const size_t row_chunks = size_t((a.n + 15) / 16);
  plan->phases = {
      {row_chunks,
       [state](size_t i) {
         State& s = *state;
         const CrossEntropyArgs& a = s.args;
         for (int64_t r = int64_t(i) * 16, e = std::min(s.rows, r + 16); r < e; ++r)
           ce_extras::row_stats(a.input + r * a.c, a.softcap > 0 ? a.grad + r * a.c : nullptr, a.c, a.softcap, &s.lse[size_t(r)],
                                &s.argmax[size_t(r)]);
         return 0.0;
       }},
      {size_t(chunks),
       [state](size_t i) {
         const State& s = *state;
         const int64_t begin = int64_t(i) * s.per_chunk;
         return s.kernel(s.k, begin, std::min(s.units, begin + s.per_chunk));
       }},
      {row_chunks,
       [state](size_t i) {
         State& s = *state;
         const CrossEntropyArgs& a = s.args;
         for (int64_t r = int64_t(i) * 16, e = std::min(s.rows, r + 16); r < e; ++r) {
           double coef = 0.0;
           if (a.lse_square_scale != 0.0 && (!a.target_index || a.target_index[r] != a.ignore_index)) {
             coef = s.z_coef_base * s.lse[size_t(r)];
             if (a.sample_weight) coef *= double(a.sample_weight[r]);
             if (a.reduction == Reduction::None && a.grad_output) coef *= double(a.grad_output[r]);
           }
           if (coef != 0.0 || a.softcap > 0)
             ce_extras::row_post(a.input + r * a.c, false, a.grad + r * a.c, a.c, a.softcap, s.lse[size_t(r)], coef);
         }
         return 0.0;
       }},
  };
  plan->after = [state](size_t phase, double) {
    if (phase != 2) return;
    State& s = *state;
    const CrossEntropyArgs& a = s.args;
    double z = 0.0;
    int64_t correct = 0;
    for (int64_t r = 0; r < s.rows; ++r) {
      if (a.lse_out) a.lse_out[r] = float(s.lse[size_t(r)]);
      if (a.target_index && a.target_index[r] == a.ignore_index) continue;
      if (a.target_index && s.argmax[size_t(r)] == a.target_index[r]) ++correct;
      if (a.lse_square_scale != 0.0) {
        const double zr = a.lse_square_scale * s.lse[size_t(r)] * s.lse[size_t(r)] * (a.sample_weight ? double(a.sample_weight[r]) : 1.0);
        z += zr;
        if (a.reduction == Reduction::None && a.loss_out) a.loss_out[r] = float(double(a.loss_out[r]) + zr);
      }
    }
    s.z_part = a.reduction == Reduction::Mean ? (a.lse_square_scale != 0.0 ? z / s.count : 0.0) : z;
    if (a.extras_out) {
      a.extras_out[0] = s.z_part;
      a.extras_out[1] = a.target_index && a.want_accuracy ? double(correct) / s.count : std::numeric_limits<double>::quiet_NaN();
    }
  };
  const Reduction reduction = a.reduction;
  plan->finish = [state, reduction](double total) {
    const double ce = ce::reduce(reduction, total, state->denom);
    return reduction == Reduction::None ? 0.0 : ce + state->z_part;
  };
  plan->empty = a.n == 0;  // the extras run even when every row is ignored (lse, z-loss of nothing)
  plan->grad = a.grad, plan->grad_len = a.n * a.c;
  return Status::ok();
}

}  // namespace

Status plan_cross_entropy(const CrossEntropyArgs& a, LossPlan* plan) {
  if (a.softcap != 0.0 || a.lse_square_scale != 0.0 || a.lse_out || a.want_accuracy || a.extras_out) return plan_extras(a, plan);
  struct State {
    ce::KernelArgs k;
    ce::ChunkKernel kernel;
    int64_t units, per_chunk;
  };
  auto state = std::make_shared<State>();
  double denom = 0.0;
  Status st = ce::prepare(a, &state->k, &denom);
  if (!st.is_ok()) return st;
  State& s = *state;
  s.kernel = kernel_for(active_isa());
  s.units = ce::unit_count(s.k);
  s.per_chunk = std::max<int64_t>(1, kChunkElems / ce::unit_elems(s.k));
  const int64_t chunks = s.units > 0 ? (s.units + s.per_chunk - 1) / s.per_chunk : 0;
  plan->phases = {{size_t(chunks), [state](size_t i) {
                     const State& s = *state;
                     const int64_t begin = int64_t(i) * s.per_chunk;
                     return s.kernel(s.k, begin, std::min(s.units, begin + s.per_chunk));
                   }}};
  const Reduction reduction = a.reduction;
  plan->finish = [reduction, denom](double total) { return ce::reduce(reduction, total, denom); };
  plan->empty = a.n * a.s == 0 || (a.target_index && denom == 0.0);
  plan->grad = a.grad, plan->grad_len = a.n * a.s * a.c;
  return Status::ok();
}

Status cross_entropy(const CrossEntropyArgs& a, double* loss) {
  LossPlan plan;
  Status st = plan_cross_entropy(a, &plan);
  if (st.is_ok()) *loss = run_plan(plan);
  return st;
}

}  // namespace fuseloss
