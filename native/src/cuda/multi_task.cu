// MultiTaskLoss on CUDA: every task's inputs go up in one copy, every task's kernel runs on the one
// stream, every gradient comes back in one copy. Every task family: cross-entropy, nll, the elementwise
// losses and the row losses; the checks, the empty-task rule and the loss-dependent weights are the CPU
// driver's own (fuseloss/multi_task.h).
#include <cuda_runtime.h>

#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "../kernels/cross_entropy_kernel.h"
#include "../kernels/elementwise_kernel.h"
#include "context.h"
#include "cross_entropy_device.h"
#include "elementwise_device.h"
#include "rowwise_device.h"
#include "fuseloss/cuda.h"
#include "fuseloss/multi_task.h"

namespace fuseloss {
namespace cuda {

namespace {

struct Task {
  bool ce = false, nll = false, row = false, empty = false;  // ce: crossEntropy or nllLoss (nll); row: a row loss
  RowKind kind = RowKind::MultiMargin;
  ce::KernelArgs ck{};
  ew::KernelArgs ek{};
  double denom = 0.0;
  Reduction reduction = Reduction::Mean;
  int64_t elems = 0, positions = 0;
  size_t x = 0, x2 = 0, ti = 0, t = 0, w = 0, pw = 0, sw = 0, g = 0, g2 = 0, sums = 0, uv = 0;  // staging slots
  size_t sums_count = 0;
  unsigned blocks = 0;
  float *dev_g = nullptr, *dev_g2 = nullptr;  // the gradients on the device (resolved under the lock)
};

bool is_row(TaskFamily f) { return f != TaskFamily::CrossEntropy && f != TaskFamily::Nll && f != TaskFamily::Elementwise; }
RowKind row_kind(TaskFamily f) { return RowKind(int(f) - int(TaskFamily::MultiMargin)); }

// The task's gradients (the second: cosine embedding's grad2).
float* grad_of(const TaskArgs& a) { return is_row(a.family) ? a.row.grad : a.family == TaskFamily::Elementwise ? a.ew.grad : a.ce.grad; }
float* grad2_of(const TaskArgs& a) { return is_row(a.family) ? a.row.grad2 : nullptr; }

Status task_error(size_t i, const Status& st) {
  Status out = st;
  out.message = "tasks[" + std::to_string(i) + "]: " + st.message;
  return out;
}

}  // namespace

Status multi_task_loss(const MultiTaskArgs& args, MultiTaskResult* result) {
  const size_t T = args.tasks.size();
  // The CPU driver's checks on a host view of the arguments: device-resident class ids and class weights
  // mirrored, binaryCrossEntropy's probabilities checked on the device.
  MultiTaskArgs h = args;
  std::vector<std::vector<char>> store(2 * T);
  Status st;
  for (size_t i = 0; i < T; ++i) {
    const TaskArgs& a = args.tasks[i];
    if (is_row(a.family))
      st = mirror_row_args(a.row, &h.tasks[i].row, &store[2 * i]);
    else if (a.family == TaskFamily::Elementwise)
      st = device_checked_args(a.ew, &h.tasks[i].ew);
    else
      st = mirror_ce_args(a.ce, &h.tasks[i].ce, &store[2 * i], &store[2 * i + 1]);
    if (!st.is_ok()) return task_error(i, st);
  }
  if (!(st = validate_multi_task(h)).is_ok()) return st;
  // The host view's check of overlaps cannot see the mirrored arrays (class ids, class weights: DeviceBuffers of
  // their own, so an output overlaps one only by being it).
  for (size_t j = 0; j < T; ++j) {
    const TaskArgs& b = args.tasks[j];
    const void* mirrored[2] = {nullptr, nullptr};
    if (is_row(b.family))
      mirrored[0] = b.row.target_index;
    else if (b.family != TaskFamily::Elementwise)
      mirrored[0] = b.ce.target_index, mirrored[1] = b.ce.weight;
    for (const void* m : mirrored) {
      if (!m || !on_device(m)) continue;
      for (size_t i = 0; i < T; ++i) {
        const TaskArgs& a = args.tasks[i];
        if (i != j && (grad_of(a) == m || (grad2_of(a) && grad2_of(a) == m)))
          return Status::range_error("tasks[" + std::to_string(i) + "]: an output overlaps an array of tasks[" + std::to_string(j) + "]");
      }
    }
  }

  std::vector<Task> tasks(T);
  Staging sg;
  for (size_t i = 0; i < T; ++i) {
    Task& k = tasks[i];
    const TaskArgs& a = h.tasks[i];
    const TaskArgs& o = args.tasks[i];  // the caller's pointers (host or device)
    if (is_row(a.family)) {
      const RowLossArgs& r = a.row;
      k.row = true, k.kind = row_kind(a.family);
      k.reduction = r.reduction;
      k.positions = r.n, k.elems = r.n * r.c;
      k.empty = r.n == 0;  // the CPU planners' rule
      k.sums_count = size_t(row_partials(k.kind, r));
      if (k.empty) continue;
      const RowLossArgs& q = o.row;
      const size_t eb = size_t(k.elems) * 4;
      k.x = sg.input(q.input, eb), k.x2 = sg.input(q.input2, q.input2 ? eb : 0);
      k.ti = sg.input(q.target_index, q.target_index ? size_t(r.n) * 4 : 0);
      k.t = sg.input(q.target, q.target ? size_t(r.target_len) * 4 : 0);
      k.w = sg.input(q.weight, q.weight ? size_t(r.c) * 4 : 0);
      k.sw = sg.input(q.sample_weight, q.sample_weight ? size_t(r.n) * 4 : 0);
    } else if (a.family != TaskFamily::Elementwise) {
      k.ce = true;
      k.nll = a.family == TaskFamily::Nll;
      if (a.ce.softcap != 0.0 || a.ce.lse_square_scale != 0.0 || a.ce.lse_out || a.ce.want_accuracy || a.ce.extras_out)
        return task_error(i, Status::type_error("softcap and lseSquareScale have no CUDA build yet: use backend 'native'"));
      if (!(st = ce::prepare(a.ce, &k.ck, &k.denom)).is_ok()) return task_error(i, st);
      k.reduction = a.ce.reduction;
      k.positions = k.ck.n * k.ck.s, k.elems = k.positions * k.ck.c;
      k.empty = k.positions == 0 || (k.ck.ti && k.denom == 0.0);
      k.sums_count = size_t(k.positions);
      if (k.empty) continue;
      const void* target = k.ck.ti ? static_cast<const void*>(o.ce.target_index) : static_cast<const void*>(o.ce.target_prob);
      k.x = sg.input(o.ce.input, size_t(k.elems) * 4);
      k.t = sg.input(target, k.ck.ti ? size_t(k.positions) * 4 : size_t(k.elems) * 4);
      k.w = sg.input(o.ce.weight, k.ck.w ? size_t(k.ck.c) * 4 : 0);
      k.sw = sg.input(o.ce.sample_weight, k.ck.sw ? size_t(k.ck.n) * 4 : 0);
    } else {
      if (!(st = ew::prepare(a.ew, &k.ek, &k.denom)).is_ok()) return task_error(i, st);
      k.reduction = a.ew.reduction;
      k.elems = k.ek.numel;
      k.empty = k.elems == 0;
      k.blocks = ew_blocks(k.elems);
      k.sums_count = k.blocks;
      if (k.empty) continue;
      const size_t xb = size_t(k.elems) * 4;
      k.x = sg.input(o.ew.input, xb), k.t = sg.input(o.ew.target, xb);
      k.w = sg.input(o.ew.weight, k.ek.w ? (k.ek.w_classes ? size_t(k.ek.classes) : size_t(k.elems)) * 4 : 0);
      k.pw = sg.input(o.ew.pos_weight, k.ek.pw ? size_t(k.ek.classes) * 4 : 0);
      k.sw = sg.input(o.ew.sample_weight, k.ek.sw ? size_t(k.elems / k.ek.per_sample) * 4 : 0);
    }
  }
  for (size_t i = 0; i < T; ++i) {
    Task& k = tasks[i];
    if (k.empty) continue;
    k.sums = sg.scratch(k.sums_count * 8);
    if (k.row && k.kind == RowKind::SoftF1) k.uv = sg.scratch(size_t(h.tasks[i].row.c) * 32);  // A, B, u, v per label
  }
  std::vector<double> sums(T, 0.0);
  const size_t s_sums = sg.output(sums.data(), T * 8);
  for (size_t i = 0; i < T; ++i) {
    Task& k = tasks[i];
    if (k.empty) continue;
    k.g = sg.output(grad_of(args.tasks[i]), size_t(k.elems) * 4);
    if (grad2_of(args.tasks[i])) k.g2 = sg.output(grad2_of(args.tasks[i]), size_t(k.elems) * 4);
  }

  result->losses.assign(T, 0.0);
  result->weights.assign(T, 1.0);
  result->empty.assign(T, 0);
  for (size_t i = 0; i < T; ++i) {
    if (tasks[i].empty) result->empty[i] = 1, result->weights[i] = 0.0;
  }
  Context& cx = context();
  Lock lock(cx);
  if (!(st = cx.init()).is_ok()) return st;
  if (!(st = cx.reserve(sg.total())).is_ok()) return st;
  if (!(st = sg.upload(cx)).is_ok()) return st;
  if (!(st = mark_start(cx)).is_ok()) return st;
  double* dev_sums = reinterpret_cast<double*>(cx.device + s_sums);
  for (size_t i = 0; i < T; ++i) {
    Task& k = tasks[i];
    const TaskArgs& o = args.tasks[i];
    if (k.empty) {
      // Empty tasks (no element, every class id ignored or of weight 0): no loss, no weight, a zero gradient.
      for (float* g : {grad_of(o), grad2_of(o)}) {
        if (!g || k.elems <= 0) continue;
        if (on_device(g))
          FUSELOSS_CUDA_TRY(cudaMemsetAsync(g, 0, size_t(k.elems) * 4, cx.stream), "clearing a gradient");
        else
          std::memset(g, 0, size_t(k.elems) * 4);
      }
      continue;
    }
    double* task_sums = reinterpret_cast<double*>(cx.device + k.sums);
    if (k.row) {
      const RowLossArgs &q = o.row, &r = h.tasks[i].row;
      RowDev d{};
      d.x = sg.at(cx, q.input, k.x), d.x2 = q.input2 ? sg.at(cx, q.input2, k.x2) : nullptr;
      d.ti = q.target_index ? sg.at(cx, q.target_index, k.ti) : nullptr, d.t = q.target ? sg.at(cx, q.target, k.t) : nullptr;
      d.w = q.weight ? sg.at(cx, q.weight, k.w) : nullptr, d.sw = q.sample_weight ? sg.at(cx, q.sample_weight, k.sw) : nullptr;
      d.go = nullptr, d.lo = nullptr;
      d.g = k.dev_g = sg.at(cx, q.grad, k.g);
      d.g2 = k.dev_g2 = q.grad2 ? sg.at(cx, q.grad2, k.g2) : nullptr;
      d.row_loss = task_sums, d.uv = k.kind == RowKind::SoftF1 ? reinterpret_cast<double*>(cx.device + k.uv) : nullptr;
      d.n = r.n, d.c = r.c, d.base = row_base(r), d.margin = float(r.margin), d.squared = r.p == 2.0, d.none = false, d.eps = r.eps;
      launch_rows(k.kind, r, d, cx.stream);
    } else if (k.ce) {
      DevArgs d{};
      d.x = sg.at(cx, o.ce.input, k.x);
      d.ti = k.ck.ti ? sg.at(cx, o.ce.target_index, k.t) : nullptr;
      d.tp = k.ck.tp ? sg.at(cx, o.ce.target_prob, k.t) : nullptr;
      d.w = k.ck.w ? sg.at(cx, o.ce.weight, k.w) : nullptr;
      d.go = nullptr;
      d.sw = k.ck.sw ? sg.at(cx, o.ce.sample_weight, k.sw) : nullptr;
      d.g = k.dev_g = sg.at(cx, o.ce.grad, k.g);
      d.row_loss = task_sums;
      d.n = k.ck.n, d.c = k.ck.c, d.s = k.ck.s, d.ignore_index = k.ck.ignore_index;
      d.eps = k.ck.eps, d.keep = k.ck.keep, d.spread = k.ck.spread, d.wsum = k.ck.wsum, d.scale = k.ck.scale, d.none = false;
      if (k.nll)
        launch_nll(d, cx.stream);
      else
        launch(d, cx.stream);
    } else {
      ew::KernelArgs d = k.ek;
      d.x = sg.at(cx, o.ew.input, k.x);
      d.t = sg.at(cx, o.ew.target, k.t);
      d.w = k.ek.w ? sg.at(cx, o.ew.weight, k.w) : nullptr;
      d.pw = k.ek.pw ? sg.at(cx, o.ew.pos_weight, k.pw) : nullptr;
      d.sw = k.ek.sw ? sg.at(cx, o.ew.sample_weight, k.sw) : nullptr;
      d.go = nullptr, d.lo = nullptr;
      d.g = k.dev_g = sg.at(cx, o.ew.grad, k.g);
      ew_launch(d, task_sums, cx.stream);
    }
    launch_sum(task_sums, int64_t(k.sums_count), dev_sums + i, cx.stream);
    FUSELOSS_CUDA_TRY(cudaGetLastError(), "launching a kernel");
  }
  auto reduce_losses = [&] {
    for (size_t i = 0; i < T; ++i) {
      const Task& k = tasks[i];
      if (k.empty) continue;
      result->losses[i] = k.row  ? row_reduce(k.kind, h.tasks[i].row, sums[i])
                          : k.ce ? ce::reduce(k.reduction, sums[i], k.denom)
                                 : ew::reduce(k.reduction, sums[i], k.denom);
    }
  };
  if (args.rule != WeightRule::Fixed) {
    // Loss-dependent weights: the losses first, then every gradient rescaled on the device (the CPU's
    // g = float(double(g)·w)), then the one download.
    FUSELOSS_CUDA_TRY(cudaMemcpyAsync(sums.data(), dev_sums, T * 8, cudaMemcpyDeviceToHost, cx.stream),
                      "copying the losses from the device");
    FUSELOSS_CUDA_TRY(cudaStreamSynchronize(cx.stream), "running the kernels");
    reduce_losses();
    multi_task_rule_weights(args, result);
    for (size_t i = 0; i < T; ++i)
      if (!tasks[i].empty)
        for (float* g : {tasks[i].dev_g, tasks[i].dev_g2})
          if (g) launch_rescale(g, tasks[i].elems, result->weights[i], cx.stream);
    FUSELOSS_CUDA_TRY(cudaGetLastError(), "launching a kernel");
  }
  if (!(st = mark_stop(cx)).is_ok()) return st;
  if (!(st = sg.download(cx)).is_ok()) return st;
  read_kernel_time(cx);
  if (args.rule == WeightRule::Fixed) reduce_losses();
  return Status::ok();
}

}  // namespace cuda
}  // namespace fuseloss
