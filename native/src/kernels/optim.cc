// Optimizer step driver: PyTorch's hyper-parameter checks, buffer checks, then fixed chunks of every
// buffer on the pool (see fuseloss/optim.h).
#include "fuseloss/optim.h"

#include <cmath>
#include <string>
#include <vector>

#include "checks.h"
#include "fuseloss/cpu.h"
#include "fuseloss/thread_pool.h"
#include "optim_kernel.h"

namespace fuseloss {
namespace {

constexpr int64_t kJob = 16384;  // elements per pool chunk
constexpr size_t kMaxBuffers = 1 << 16;

using StepFn = void (*)(const optim::Step&, float*, const float*, float*, float*, int64_t, int64_t);

StepFn active() {
  switch (active_isa()) {
    case Isa::Avx512:
      return optim::step_avx512;
    case Isa::Avx2:
      return optim::step_avx2;
    default:
      return optim::step_baseline;
  }
}

Status bad(const std::string& name, const std::string& what) { return Status::range_error(name + ": " + what); }

struct Chunk {
  size_t buffer;
  int64_t begin, end;
};

struct Job {
  const OptimizerArgs* args;
  optim::Step step;
  StepFn fn;
  std::vector<Chunk> chunks;
};

void run_chunk(void* ctx, size_t i) {
  const Job& j = *static_cast<const Job*>(ctx);
  const Chunk& c = j.chunks[i];
  const ParamBuffer& b = j.args->buffers[c.buffer];
  j.fn(j.step, b.param, b.grad, b.exp_avg, b.exp_avg_sq, c.begin, c.end);
}

}  // namespace

Status validate_optimizer(const OptimizerArgs& a) {
  const OptimizerHyper& h = a.hyper;
  const bool adam = a.kind != OptimizerKind::Sgd;
  if (!(h.lr >= 0.0) || !std::isfinite(h.lr)) return bad("lr", "expected a finite number >= 0, got " + std::to_string(h.lr));
  if (!(h.weight_decay >= 0.0) || !std::isfinite(h.weight_decay)) return bad("weightDecay", "expected a finite number >= 0");
  if (h.step < 1) return bad("step", "expected an integer >= 1, got " + std::to_string(h.step));
  if (!adam) {
    if (!(h.momentum >= 0.0) || !std::isfinite(h.momentum)) return bad("momentum", "expected a finite number >= 0");
    if (!std::isfinite(h.dampening)) return bad("dampening", "expected a finite number");
    if (h.nesterov && (h.momentum <= 0.0 || h.dampening != 0.0)) return bad("nesterov", "requires momentum > 0 and dampening 0");
  } else {
    if (!(h.beta1 >= 0.0 && h.beta1 < 1.0)) return bad("betas[0]", "expected a number in [0, 1)");
    if (!(h.beta2 >= 0.0 && h.beta2 < 1.0)) return bad("betas[1]", "expected a number in [0, 1)");
    if (!(h.eps >= 0.0) || !std::isfinite(h.eps)) return bad("eps", "expected a finite number >= 0");
  }
  if (a.buffers.size() > kMaxBuffers) return bad("params", "too many buffers");
  const bool needs_m = adam || h.momentum != 0.0;
  for (size_t i = 0; i < a.buffers.size(); ++i) {
    const ParamBuffer& b = a.buffers[i];
    const std::string at = "params[" + std::to_string(i) + "]";
    if (b.param_len < 0 || b.param_len > (int64_t(1) << 40)) return bad(at, "element count out of range");
    if (!b.param && b.param_len) return Status::type_error(at + ".param: expected a Float32Array");
    if (!b.grad && b.param_len) return Status::type_error(at + ".grad: expected a Float32Array");
    Status st;
    if (!(st = check_length((at + ".grad").c_str(), b.grad_len, b.param_len)).is_ok()) return st;
    if (needs_m) {
      if (!b.exp_avg && b.param_len) return Status::type_error(at + (adam ? ".expAvg" : ".momentumBuffer") + ": expected a Float32Array");
      if (!(st = check_length((at + (adam ? ".expAvg" : ".momentumBuffer")).c_str(), b.exp_avg_len, b.param_len)).is_ok()) return st;
    }
    if (adam) {
      if (!b.exp_avg_sq && b.param_len) return Status::type_error(at + ".expAvgSq: expected a Float32Array");
      if (!(st = check_length((at + ".expAvgSq").c_str(), b.exp_avg_sq_len, b.param_len)).is_ok()) return st;
    }
    const uint64_t bytes = uint64_t(b.param_len) * 4;
    const void* mine[] = {b.param, b.grad, needs_m ? b.exp_avg : nullptr, adam ? b.exp_avg_sq : nullptr};
    const char* names[] = {"param", "grad", adam ? "expAvg" : "momentumBuffer", "expAvgSq"};
    for (int x = 0; x < 4; ++x)
      for (int y = x + 1; y < 4; ++y)
        if (overlaps(mine[x], bytes, mine[y], bytes)) return bad(at, std::string(names[x]) + " and " + names[y] + " overlap");
    // Buffers written by two entries would be updated twice.
    for (size_t k = 0; k < i; ++k) {
      const ParamBuffer& o = a.buffers[k];
      const uint64_t ob = uint64_t(o.param_len) * 4;
      const void* theirs[] = {o.param, needs_m ? o.exp_avg : nullptr, adam ? o.exp_avg_sq : nullptr};
      for (const void* w : {static_cast<const void*>(b.param), needs_m ? static_cast<const void*>(b.exp_avg) : nullptr,
                            adam ? static_cast<const void*>(b.exp_avg_sq) : nullptr})
        for (const void* t : theirs)
          if (overlaps(w, bytes, t, ob)) return bad(at, "shares memory with params[" + std::to_string(k) + "]");
    }
  }
  return Status::ok();
}

optim::Step optim::make_step(const OptimizerArgs& a) {
  const OptimizerHyper& h = a.hyper;
  optim::Step s{};
  s.kind = int(a.kind);
  s.lr = float(h.lr);
  s.momentum = float(h.momentum);
  s.one_minus_dampening = float(1.0 - h.dampening);
  s.weight_decay = float(h.weight_decay);
  s.one_minus_beta1 = float(1.0 - h.beta1);
  s.beta2 = float(h.beta2);
  s.one_minus_beta2 = float(1.0 - h.beta2);
  s.eps = float(h.eps);
  const double t = double(h.step);
  s.neg_step_size = float(-(h.lr / (1.0 - std::pow(h.beta1, t))));
  s.bias_correction2_sqrt = float(std::sqrt(1.0 - std::pow(h.beta2, t)));
  s.decay = float(1.0 - h.lr * h.weight_decay);
  s.nesterov = h.nesterov;
  s.maximize = h.maximize;
  s.first = h.step == 1;
  s.has_momentum = h.momentum != 0.0;
  return s;
}

Status optimizer_step(const OptimizerArgs& a) {
  Status st = validate_optimizer(a);
  if (!st.is_ok()) return st;
  Job j;
  j.args = &a;
  j.fn = active();
  j.step = optim::make_step(a);
  for (size_t i = 0; i < a.buffers.size(); ++i)
    for (int64_t b = 0; b < a.buffers[i].param_len; b += kJob) j.chunks.push_back({i, b, std::min(b + kJob, a.buffers[i].param_len)});
  if (j.chunks.size() == 1)
    run_chunk(&j, 0);
  else if (!j.chunks.empty())
    parallel_for(j.chunks.size(), run_chunk, &j);
  return Status::ok();
}

}  // namespace fuseloss
