// The CUDA addon (fuseloss_cuda.node): the same crossEntropy, elementwiseLoss and multiTask bindings over
// the CUDA backend (their arrays may be DeviceBuffer handles), device memory, and device queries. Loaded lazily by src/binding.ts only when
// a caller asks for backend 'cuda'.
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

Napi::Value Fail(Napi::Env env, const fuseloss::Status& st) {
  fuseloss::napi::to_js_error(env, st).ThrowAsJavaScriptException();
  return env.Undefined();
}

using fuseloss::napi::DeviceMem;

// The DeviceBuffer behind a handle argument; null (and a pending TypeError) when it is not one or was disposed.
DeviceMem* HandleArg(const Napi::CallbackInfo& info, size_t i, bool live = true) {
  if (!fuseloss::napi::is_device_buffer(info[i])) {
    Napi::TypeError::New(info.Env(), "Expected a DeviceBuffer handle").ThrowAsJavaScriptException();
    return nullptr;
  }
  DeviceMem* m = info[i].As<Napi::External<DeviceMem>>().Data();
  if (live && !m->ptr) {
    Napi::TypeError::New(info.Env(), "The DeviceBuffer was disposed").ThrowAsJavaScriptException();
    return nullptr;
  }
  return m;
}

void FreeDeviceMem(Napi::Env, DeviceMem* m) {
  fuseloss::cuda::device_free(m->ptr);
  delete m;
}

size_t element_size(napi_typedarray_type t) { return t == napi_float64_array ? 8 : 4; }

// deviceAlloc(length, dtype: 'float32' | 'int32' | 'float64') → handle: zero-filled device memory, freed by deviceFree or, as a
// safety net, when the handle is garbage-collected.
Napi::Value DeviceAlloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t length = 0;
  fuseloss::Status st = fuseloss::napi::integer(info[0], "length", 0, int64_t(1) << 40, &length);
  if (!st.is_ok()) return Fail(env, st);
  const std::string dtype = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : std::string();
  napi_typedarray_type type = napi_float32_array;
  if (dtype == "int32")
    type = napi_int32_array;
  else if (dtype == "float64")
    type = napi_float64_array;
  else if (dtype != "float32")
    return Fail(env, fuseloss::Status::type_error("deviceAlloc: dtype must be 'float32', 'int32' or 'float64'"));
  void* p = nullptr;
  if (!(st = fuseloss::cuda::device_alloc(size_t(length) * element_size(type), &p)).is_ok()) return Fail(env, st);
  DeviceMem* m = new DeviceMem{p, length, type};
  auto ext = Napi::External<DeviceMem>::New(env, m, FreeDeviceMem);
  ext.TypeTag(&fuseloss::napi::kDeviceTag);
  return ext;
}

Napi::Value DeviceFree(const Napi::CallbackInfo& info) {
  DeviceMem* m = HandleArg(info, 0, false);
  if (!m) return info.Env().Undefined();
  fuseloss::cuda::device_free(m->ptr);
  m->ptr = nullptr;
  return info.Env().Undefined();
}

// deviceCopy(handle, typedArray, toDevice): the whole buffer, host ↔ device (lengths checked by the TS layer
// and again here).
Napi::Value DeviceCopy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceMem* m = HandleArg(info, 0);
  if (!m) return env.Undefined();
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != m->type ||
      int64_t(info[1].As<Napi::TypedArray>().ElementLength()) != m->length)
    return Fail(env, fuseloss::Status::type_error("deviceCopy: expected a typed array of the buffer's type and length"));
  Napi::TypedArray ta = info[1].As<Napi::TypedArray>();
  void* host = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  const bool to_device = info[2].ToBoolean().Value();
  const size_t bytes = size_t(m->length) * element_size(m->type);
  fuseloss::Status st =
      to_device ? fuseloss::cuda::device_copy(m->ptr, host, bytes, true) : fuseloss::cuda::device_copy(host, m->ptr, bytes, false);
  if (!st.is_ok()) return Fail(env, st);
  return env.Undefined();
}

