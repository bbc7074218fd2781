#pragma once
#include <napi.h>

namespace fuseloss {
namespace napi {
void register_cross_entropy(Napi::Env env, Napi::Object exports);
void register_runtime(Napi::Env env, Napi::Object exports);
}  // namespace napi
}  // namespace fuseloss
