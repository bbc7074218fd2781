// MultiTaskLoss on CUDA: every task's inputs go up in one copy, every task's kernel runs on the one
// stream, every gradient comes back in one copy. Cross-entropy and the elementwise losses (the families
// the CUDA backend has); the checks, the empty-task rule and the loss-dependent weights are the CPU
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
#include "fuseloss/cuda.h"
#include "fuseloss/multi_task.h"

namespace fuseloss {
namespace cuda {

namespace {

struct Task {
  bool ce = false, empty = false;
  ce::KernelArgs ck{};
  ew::KernelArgs ek{};
  double denom = 0.0;
  Reduction reduction = Reduction::Mean;
  int64_t elems = 0, positions = 0;
  // arena offsets
  size_t x = 0, t = 0, w = 0, pw = 0, sw = 0, g = 0, sums = 0;
  size_t x_b = 0, t_b = 0, w_b = 0, pw_b = 0, sw_b = 0, sums_b = 0;
  unsigned blocks = 0;
};

}  // namespace

Status multi_task_loss(const MultiTaskArgs& args, MultiTaskResult* result) {
  const size_t T = args.tasks.size();
  for (size_t i = 0; i < T; ++i) {
    const TaskFamily f = args.tasks[i].family;
    if (f != TaskFamily::CrossEntropy && f != TaskFamily::Elementwise)
      return Status::type_error("tasks[" + std::to_string(i) + "]: backend 'cuda' computes crossEntropy and the elementwise losses; " +
                                "use backend 'native' for nllLoss and the row losses");
  }
  Status st = validate_multi_task(args);
  if (!st.is_ok()) return st;

  std::vector<Task> tasks(T);
  size_t off = 0;
  auto take = [&off](size_t bytes) {
    const size_t at = off;
    off = align256(off + bytes);
    return at;
  };
  for (size_t i = 0; i < T; ++i) {
    Task& k = tasks[i];
    const TaskArgs& a = args.tasks[i];
    if (a.family == TaskFamily::CrossEntropy) {
      k.ce = true;
      if (!(st = ce::prepare(a.ce, &k.ck, &k.denom)).is_ok()) return st;
      k.reduction = a.ce.reduction;
      k.positions = k.ck.n * k.ck.s, k.elems = k.positions * k.ck.c;
      k.empty = k.positions == 0 || (k.ck.ti && k.denom == 0.0);
      k.x_b = size_t(k.elems) * 4, k.t_b = k.ck.ti ? size_t(k.positions) * 4 : size_t(k.elems) * 4;
      k.w_b = k.ck.w ? size_t(k.ck.c) * 4 : 0, k.sw_b = k.ck.sw ? size_t(k.ck.n) * 4 : 0, k.sums_b = size_t(k.positions) * 8;
    } else {
      if (!(st = ew::prepare(a.ew, &k.ek, &k.denom)).is_ok()) return st;
      k.reduction = a.ew.reduction;
      k.elems = k.ek.numel;
      k.empty = k.elems == 0;
      k.blocks = ew_blocks(k.elems);
      k.x_b = k.t_b = size_t(k.elems) * 4;
      k.w_b = k.ek.w ? (k.ek.w_classes ? size_t(k.ek.classes) : size_t(k.elems)) * 4 : 0;
      k.pw_b = k.ek.pw ? size_t(k.ek.classes) * 4 : 0;
      k.sw_b = k.ek.sw ? size_t(k.elems / k.ek.per_sample) * 4 : 0;
      k.sums_b = size_t(k.blocks) * 8;
    }
    if (k.empty) continue;
    k.x = take(k.x_b), k.t = take(k.t_b), k.w = take(k.w_b), k.pw = take(k.pw_b), k.sw = take(k.sw_b);
  }
  const size_t upload = off;
  for (Task& k : tasks)
    if (!k.empty) k.g = take(size_t(k.elems) * 4), k.sums = take(k.sums_b);
  const size_t total = off;

  result->losses.assign(T, 0.0);
  result->weights.assign(T, 1.0);
  result->empty.assign(T, 0);
  if (total > 0) {
    Context& cx = context();
    std::lock_guard<std::mutex> lock(cx.mu);
    if (!(st = cx.init()).is_ok()) return st;
    if (!(st = cx.reserve(total)).is_ok()) return st;
    for (const Task& k : tasks) {
      if (k.empty) continue;
      const float* x = k.ce ? k.ck.x : k.ek.x;
      const void* t = k.ce ? (k.ck.ti ? static_cast<const void*>(k.ck.ti) : static_cast<const void*>(k.ck.tp)) : k.ek.t;
      std::memcpy(cx.pinned + k.x, x, k.x_b);
      std::memcpy(cx.pinned + k.t, t, k.t_b);
      if (k.w_b) std::memcpy(cx.pinned + k.w, k.ce ? k.ck.w : k.ek.w, k.w_b);
      if (k.pw_b) std::memcpy(cx.pinned + k.pw, k.ek.pw, k.pw_b);
      if (k.sw_b) std::memcpy(cx.pinned + k.sw, k.ce ? k.ck.sw : k.ek.sw, k.sw_b);
    }
    if (upload) FUSELOSS_CUDA_TRY(cudaMemcpyAsync(cx.device, cx.pinned, upload, cudaMemcpyHostToDevice, cx.stream), "copying inputs to the device");
    for (const Task& k : tasks) {
      if (k.empty) continue;
      if (k.ce) {
        DevArgs d{};
        d.x = reinterpret_cast<const float*>(cx.device + k.x);
        d.ti = k.ck.ti ? reinterpret_cast<const int32_t*>(cx.device + k.t) : nullptr;
        d.tp = k.ck.tp ? reinterpret_cast<const float*>(cx.device + k.t) : nullptr;
        d.w = k.ck.w ? reinterpret_cast<const float*>(cx.device + k.w) : nullptr;
        d.go = nullptr;
        d.sw = k.ck.sw ? reinterpret_cast<const float*>(cx.device + k.sw) : nullptr;
        d.g = reinterpret_cast<float*>(cx.device + k.g);
        d.row_loss = reinterpret_cast<double*>(cx.device + k.sums);
        d.n = k.ck.n, d.c = k.ck.c, d.s = k.ck.s, d.ignore_index = k.ck.ignore_index;
        d.eps = k.ck.eps, d.keep = k.ck.keep, d.spread = k.ck.spread, d.wsum = k.ck.wsum, d.scale = k.ck.scale, d.none = false;
        launch(d, cx.stream);
      } else {
        ew::KernelArgs d = k.ek;
        d.x = reinterpret_cast<const float*>(cx.device + k.x);
        d.t = reinterpret_cast<const float*>(cx.device + k.t);
        d.w = k.ek.w ? reinterpret_cast<const float*>(cx.device + k.w) : nullptr;
        d.pw = k.ek.pw ? reinterpret_cast<const float*>(cx.device + k.pw) : nullptr;
        d.sw = k.ek.sw ? reinterpret_cast<const float*>(cx.device + k.sw) : nullptr;
        d.go = nullptr, d.lo = nullptr;
        d.g = reinterpret_cast<float*>(cx.device + k.g);
        ew_launch(d, reinterpret_cast<double*>(cx.device + k.sums), cx.stream);
      }
      FUSELOSS_CUDA_TRY(cudaGetLastError(), "launching a kernel");
    }
    FUSELOSS_CUDA_TRY(cudaMemcpyAsync(cx.pinned + upload, cx.device + upload, total - upload, cudaMemcpyDeviceToHost, cx.stream),
                      "copying results from the device");
    FUSELOSS_CUDA_TRY(cudaStreamSynchronize(cx.stream), "running the kernels");
    for (size_t i = 0; i < T; ++i) {
      const Task& k = tasks[i];
      if (k.empty) continue;
      std::memcpy(k.ce ? k.ck.g : k.ek.g, cx.pinned + k.g, size_t(k.elems) * 4);
      const double* sums = reinterpret_cast<const double*>(cx.pinned + k.sums);
      const size_t count = k.sums_b / 8;
      double sum = 0.0;
      for (size_t j = 0; j < count; ++j) sum += sums[j];
      result->losses[i] = k.ce ? ce::reduce(k.reduction, sum, k.denom) : ew::reduce(k.reduction, sum, k.denom);
    }
  }
  // Empty tasks (no element, every class id ignored or of weight 0): no loss, no weight, a zero gradient.
  for (size_t i = 0; i < T; ++i) {
    const Task& k = tasks[i];
    if (!k.empty) continue;
    result->empty[i] = 1, result->weights[i] = 0.0;
    float* g = k.ce ? k.ck.g : k.ek.g;
    if (g && k.elems > 0) std::memset(g, 0, size_t(k.elems) * 4);
  }
  if (args.rule == WeightRule::Fixed) return Status::ok();
  multi_task_rule_weights(args, result);
  std::vector<GradSpan> spans;
  for (size_t i = 0; i < T; ++i)
    if (!tasks[i].empty) spans.push_back({tasks[i].ce ? tasks[i].ck.g : tasks[i].ek.g, tasks[i].elems, result->weights[i]});
  multi_task_rescale(spans);
  return Status::ok();
}

}  // namespace cuda
}  // namespace fuseloss