// deviceCopyDevice(dst, src): device to device, the same length; returns the copy's time in ms (CUDA events).
Napi::Value DeviceCopyDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceMem* dst = HandleArg(info, 0);
  if (!dst) return env.Undefined();
  DeviceMem* src = HandleArg(info, 1);
  if (!src) return env.Undefined();
  if (dst->length != src->length || dst->type != src->type)
    return Fail(env, fuseloss::Status::type_error("copyFrom: expected a DeviceBuffer of the same type and length"));
  fuseloss::Status st = fuseloss::cuda::device_copy_d2d(dst->ptr, src->ptr, size_t(dst->length) * element_size(dst->type));
  if (!st.is_ok()) return Fail(env, st);
  return Napi::Number::New(env, fuseloss::cuda::last_kernel_ms());
}

// deviceZero(handle): the whole buffer set to zero bits (0.0 / 0), on the device.
Napi::Value DeviceZero(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceMem* m = HandleArg(info, 0);
  if (!m) return env.Undefined();
  fuseloss::Status st = fuseloss::cuda::device_zero(m->ptr, size_t(m->length) * element_size(m->type));
  if (!st.is_ok()) return Fail(env, st);
  return env.Undefined();
}

Napi::Value LastKernelMs(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fuseloss::cuda::last_kernel_ms()); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  fuseloss::napi::register_cross_entropy(env, exports, fuseloss::cuda::cross_entropy);
  fuseloss::napi::register_cross_entropy_like(env, exports, "nllLoss", fuseloss::cuda::nll_loss);
  fuseloss::napi::register_kernel<fuseloss::ElementwiseArgs, fuseloss::napi::parse_elementwise<Napi::CallbackInfo>>(
      env, exports, "elementwiseLoss", fuseloss::cuda::elementwise_loss);
  fuseloss::napi::register_multi_task(env, exports, fuseloss::cuda::multi_task_loss);
  fuseloss::napi::register_linear_backend(
      env, exports, [](const fuseloss::LinearArgs& a, double* r) { return *r = 0.0, fuseloss::cuda::linear_forward(a); },
      [](const fuseloss::LinearArgs& a, double* r) { return *r = 0.0, fuseloss::cuda::linear_backward(a); },
      fuseloss::cuda::multi_head_backward);
  static const fuseloss::napi::GradientFns gpu{
      fuseloss::cuda::gram_matrix,  fuseloss::cuda::combine_gradients, fuseloss::cuda::grad_drop,      fuseloss::cuda::total_norm,
      fuseloss::cuda::scale_arrays, fuseloss::cuda::clip_values,       fuseloss::cuda::accumulate_f64, fuseloss::cuda::read_f64};
  fuseloss::napi::register_gradient_passes(env, exports, &gpu);
  using fuseloss::RowLossArgs;
  using fuseloss::cuda::RowKind;
  fuseloss::napi::register_row_losses(
      env, exports,
      {[](const RowLossArgs& a, double* l) { return fuseloss::cuda::row_loss(RowKind::MultiMargin, a, l); },
       [](const RowLossArgs& a, double* l) { return fuseloss::cuda::row_loss(RowKind::MultilabelSoftMargin, a, l); },
       [](const RowLossArgs& a, double* l) { return fuseloss::cuda::row_loss(RowKind::CosineEmbedding, a, l); },
       [](const RowLossArgs& a, double* l) { return fuseloss::cuda::row_loss(RowKind::SoftF1, a, l); },
       [](const RowLossArgs& a, double* l) { return fuseloss::cuda::row_loss(RowKind::CosineDistance, a, l); }});
  fuseloss::napi::register_optim(env, exports,
                                 [](const fuseloss::OptimizerArgs& a, double* r) { return *r = 0.0, fuseloss::cuda::optimizer_step(a); });
  exports.Set("devices", Napi::Function::New(env, Devices, "devices"));
  exports.Set("deviceAlloc", Napi::Function::New(env, DeviceAlloc, "deviceAlloc"));
  exports.Set("deviceFree", Napi::Function::New(env, DeviceFree, "deviceFree"));
  exports.Set("deviceCopy", Napi::Function::New(env, DeviceCopy, "deviceCopy"));
  exports.Set("deviceCopyDevice", Napi::Function::New(env, DeviceCopyDevice, "deviceCopyDevice"));
  exports.Set("deviceZero", Napi::Function::New(env, DeviceZero, "deviceZero"));
  exports.Set("lastKernelMs", Napi::Function::New(env, LastKernelMs, "lastKernelMs"));
  exports.Set("cudaRuntimeVersion", Napi::Number::New(env, CUDART_VERSION));
  return exports;
}

}  // namespace

NODE_API_MODULE(fuseloss_cuda, Init)
