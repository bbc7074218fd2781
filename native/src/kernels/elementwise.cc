// Elementwise-loss driver: checks sizes and option values before anything is written, then runs the
// active ISA's chunk kernel over fixed 32 Ki-element chunks on the pool and adds chunk sums in order.
#include "fuseloss/elementwise.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "checks.h"
#include "elementwise_kernel.h"
#include "fuseloss/cpu.h"
#include "fuseloss/thread_pool.h"
#include "scan.h"
#include "plans.h"

namespace fuseloss {
namespace {

ew::ChunkKernel kernel_for(Isa isa) {
  switch (isa) {
    case Isa::Avx512:
      return ew::chunk_avx512;
    case Isa::Avx2:
      return ew::chunk_avx2;
    default:
      return ew::chunk_baseline;
  }
}

// Index of the first element not in [0, 1] (NaN included), or -1.
int64_t first_outside_unit_interval(const float* x, int64_t n) {
  return first_failing(x, n, [](float v) { return v >= 0.0f && v <= 1.0f; });
}

}  // namespace

ew::ChunkKernel ew::active_kernel() { return kernel_for(active_isa()); }

ew::MarginRowKernel ew::active_margin_row() {
  switch (active_isa()) {
    case Isa::Avx512:
      return ew::margin_row_avx512;
    case Isa::Avx2:
      return ew::margin_row_avx2;
    default:
      return ew::margin_row_baseline;
  }
}

ew::CosineKernels ew::active_cosine() {
  switch (active_isa()) {
    case Isa::Avx512:
      return ew::cosine_avx512();
    case Isa::Avx2:
      return ew::cosine_avx2();
    default:
      return ew::cosine_baseline();
  }
}

ew::SigmoidKernel ew::active_sigmoid() {
  switch (active_isa()) {
    case Isa::Avx512:
      return ew::sigmoid_avx512;
    case Isa::Avx2:
      return ew::sigmoid_avx2;
    default:
      return ew::sigmoid_baseline;
  }
}

Status ew::prepare(const ElementwiseArgs& a, ew::KernelArgs* out, double* denominator) {
  const int64_t n = a.numel;
  if (n < 0 || n > (int64_t(1) << 40)) return Status::range_error("input: element count out of range");
  if (a.samples < 0 || a.classes < 1 || (n > 0 && (a.samples < 1 || n % a.samples != 0 || n % a.classes != 0)))
    return Status::range_error("shape: the first and last dims must divide the element count");
  if (int(a.kind) < 0 || int(a.kind) >= int(ElementwiseLoss::kCount)) return Status::range_error("loss: unknown kind");
  if (n > 0 && (!a.input || !a.target || !a.grad)) return Status::type_error("input, target and grad are required");
  Status st;
  if (!(st = check_length("input", a.input_len, n)).is_ok() || !(st = check_length("target", a.target_len, n)).is_ok() ||
      !(st = check_length("out.grad", a.grad_len, n)).is_ok())
    return st;
  if (a.weight && a.weight_len != n && a.weight_len != a.classes)
    return Status::range_error("weight: expected " + std::to_string(n) + " elements (the input's shape) or " + std::to_string(a.classes) +
                               " (the last dim) but received " + std::to_string(a.weight_len));
  if (a.pos_weight && !(st = check_length("posWeight", a.pos_weight_len, a.classes)).is_ok()) return st;
  if (a.sample_weight && !(st = check_length("sampleWeight", a.sample_weight_len, a.samples)).is_ok()) return st;
  if (a.grad_output && a.reduction != Reduction::None)
    return Status::type_error("gradOutput: only allowed with reduction 'none' (use gradScale for reduced losses)");
  if (a.grad_output && !(st = check_length("gradOutput", a.grad_output_len, n)).is_ok()) return st;
  if (a.reduction == Reduction::None && n > 0 && !a.loss_out)
    return Status::type_error("loss: reduction 'none' needs an output Float32Array");
  if (a.loss_out && !(st = check_length("out.loss", a.loss_len, n)).is_ok()) return st;
  if (a.grad != a.input && overlaps(a.grad, n * 4, a.input, n * 4))
    return Status::range_error("out.grad: overlaps input without being the same array (in place needs the same array)");
  const uint64_t gb = uint64_t(n) * 4;
  if (overlaps(a.grad, gb, a.target, gb) || overlaps(a.grad, gb, a.weight, uint64_t(a.weight_len) * 4) ||
      overlaps(a.grad, gb, a.grad_output, gb) || overlaps(a.grad, gb, a.loss_out, gb) ||
      overlaps(a.grad, gb, a.pos_weight, uint64_t(a.classes) * 4) || overlaps(a.grad, gb, a.sample_weight, uint64_t(a.samples) * 4))
    return Status::range_error("out.grad: must not overlap target, weights, gradOutput or the loss output");
  switch (a.kind) {
    case ElementwiseLoss::SmoothL1:
      if (!(a.p0 >= 0.0)) return Status::range_error("smoothL1Loss.beta: expected a number >= 0");
      break;
    case ElementwiseLoss::Huber:
      if (!(a.p0 > 0.0)) return Status::range_error("huberLoss.delta: expected a number > 0");
      break;
    case ElementwiseLoss::PoissonNll:
      if (!(a.p0 >= 0.0)) return Status::range_error("poissonNllLoss.eps: expected a number >= 0");
      break;
    case ElementwiseLoss::SigmoidFocal:
      if (!(a.p1 >= 0.0)) return Status::range_error("sigmoidFocalLoss.gamma: expected a number >= 0");
      break;
    case ElementwiseLoss::LogLoss:
      if (!(a.p0 >= 0.0) || !std::isfinite(a.p0)) return Status::range_error("logLoss.epsilon: expected a finite number >= 0");
      break;
    case ElementwiseLoss::Bce: {
      if (a.input_checked) break;
      // PyTorch refuses probabilities outside [0, 1]; checked before anything is written, on the pool,
      // reporting the first offending index.
      const int64_t bad = first_outside_unit_interval(a.input, n);
      if (bad >= 0)
        return Status::range_error("input[" + std::to_string(bad) + "] = " + std::to_string(a.input[bad]) +
                                   ": binaryCrossEntropy expects probabilities in [0, 1]");
      break;
    }
    default:
      break;
  }

  ew::KernelArgs k{};
  k.kind = a.kind == ElementwiseLoss::SmoothL1 && a.p0 == 0.0 ? ElementwiseLoss::L1 : a.kind;  // PyTorch: beta = 0 is L1
  k.x = a.input, k.t = a.target, k.g = a.grad, k.lo = a.loss_out;
  k.numel = n, k.classes = a.classes, k.per_sample = a.samples > 0 ? std::max<int64_t>(1, n / a.samples) : 1;
  k.w = a.weight, k.w_classes = a.weight && a.weight_len != n;
  if (a.weight && a.weight_len == n && n == a.classes) k.w_classes = false;
  k.pw = a.pos_weight, k.sw = a.sample_weight, k.go = a.grad_output;
  k.none = a.reduction == Reduction::None;
  const double denom = a.batchmean ? double(a.samples) : double(n);
  const bool mean = a.reduction == Reduction::Mean;
  k.scale = float(mean ? a.grad_scale / denom : a.grad_scale);
  k.p0 = float(a.p0), k.p1 = float(a.p1), k.flag = a.flag, k.flag2 = a.flag2;

  *out = k;
  *denominator = denom;
  return Status::ok();
}

double ew::reduce(Reduction reduction, double total, double denom) {
  if (reduction == Reduction::Mean) return total / denom;
  return reduction == Reduction::Sum ? total : 0.0;
}

Status plan_elementwise_loss(const ElementwiseArgs& a, LossPlan* plan) {
  ew::KernelArgs k;
  double denom = 0.0;
  Status st = ew::prepare(a, &k, &denom);
  if (!st.is_ok()) return st;
  const int64_t n = a.numel;
  const auto state = std::make_shared<const ew::KernelArgs>(k);
  const ew::ChunkKernel kernel = kernel_for(active_isa());
  const int64_t chunks = n > 0 ? (n + ew::kChunk - 1) / ew::kChunk : 0;
  plan->phases = {{size_t(chunks), [state, kernel](size_t i) {
                     const int64_t begin = int64_t(i) * ew::kChunk;
                     return kernel(*state, begin, std::min(state->numel, begin + ew::kChunk));
                   }}};
  const Reduction reduction = a.reduction;
  plan->finish = [reduction, denom](double total) { return ew::reduce(reduction, total, denom); };
  plan->empty = n == 0;
  plan->grad = a.grad, plan->grad_len = n;
  return Status::ok();
}

Status elementwise_loss(const ElementwiseArgs& a, double* loss) {
  LossPlan plan;
  Status st = plan_elementwise_loss(a, &plan);
  if (st.is_ok()) *loss = run_plan(plan);
  return st;
}

}  // namespace fuseloss
