// Sync and async (Promise) calls of a core kernel with the same argument parsing, shared by every loss,
// and the promise worker every async binding (losses, multi-task, reductions) builds on.
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

// The async half of every binding: a Promise settled on the main thread after Execute() ran on a libuv
// worker thread; every object argument of the call (typed arrays, hence their ArrayBuffers) stays
// referenced until then. Subclasses set status_ in Execute() and build the resolved value in Result().
class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, const Napi::CallbackInfo& info, const char* name)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)) {
    for (size_t i = 0; i < info.Length(); ++i)
      if (info[i].IsObject()) refs_.push_back(Napi::Persistent(info[i].As<Napi::Object>()));
  }
  // Queues the worker (which deletes itself when done) and returns its promise.
  Napi::Promise Start() {
    Napi::Promise p = deferred_.Promise();
    Queue();
    return p;
  }

 protected:
  virtual Napi::Value Result(Napi::Env env) = 0;
  void OnOK() override {
    settle([this](Napi::Env env) {
      if (status_.is_ok())
        deferred_.Resolve(Result(env));
      else
        deferred_.Reject(to_js_error(env, status_).Value());
    });
  }
  void OnError(const Napi::Error& e) override {
    settle([&](Napi::Env) { deferred_.Reject(e.Value()); });
  }
  Status status_;

 private:
  // Settling can fail when the environment is being torn down (a worker_thread terminated while the call
  // ran): nothing is waiting for the promise then, and an exception escaping here would abort the process.
  template <class F>
  void settle(F f) {
    try {
      f(Env());
    } catch (const Napi::Error&) {
    }
  }
  Napi::Promise::Deferred deferred_;
  std::vector<Napi::ObjectReference> refs_;
};

// A promise already rejected with the error of a failed argument check.
inline Napi::Value rejected(Napi::Env env, const Status& st) {
  auto d = Napi::Promise::Deferred::New(env);
  d.Reject(to_js_error(env, st).Value());
  return d.Promise();
}

template <class Args>
class KernelWorker : public PromiseWorker {
 public:
  KernelWorker(Napi::Env env, const Napi::CallbackInfo& info, const Args& args, KernelFn<Args> kernel)
      : PromiseWorker(env, info, "fuseloss.kernel"), args_(args), kernel_(kernel) {}

 protected:
  void Execute() override { status_ = kernel_(args_, &loss_); }
  Napi::Value Result(Napi::Env env) override { return Napi::Number::New(env, loss_); }

 private:
  Args args_;
  KernelFn<Args> kernel_;
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
  Args args;
  Status st = Parse(info, &args);
  if (!st.is_ok()) return rejected(info.Env(), st);
  return (new KernelWorker<Args>(info.Env(), info, args, reinterpret_cast<KernelFn<Args>>(info.Data())))->Start();
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
