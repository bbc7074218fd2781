// The CUDA addon (fuseloss_cuda.node): the same crossEntropy and elementwiseLoss bindings over the CUDA
// backend, plus device queries. Loaded lazily by src/binding.ts only when a caller asks for backend 'cuda'.
#include <cuda_runtime_api.h>
#include <napi.h>

#include "args.h"
#include "fuseloss/cuda.h"
#include "kernel_call.h"
#include "napi_exports.h"
#include "parse.h"

namespace {

Napi::Value Devices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<fuseloss::cuda::DeviceInfo> list;
  fuseloss::Status st = fuseloss::cuda::devices(&list);
  if (!st.is_ok()) {
    fuseloss::napi::to_js_error(env, st).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array out = Napi::Array::New(env, list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("index", list[i].index);
    d.Set("name", list[i].name);
    d.Set("totalMemory", double(list[i].total_memory));
    d.Set("computeCapability", std::to_string(list[i].major) + "." + std::to_string(list[i].minor));
    d.Set("multiprocessors", list[i].multiprocessors);
    out.Set(uint32_t(i), d);
  }
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  fuseloss::napi::register_cross_entropy(env, exports, fuseloss::cuda::cross_entropy);
  fuseloss::napi::register_kernel<fuseloss::ElementwiseArgs, fuseloss::napi::parse_elementwise<Napi::CallbackInfo>>(
      env, exports, "elementwiseLoss", fuseloss::cuda::elementwise_loss);
  fuseloss::napi::register_multi_task(env, exports, fuseloss::cuda::multi_task_loss);
  exports.Set("devices", Napi::Function::New(env, Devices, "devices"));
  exports.Set("cudaRuntimeVersion", Napi::Number::New(env, CUDART_VERSION));
  return exports;
}

}  // namespace

NODE_API_MODULE(fuseloss_cuda, Init)
