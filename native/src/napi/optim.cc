// optimizerStep (+ Async). Positional arguments (the TS layer normalises):
//   optimizerStep(kind 0|1|2, hyper: Float64Array[lr, momentum, dampening, beta1, beta2, eps, weightDecay,
//                 step], nesterov, maximize, buffers: [param, grad, expAvg|null, expAvgSq|null][]) -> 0
#include <napi.h>

#include "args.h"
#include "fuseloss/optim.h"
#include "kernel_call.h"
#include "napi_exports.h"

namespace fuseloss {
namespace napi {
namespace {

Status parse(const Napi::CallbackInfo& info, OptimizerArgs* a) {
  if (info.Length() < 5) return Status::type_error("optimizerStep: expected 5 arguments from the TS layer");
  int64_t kind = 0;
  Status st;
  if (!(st = integer(info[0], "kind", 0, 2, &kind)).is_ok()) return st;
  a->kind = OptimizerKind(kind);
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[1].As<Napi::TypedArray>().ElementLength() != 8)
    return Status::type_error("optimizerStep: hyper must be a Float64Array of 8");
  Napi::Float64Array h = info[1].As<Napi::Float64Array>();
  OptimizerHyper& y = a->hyper;
  y.lr = h[0], y.momentum = h[1], y.dampening = h[2], y.beta1 = h[3], y.beta2 = h[4], y.eps = h[5], y.weight_decay = h[6];
  if (!(h[7] >= 1 && h[7] <= 9007199254740991.0 && h[7] == double(int64_t(h[7]))))
    return Status::range_error("step: expected an integer >= 1");
  y.step = int64_t(h[7]);
  if (!info[2].IsBoolean() || !info[3].IsBoolean()) return Status::type_error("optimizerStep: nesterov and maximize must be booleans");
  y.nesterov = info[2].As<Napi::Boolean>().Value();
  y.maximize = info[3].As<Napi::Boolean>().Value();
  if (!info[4].IsArray()) return Status::type_error("params: expected an array");
  Napi::Array list = info[4].As<Napi::Array>();
  a->buffers.resize(list.Length());
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value v = list.Get(i);
    const std::string at = "params[" + std::to_string(i) + "]";
    if (!v.IsArray() || v.As<Napi::Array>().Length() < 4) return Status::type_error(at + ": expected 4 entries");
    Napi::Array e = v.As<Napi::Array>();
    ArrayArg<float> p, m, s;
    ArrayArg<const float> g;
    if (!(st = float_array(e.Get(0u), "param", false, &p)).is_ok() || !(st = float_array(e.Get(1u), "grad", false, &g)).is_ok() ||
        !(st = float_array(e.Get(2u), "expAvg", true, &m)).is_ok() || !(st = float_array(e.Get(3u), "expAvgSq", true, &s)).is_ok())
      return Status{st.kind, at + ": " + st.message};
    ParamBuffer& b = a->buffers[i];
    b.param = p.data, b.param_len = p.length, b.grad = g.data, b.grad_len = g.length;
    b.exp_avg = m.data, b.exp_avg_len = m.present ? m.length : -1, b.exp_avg_sq = s.data, b.exp_avg_sq_len = s.present ? s.length : -1;
  }
  return Status::ok();
}

Status cpu_step(const OptimizerArgs& a, double* r) {
  *r = 0.0;
  return optimizer_step(a);
}

}  // namespace

void register_optim(Napi::Env env, Napi::Object exports, Status (*step)(const OptimizerArgs&, double*)) {
  register_kernel<OptimizerArgs, parse>(env, exports, "optimizerStep", step ? step : cpu_step);
}

}  // namespace napi
}  // namespace fuseloss
