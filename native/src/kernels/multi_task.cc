// The multi-task driver: plans every task (all checks first), zero-fills empty tasks, runs the plans
// together (run_plans: one parallel_for per phase for all tasks), then, for the loss-dependent weight
// rules, derives the weights and rescales the gradients in one more parallel pass.
#include "fuseloss/multi_task.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string>

#include "checks.h"
#include "fuseloss/thread_pool.h"
#include "plans.h"

namespace fuseloss {
namespace {

constexpr int64_t kScaleChunk = 32768;

struct Range {
  const void* p = nullptr;
  uint64_t bytes = 0;
};

// What a task reads and writes, for the cross-task aliasing check.
struct TaskRanges {
  std::array<Range, 7> reads;
  std::array<Range, 3> writes;
};

void task_ranges(const TaskArgs& t, TaskRanges* out) {
  auto* reads = &out->reads;
  auto* writes = &out->writes;
  auto f = [](const void* p, int64_t n) { return Range{p, n > 0 ? uint64_t(n) * 4 : 0}; };
  switch (t.family) {
    case TaskFamily::CrossEntropy:
    case TaskFamily::Nll: {
      const CrossEntropyArgs& a = t.ce;
      const int64_t elems = a.n * a.s * a.c, pos = a.n * a.s;
      *reads = {f(a.input, elems),
                f(a.target_index, pos),
                f(a.target_prob, elems),
                f(a.weight, a.c),
                f(a.sample_weight, a.n),
                f(a.grad_output, pos),
                Range{}};
      *writes = {f(a.grad, elems), f(a.loss_out, pos), Range{}};
      break;
    }
    case TaskFamily::Elementwise: {
      const ElementwiseArgs& a = t.ew;
      *reads = {f(a.input, a.numel),
                f(a.target, a.numel),
                f(a.weight, a.weight_len),
                f(a.pos_weight, a.classes),
                f(a.sample_weight, a.samples),
                f(a.grad_output, a.numel),
                Range{}};
      *writes = {f(a.grad, a.numel), f(a.loss_out, a.numel), Range{}};
      break;
    }
    default: {
      const RowLossArgs& a = t.row;
      const int64_t elems = a.n * a.c;
      *reads = {f(a.input, elems),
                f(a.input2, elems),
                f(a.target_index, a.n),
                f(a.target, a.target_len),
                f(a.weight, a.c),
                f(a.sample_weight, a.n),
                f(a.grad_output, std::max(a.n, a.c))};
      *writes = {f(a.grad, elems), f(a.grad2, elems), f(a.loss_out, std::max(a.n, a.c))};
      break;
    }
  }
}

Status plan_task(const TaskArgs& t, LossPlan* plan) {
  switch (t.family) {
    case TaskFamily::CrossEntropy:
      return plan_cross_entropy(t.ce, plan);
    case TaskFamily::Nll:
      return plan_nll_loss(t.ce, plan);
    case TaskFamily::Elementwise:
      return plan_elementwise_loss(t.ew, plan);
    case TaskFamily::MultiMargin:
      return plan_multi_margin_loss(t.row, plan);
    case TaskFamily::MultilabelSoftMargin:
      return plan_multilabel_soft_margin_loss(t.row, plan);
    case TaskFamily::CosineEmbedding:
      return plan_cosine_embedding_loss(t.row, plan);
    case TaskFamily::SoftF1:
      return plan_soft_f1_loss(t.row, plan);
    case TaskFamily::CosineDistance:
      return plan_cosine_distance(t.row, plan);
    case TaskFamily::kCount:
      break;
  }
  return Status::range_error("unknown task family");
}

Reduction reduction_of(const TaskArgs& t) {
  switch (t.family) {
    case TaskFamily::CrossEntropy:
    case TaskFamily::Nll:
      return t.ce.reduction;
    case TaskFamily::Elementwise:
      return t.ew.reduction;
    default:
      return t.row.reduction;
  }
}

Status task_error(size_t i, const Status& st) {
  Status out = st;
  out.message = "tasks[" + std::to_string(i) + "]: " + st.message;
  return out;
}

// A plan that writes zeros over an empty task's gradients (one phase, fixed chunks).
void zero_fill(LossPlan* plan) {
  float* g1 = plan->grad;
  float* g2 = plan->grad2;
  const int64_t n = plan->grad_len, chunks = (n + kScaleChunk - 1) / kScaleChunk;
  plan->phases = {{size_t(chunks), [g1, g2, n](size_t i) {
                     const int64_t b = int64_t(i) * kScaleChunk, e = std::min(n, b + kScaleChunk);
                     for (float* g : {g1, g2})
                       if (g) std::memset(g + b, 0, size_t(e - b) * sizeof(float));
                     return 0.0;
                   }}};
  plan->after = nullptr;
  plan->finish = [](double) { return 0.0; };
}

}  // namespace

namespace {
Status validate_with_plans(const MultiTaskArgs& args, std::vector<LossPlan>* plans_out) {
  const size_t T = args.tasks.size();
  if (args.rule == WeightRule::Log && ((!args.coef.empty() && args.coef.size() != T) || (!args.offset.empty() && args.offset.size() != T)))
    return Status::range_error("weights: the log rule needs one coefficient and one offset per task");
  if (!(args.eps >= 0.0)) return Status::range_error("eps: expected a number >= 0");
  std::vector<LossPlan> plans(T);
  for (size_t i = 0; i < T; ++i) {
    if (reduction_of(args.tasks[i]) == Reduction::None)
      return Status::type_error("tasks[" + std::to_string(i) + "]: reduction 'none' has no scalar loss to weight; use 'mean' or 'sum'");
    Status st = plan_task(args.tasks[i], &plans[i]);
    if (!st.is_ok()) return task_error(i, st);
  }
  // Tasks run side by side: what one writes must not overlap anything another reads or writes.
  std::vector<TaskRanges> ranges(T);
  for (size_t i = 0; i < T; ++i) task_ranges(args.tasks[i], &ranges[i]);
  for (size_t i = 0; i < T; ++i)
    for (const Range& w : ranges[i].writes)
      for (size_t j = 0; j < T; ++j) {
        if (j == i) continue;
        auto hit = [&w](const Range& r) { return overlaps(w.p, w.bytes, r.p, r.bytes); };
        if (std::any_of(ranges[j].reads.begin(), ranges[j].reads.end(), hit) ||
            std::any_of(ranges[j].writes.begin(), ranges[j].writes.end(), hit))
          return Status::range_error("tasks[" + std::to_string(i) + "]: an output overlaps an array of tasks[" + std::to_string(j) + "]");
      }
  if (plans_out) *plans_out = std::move(plans);
  return Status::ok();
}
}  // namespace

Status validate_multi_task(const MultiTaskArgs& args) { return validate_with_plans(args, nullptr); }

void multi_task_rule_weights(const MultiTaskArgs& args, MultiTaskResult* result) {
  const size_t T = args.tasks.size();
  std::vector<double>& w = result->weights;
  if (args.rule == WeightRule::Fixed) return;
  if (args.rule == WeightRule::Geometric) {
    double log_sum = 0.0;
    int count = 0;
    for (size_t i = 0; i < T; ++i)
      if (!result->empty[i]) log_sum += std::log(result->losses[i]), ++count;
    const double g = count ? std::exp(log_sum / count) : 0.0;
    for (size_t i = 0; i < T; ++i)
      if (!result->empty[i]) w[i] = g / (double(count) * result->losses[i]);
    return;
  }
  double norm = 0.0;
  for (size_t i = 0; i < T; ++i) {
    if (result->empty[i]) continue;
    const double a = args.coef.empty() ? 1.0 : args.coef[i], m = args.offset.empty() ? 0.0 : args.offset[i];
    w[i] = a / (result->losses[i] - m + args.eps);
    norm += w[i];
  }
  if (args.normalize)
    for (size_t i = 0; i < T; ++i)
      if (!result->empty[i]) w[i] /= norm;
}

void multi_task_rescale(const std::vector<GradSpan>& grads) {
  struct Block {
    float* g;
    int64_t begin, end;
    double w;
  };
  std::vector<Block> blocks;
  for (const GradSpan& s : grads)
    for (int64_t b = 0; b < s.n; b += kScaleChunk) blocks.push_back({s.g, b, std::min(s.n, b + kScaleChunk), s.w});
  auto rescale = [](void* ctx, size_t k) {
    const Block& b = static_cast<const Block*>(ctx)[k];
    for (int64_t j = b.begin; j < b.end; ++j) b.g[j] = float(double(b.g[j]) * b.w);
  };
  int64_t elements = 0;
  for (const Block& b : blocks) elements += b.end - b.begin;
  if (elements <= kScaleChunk / 2) {
    for (size_t k = 0; k < blocks.size(); ++k) rescale(blocks.data(), k);
  } else {
    parallel_for(blocks.size(), rescale, blocks.data());
  }
}

Status multi_task_loss(const MultiTaskArgs& args, MultiTaskResult* result) {
  const size_t T = args.tasks.size();
  // ---- every check before anything is written
  std::vector<LossPlan> plans;
  Status st = validate_with_plans(args, &plans);
  if (!st.is_ok()) return st;

  // ---- run
  result->losses.assign(T, 0.0);
  result->weights.assign(T, 1.0);
  result->empty.assign(T, 0);
  for (size_t i = 0; i < T; ++i)
    if (plans[i].empty) {
      result->empty[i] = 1;
      result->weights[i] = 0.0;
      zero_fill(&plans[i]);
    }
  run_plans(plans.data(), T, result->losses.data());
  if (args.rule == WeightRule::Fixed) return Status::ok();

  // ---- weights from this step's losses, then one rescale pass over the gradients
  multi_task_rule_weights(args, result);
  std::vector<GradSpan> spans;
  for (size_t i = 0; i < T; ++i) {
    if (result->empty[i]) continue;
    for (float* g : {plans[i].grad, plans[i].grad2})
      if (g) spans.push_back({g, plans[i].grad_len, result->weights[i]});
  }
  multi_task_rescale(spans);
  return Status::ok();
}

}  // namespace fuseloss
