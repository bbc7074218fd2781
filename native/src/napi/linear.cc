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
  if (!(st = integer(info[at], "batch", 0, kMax, &a->batch)).is_ok() || !(st = integer(info[at + 1], "inFeatures", 0, kMax, &a->in)).is_ok() ||
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
      !(st = float_array(info[6], "out.gradWeight", true, &gw)).is_ok() || !(st = float_array(info[7], "out.gradBias", true, &gb)).is_ok() ||
      !(st = float_array(info[8], "out.gradInput", true, &gi)).is_ok())
    return st;
  if (!info[9].IsBoolean()) return Status::type_error("linearBackward: accumulate must be a boolean");
  a->accumulate = info[9].As<Napi::Boolean>().Value();
  set(a, x, &a->x, &a->x_len), set(a, go, &a->grad_out, &a->grad_out_len), set(a, w, &a->weight, &a->weight_len);
  set(a, gw, &a->grad_weight, &a->grad_weight_len), set(a, gb, &a->grad_bias, &a->grad_bias_len), set(a, gi, &a->grad_input, &a->grad_input_len);
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

Napi::Value FmaPeak(const Napi::CallbackInfo& info) {
  double ms = 50.0;
  if (info.Length() > 0 && info[0].IsNumber()) ms = info[0].As<Napi::Number>().DoubleValue();
  return Napi::Number::New(info.Env(), fma_peak_gflops(ms));
}

}  // namespace

void register_linear(Napi::Env env, Napi::Object exports) {
  register_kernel<LinearArgs, parse_forward>(env, exports, "linearForward", forward);
  register_kernel<LinearArgs, parse_backward>(env, exports, "linearBackward", backward);
  exports.Set("fmaPeak", Napi::Function::New(env, FmaPeak, "fmaPeak"));
}

}  // namespace napi
}  // namespace fuseloss
