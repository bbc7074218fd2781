// Sync and async (Promise) calls of a core kernel with the same argument parsing, shared by every loss.
// The async form runs the kernel on a libuv worker thread (Napi::AsyncWorker) and keeps every object
// argument (typed arrays, hence their ArrayBuffers) alive until it has finished.
#pragma once
#include <napi.h>

#include <vector>

#include "args.h"

namespace fuseloss {
namespace napi {

template <class Args>
using ParseFn = Status (*)(const Napi::CallbackInfo&, Args*);
template <class Args>
using KernelFn = Status (*)(const Args&, double*);

template <class Args>
class KernelWorker : public Napi::AsyncWorker {
 public:
  KernelWorker(Napi::Env env, const Napi::CallbackInfo& info, const Args& args, KernelFn<Args> kernel)
      : Napi::AsyncWorker(env, "fuseloss.kernel"), deferred_(Napi::Promise::Deferred::New(env)), args_(args), kernel_(kernel) {
    for (size_t i = 0; i < info.Length(); ++i)
      if (info[i].IsObject()) refs_.push_back(Napi::Persistent(info[i].As<Napi::Object>()));
  }
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override { status_ = kernel_(args_, &loss_); }
  void OnOK() override {
    settle([&](Napi::Env env) {
      if (status_.is_ok()) deferred_.Resolve(Napi::Number::New(env, loss_));
      else deferred_.Reject(to_js_error(env, status_).Value());
    });
  }
  void OnError(const Napi::Error& e) override {
    settle([&](Napi::Env) { deferred_.Reject(e.Value()); });
  }
  // Settling can fail when the environment is being torn down (a worker_thread terminated while the call
  // ran): nothing is waiting for the promise then, and an exception escaping here would abort the process.
  template <class F>
  void settle(F f) {
    try {
      f(Env());
    } catch (const Napi::Error&) {
    }
  }

 private:
  Napi::Promise::Deferred deferred_;
  Args args_;
  KernelFn<Args> kernel_;
  std::vector<Napi::ObjectReference> refs_;
  Status status_;
  double loss_ = 0.0;
};

// The kernel comes from the function's data pointer, so one binding serves several backends.
template <class Args, ParseFn<Args> Parse>
Napi::Value call_sync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args args;
  Status st = Parse(info, &args);
  double loss = 0.0;
  if (st.is_ok()) st = reinterpret_cast<KernelFn<Args>>(info.Data())(args, &loss);
  if (!st.is_ok()) {
    to_js_error(env, st).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, loss);
}

template <class Args, ParseFn<Args> Parse>
Napi::Value call_async(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args args;
  Status st = Parse(info, &args);
  if (!st.is_ok()) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(to_js_error(env, st).Value());
    return d.Promise();
  }
  auto* worker = new KernelWorker<Args>(env, info, args, reinterpret_cast<KernelFn<Args>>(info.Data()));
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

template <class Args, ParseFn<Args> Parse>
void register_kernel(Napi::Env env, Napi::Object exports, const char* name, KernelFn<Args> kernel) {
  void* data = reinterpret_cast<void*>(kernel);
  exports.Set(name, Napi::Function::New(env, call_sync<Args, Parse>, name, data));
  const std::string async_name = std::string(name) + "Async";
  exports.Set(async_name, Napi::Function::New(env, call_async<Args, Parse>, async_name, data));
}

}  // namespace napi
}  // namespace fuseloss
