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

ce::ChunkKernel kernel_for(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return ce::chunk_avx512;
    case Isa::Avx2: return ce::chunk_avx2;
    default: return ce::chunk_baseline;
  }
}

}  // namespace

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
    return Status::range_error(std::string(name) + ": expected " + std::to_string(want) + " elements (" + what +
                               ") but received " + std::to_string(got));
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
  if (a.loss_out && a.loss_len >= 0 && a.loss_len != positions)
    return length_error("out.loss", a.loss_len, positions, pos_txt.c_str());
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
        return Status::range_error("target[" + std::to_string(i) + "] = " + std::to_string(y) +
                                   ": expected a class id in [0, " + std::to_string(a.c) + ") or ignoreIndex (" +
                                   std::to_string(a.ignore_index) + ")");
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

Status plan_cross_entropy(const CrossEntropyArgs& a, LossPlan* plan) {
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
