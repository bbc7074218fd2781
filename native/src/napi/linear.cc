// linearForward / linearBackward (+ Async) and fmaPeak. Positional arguments (the TS layer normalises):
//   linearForward(x, weight, bias|null, batch, in, out, y) -> 0
//   linearBackward(x|null, gradOut, weight|null, batch, in, out, gradWeight|null, gradBias|null,
//                  gradInput|null, accumulate) -> 0
#include <napi.h>

#include "args.h"
#include "fuseloss/linear.h"
#include "kernel_call.h"
#include "napi_exports.h"

namespace fuseloss {
namespace napi {
namespace {

template <class T>
void set(LinearArgs* a, const ArrayArg<T>& arr, T** data, int64_t* len) {
  *data = arr.data;
  *len = arr.present ? arr.length : -1;
}

Status dims(const Napi::CallbackInfo& info, size_t at, LinearArgs* a) {
  const int64_t kMax = int64_t(1) << 40;
  Status st;
  if (!(st = integer(info[at], "batch", 0, kMax, &a->batch)).is_ok() ||
      !(st = integer(info[at + 1], "inFeatures", 0, kMax, &a->in)).is_ok() ||
      !(st = integer(info[at + 2], "outFeatures", 0, kMax, &a->out)).is_ok())
    return st;
  return Status::ok();
}

Status parse_forward(const Napi::CallbackInfo& info, LinearArgs* a) {
  if (info.Length() < 7) return Status::type_error("linearForward: expected 7 arguments from the TS layer");
  ArrayArg<const float> x, w, b;
  ArrayArg<float> y;
  Status st;
  if (!(st = float_array(info[0], "x", false, &x)).is_ok() || !(st = float_array(info[1], "weight", false, &w)).is_ok() ||
      !(st = float_array(info[2], "bias", true, &b)).is_ok() || !(st = dims(info, 3, a)).is_ok() ||
      !(st = float_array(info[6], "out.output", false, &y)).is_ok())
    return st;
  set(a, x, &a->x, &a->x_len), set(a, w, &a->weight, &a->weight_len), set(a, b, &a->bias, &a->bias_len), set(a, y, &a->y, &a->y_len);
  return Status::ok();
}

Status parse_backward(const Napi::CallbackInfo& info, LinearArgs* a) {
  if (info.Length() < 10) return Status::type_error("linearBackward: expected 10 arguments from the TS layer");
  ArrayArg<const float> x, go, w;
  ArrayArg<float> gw, gb, gi;
  Status st;
  if (!(st = float_array(info[0], "x", true, &x)).is_ok() || !(st = float_array(info[1], "gradOut", false, &go)).is_ok() ||
      !(st = float_array(info[2], "weight", true, &w)).is_ok() || !(st = dims(info, 3, a)).is_ok() ||
      !(st = float_array(info[6], "out.gradWeight", true, &gw)).is_ok() ||
      !(st = float_array(info[7], "out.gradBias", true, &gb)).is_ok() || !(st = float_array(info[8], "out.gradInput", true, &gi)).is_ok())
    return st;
  if (!info[9].IsBoolean()) return Status::type_error("linearBackward: accumulate must be a boolean");
  a->accumulate = info[9].As<Napi::Boolean>().Value();
  set(a, x, &a->x, &a->x_len), set(a, go, &a->grad_out, &a->grad_out_len), set(a, w, &a->weight, &a->weight_len);
  set(a, gw, &a->grad_weight, &a->grad_weight_len), set(a, gb, &a->grad_bias, &a->grad_bias_len),
      set(a, gi, &a->grad_input, &a->grad_input_len);
  return Status::ok();
}

Status forward(const LinearArgs& a, double* r) {
  *r = 0.0;
  return linear_forward(a);
}
Status backward(const LinearArgs& a, double* r) {
  *r = 0.0;
  return linear_backward(a);
}

// multiHeadBackward(x|null, batch, in, heads: [outF, weight, gradOut, gradWeight|null, gradBias|null,
//                   gradInput|null][], gram: Float64Array(T·T)|null, accumulate) -> 0
struct MultiHeadCall {
  MultiHeadArgs m;
  double* gram = nullptr;
};

Status parse_heads(const Napi::CallbackInfo& info, MultiHeadCall* c) {
  if (info.Length() < 6) return Status::type_error("multiHeadBackward: expected 6 arguments from the TS layer");
  ArrayArg<const float> x;
  Status st;
  if (!(st = float_array(info[0], "x", true, &x)).is_ok()) return st;
  const int64_t kMax = int64_t(1) << 40;
  if (!(st = integer(info[1], "batch", 0, kMax, &c->m.batch)).is_ok() || !(st = integer(info[2], "inFeatures", 0, kMax, &c->m.in)).is_ok())
    return st;
  c->m.x = x.data, c->m.x_len = x.present ? x.length : -1;
  if (!info[3].IsArray()) return Status::type_error("heads: expected an array");
  Napi::Array heads = info[3].As<Napi::Array>();
  c->m.heads.resize(heads.Length());
  for (uint32_t t = 0; t < heads.Length(); ++t) {
    Napi::Value v = heads.Get(t);
    if (!v.IsArray() || v.As<Napi::Array>().Length() < 6) return Status::type_error("heads[" + std::to_string(t) + "]: expected 6 entries");
    Napi::Array h = v.As<Napi::Array>();
    HeadArgs& a = c->m.heads[t];
    ArrayArg<const float> w, go;
    ArrayArg<float> gw, gb, gi;
    if (!(st = integer(h.Get(0u), "outFeatures", 0, kMax, &a.out)).is_ok() || !(st = float_array(h.Get(1u), "weight", true, &w)).is_ok() ||
        !(st = float_array(h.Get(2u), "gradOut", false, &go)).is_ok() ||
        !(st = float_array(h.Get(3u), "out.gradWeight", true, &gw)).is_ok() ||
        !(st = float_array(h.Get(4u), "out.gradBias", true, &gb)).is_ok() ||
        !(st = float_array(h.Get(5u), "out.gradInput", true, &gi)).is_ok())
      return Status{st.kind, "heads[" + std::to_string(t) + "]: " + st.message};
    a.weight = w.data, a.weight_len = w.present ? w.length : -1, a.grad_out = go.data, a.grad_out_len = go.length;
    a.grad_weight = gw.data, a.grad_weight_len = gw.present ? gw.length : -1, a.grad_bias = gb.data,
    a.grad_bias_len = gb.present ? gb.length : -1;
    a.grad_input = gi.data, a.grad_input_len = gi.present ? gi.length : -1;
  }
  if (!info[4].IsNull() && !info[4].IsUndefined()) {
    if (!info[4].IsTypedArray() || info[4].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
      return Status::type_error("gram: expected a Float64Array");
    Napi::TypedArray ta = info[4].As<Napi::TypedArray>();
    if (int64_t(ta.ElementLength()) != int64_t(heads.Length()) * heads.Length()) return Status::range_error("gram: expected T·T elements");
    c->gram = reinterpret_cast<double*>(static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset());
  }
  if (!info[5].IsBoolean()) return Status::type_error("multiHeadBackward: accumulate must be a boolean");
  c->m.accumulate = info[5].As<Napi::Boolean>().Value();
  return Status::ok();
}

// The addon's multi-head backward (the CPU's, or the one register_linear_backend was given).
Status (*g_heads)(const MultiHeadArgs&, double*) = multi_head_backward;

Status heads_backward(const MultiHeadCall& c, double* r) {
  *r = 0.0;
  return g_heads(c.m, c.gram);
}

Napi::Value FmaPeak(const Napi::CallbackInfo& info) {
  double ms = 50.0;
  if (info.Length() > 0 && info[0].IsNumber()) ms = info[0].As<Napi::Number>().DoubleValue();
  const bool all = info.Length() > 1 && info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
  return Napi::Number::New(info.Env(), all ? fma_peak_all_gflops(ms) : fma_peak_gflops(ms));
}

}  // namespace

void register_linear_backend(Napi::Env env, Napi::Object exports, KernelFn<LinearArgs> fwd, KernelFn<LinearArgs> bwd,
                             Status (*heads)(const MultiHeadArgs&, double*)) {
  register_kernel<LinearArgs, parse_forward>(env, exports, "linearForward", fwd);
  register_kernel<LinearArgs, parse_backward>(env, exports, "linearBackward", bwd);
  g_heads = heads;  // one backend per addon
  register_kernel<MultiHeadCall, parse_heads>(env, exports, "multiHeadBackward", heads_backward);
}

void register_linear(Napi::Env env, Napi::Object exports) {
  register_linear_backend(env, exports, forward, backward, multi_head_backward);
  exports.Set("fmaPeak", Napi::Function::New(env, FmaPeak, "fmaPeak"));
}

}  // namespace napi
}  // namespace fuseloss
