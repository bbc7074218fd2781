// The CPU addon's entry point: registers each family of bindings.
#include <napi.h>

#include "napi_exports.h"

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  fuseloss::napi::register_runtime(env, exports);
  fuseloss::napi::register_cross_entropy(env, exports, fuseloss::cross_entropy);
  fuseloss::napi::register_elementwise(env, exports);
  fuseloss::napi::register_rowwise(env, exports);
  fuseloss::napi::register_multi_task(env, exports, fuseloss::multi_task_loss);
  fuseloss::napi::register_linear(env, exports);
  fuseloss::napi::register_linear_cross_entropy(env, exports);
  fuseloss::napi::register_reduce(env, exports);
  fuseloss::napi::register_optim(env, exports);
  return exports;
}
}  // namespace

NODE_API_MODULE(fuseloss, Init)
