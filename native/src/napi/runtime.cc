// Runtime controls: threads, ISA dispatch, build facts, and the roofline probe used by the benchmarks.
#include <napi.h>

#include "args.h"
#include "fuseloss/bandwidth.h"
#include "fuseloss/cpu.h"
#include "fuseloss/thread_pool.h"
#include "napi_exports.h"

namespace fuseloss {
namespace napi {
namespace {

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  int64_t n = 1;
  Status st = integer(info[0], "threads", 1, 1024, &n);
  if (!st.is_ok()) {
    to_js_error(info.Env(), st).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  set_num_threads(int(n));
  return info.Env().Undefined();
}

Napi::Value NumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), num_threads()); }
Napi::Value HardwareThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), hardware_threads()); }

Napi::Value GetIsa(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), isa_name(active_isa())); }

Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Isa isa;
  if (!info[0].IsString() || !parse_isa(info[0].As<Napi::String>().Utf8Value(), &isa)) {
    Napi::TypeError::New(env, "Expected 'baseline', 'avx2' or 'avx512' for isa").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (!set_active_isa(isa)) {
    Napi::RangeError::New(
        env, std::string("isa: this CPU cannot run '") + isa_name(isa) + "' (best here: " + isa_name(best_supported_isa()) + ")")
        .ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

Napi::Value SupportedIsas(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
  uint32_t k = 0;
  for (Isa isa : {Isa::Baseline, Isa::Avx2, Isa::Avx512})
    if (isa_supported(isa)) out.Set(k++, Napi::String::New(env, isa_name(isa)));
  return out;
}

Napi::Value ScaleCopy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ArrayArg<const float> x;
  ArrayArg<float> y;
  double a = 1.0;
  Status st = float_array(info[0], "x", false, &x);
  if (st.is_ok()) st = float_array(info[1], "y", false, &y);
  if (st.is_ok()) st = number(info[2], "a", &a);
  if (st.is_ok() && x.length != y.length) st = Status::range_error("y: expected the length of x");
  if (!st.is_ok()) {
    to_js_error(env, st).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  scale_copy(x.data, y.data, x.length, float(a));
  return env.Undefined();
}

Napi::Value FirstNonFinite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ArrayArg<const float> x;
  Status st = float_array(info[0], "array", false, &x);
  if (!st.is_ok()) {
    to_js_error(env, st).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, double(first_non_finite(x.data, x.length)));
}

}  // namespace

void register_runtime(Napi::Env env, Napi::Object exports) {
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads));
  exports.Set("numThreads", Napi::Function::New(env, NumThreads));
  exports.Set("hardwareThreads", Napi::Function::New(env, HardwareThreads));
  exports.Set("isa", Napi::Function::New(env, GetIsa));
  exports.Set("setIsa", Napi::Function::New(env, SetIsa));
  exports.Set("supportedIsas", Napi::Function::New(env, SupportedIsas));
  exports.Set("scaleCopy", Napi::Function::New(env, ScaleCopy));
  exports.Set("firstNonFinite", Napi::Function::New(env, FirstNonFinite));
  exports.Set("isaEnvError", Napi::String::New(env, isa_env_error()));
  Napi::Object build = Napi::Object::New(env);
  build.Set("compiler", Napi::String::New(env, __VERSION__));
  build.Set("napiVersion", Napi::Number::New(env, NAPI_VERSION));
  exports.Set("build", build);
}

}  // namespace napi
}  // namespace fuseloss
