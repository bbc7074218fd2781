// Conversions from JS values to core arguments. Only native/src/napi/ includes napi.h.
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "fuseloss/status.h"

namespace fuseloss {
namespace napi {

// A typed array argument: pointer and element count, or null when the value is null/undefined.
template <class T>
struct ArrayArg {
  T* data = nullptr;
  int64_t length = -1;
  bool present = false;
};

// The native handle of a DeviceBuffer (made by the CUDA addon): an External tagged kDeviceTag holding its
// device memory. The CUDA addon's calls accept one wherever they accept a typed array (the core tells
// device pointers from host ones); the CPU addon refuses it with a clear error.
struct DeviceMem {
  void* ptr = nullptr;  // null once disposed
  int64_t length = 0;   // elements
  napi_typedarray_type type = napi_float32_array;
};
inline const napi_type_tag kDeviceTag = {0x667573656c6f7373ULL, 0x6465766963656275ULL};

inline bool is_device_buffer(const Napi::Value& v) { return v.IsExternal() && v.As<Napi::External<DeviceMem>>().CheckTypeTag(&kDeviceTag); }

// One napi_typeof and one napi_get_typedarray_info per array (node-addon-api's TypedArray accessors each
// call napi_get_typedarray_info again): this runs for every array of every call, so it is the per-call cost.
inline Status typed_array(const Napi::Value& v, napi_typedarray_type type, const char* type_name, const char* name, bool optional,
                          void** data, int64_t* length, bool* present) {
  *present = false;
  const napi_env env = v.Env();
  napi_valuetype vt = napi_undefined;
  if (napi_typeof(env, v, &vt) != napi_ok) return Status::type_error(std::string("Expected ") + type_name + " for " + name);
  if (vt == napi_null || vt == napi_undefined) {
    if (optional) return Status::ok();
    return Status::type_error(std::string("Expected ") + type_name + " for " + name + " but received " +
                              (vt == napi_null ? "null" : "undefined"));
  }
  if (vt == napi_external && is_device_buffer(v)) {
#ifdef FUSELOSS_NAPI_DEVICE_BUFFERS
    const DeviceMem* m = v.As<Napi::External<DeviceMem>>().Data();
    if (!m->ptr) return Status::type_error(std::string(name) + ": the DeviceBuffer was disposed");
    if (m->type != type) return Status::type_error(std::string("Expected ") + type_name + " (or a DeviceBuffer of that type) for " + name);
    *data = m->ptr;
    *length = m->length;
    *present = true;
    return Status::ok();
#else
    return Status::type_error(std::string(name) +
                              ": a DeviceBuffer lives on the GPU; pass backend 'cuda' (or copy it to the host with toHost())");
#endif
  }
  bool is_typed = false;
  napi_typedarray_type t = napi_int8_array;
  size_t len = 0;
  void* p = nullptr;  // the first element (byte offset applied)
  napi_value buffer = nullptr;
  size_t offset = 0;
  if (vt != napi_object || napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, v, &t, &len, &p, &buffer, &offset) != napi_ok || t != type)
    return Status::type_error(std::string("Expected ") + type_name + " for " + name);
  if (len > 0 && p == nullptr) return Status::type_error(std::string(name) + ": its ArrayBuffer is detached");
  *data = p;
  *length = int64_t(len);
  *present = true;
  return Status::ok();
}

template <class T>
Status float_array(const Napi::Value& v, const char* name, bool optional, ArrayArg<T>* out) {
  void* d = nullptr;
  Status st = typed_array(v, napi_float32_array, "Float32Array", name, optional, &d, &out->length, &out->present);
  out->data = static_cast<T*>(d);
  return st;
}

inline Status int32_array(const Napi::Value& v, const char* name, ArrayArg<const int32_t>* out) {
  void* d = nullptr;
  Status st = typed_array(v, napi_int32_array, "Int32Array", name, false, &d, &out->length, &out->present);
  out->data = static_cast<const int32_t*>(d);
  return st;
}

inline Status number(const Napi::Value& v, const char* name, double* out) {
  // napi_get_value_double refuses anything but a number (one N-API call instead of a type check and a read)
  if (napi_get_value_double(v.Env(), v, out) != napi_ok) return Status::type_error(std::string("Expected a number for ") + name);
  return Status::ok();
}

inline Status integer(const Napi::Value& v, const char* name, int64_t lo, int64_t hi, int64_t* out) {
  double d = 0.0;
  Status st = number(v, name, &d);
  if (!st.is_ok()) return st;
  if (!(d >= double(lo) && d <= double(hi)) || d != std::floor(d))
    return Status::range_error(std::string("Expected an integer in [") + std::to_string(lo) + ", " + std::to_string(hi) + "] for " + name);
  *out = static_cast<int64_t>(d);
  return Status::ok();
}

inline Napi::Error to_js_error(Napi::Env env, const Status& st) {
  switch (st.kind) {
    case Status::Kind::Type:
      return Napi::TypeError::New(env, st.message);
    case Status::Kind::Range:
      return Napi::RangeError::New(env, st.message);
    default:
      return Napi::Error::New(env, st.message);
  }
}

}  // namespace napi
}  // namespace fuseloss
