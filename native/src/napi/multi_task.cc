// multiTask / multiTaskAsync: every task of a MultiTaskLoss step in one call. Arguments (the TS layer
// builds them), flat:
//   (rule (0 fixed, 1 geometric, 2 log), coef: Float64Array|null, offset: Float64Array|null, eps, normalize,
//    out: Float64Array(3·T), T, then per task: family, k, that family's k positional arguments)
// out receives the losses [0, T), the weights applied after the pass [T, 2T) and the empty flags [2T, 3T).
// The sync form returns undefined; the async form a Promise<void> settled after `out` is written.
#include <napi.h>

#include "args.h"
#include "kernel_call.h"
#include "fuseloss/multi_task.h"
#include "napi_exports.h"
#include "parse.h"

namespace fuseloss {
namespace napi {
namespace {

Status float64_array(const Napi::Value& v, const char* name, bool optional, double** data, int64_t* length) {
  *data = nullptr, *length = 0;
  if (optional && (v.IsNull() || v.IsUndefined())) return Status::ok();
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    return Status::type_error(std::string("Expected a Float64Array for ") + name);
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  Napi::ArrayBuffer buffer = ta.ArrayBuffer();
  *length = int64_t(ta.ElementLength());
  if (*length > 0 && buffer.Data() == nullptr) return Status::type_error(std::string(name) + ": its ArrayBuffer is detached");
  *data = reinterpret_cast<double*>(static_cast<uint8_t*>(buffer.Data()) + ta.ByteOffset());
  return Status::ok();
}

struct Call {
  MultiTaskArgs args;
  double* out = nullptr;
  MultiTaskFn compute = nullptr;  // the backend's (from the function's data pointer)
};

Status parse(const Napi::CallbackInfo& info, Call* call) {
  call->compute = reinterpret_cast<MultiTaskFn>(info.Data());
  if (info.Length() < 7) return Status::type_error("multiTask: expected at least 7 arguments from the TS layer");
  MultiTaskArgs& a = call->args;
  int64_t rule = 0, coef_len = 0, offset_len = 0, out_len = 0, T = 0;
  double *coef = nullptr, *offset = nullptr;
  Status st;
  if (!(st = integer(info[0], "rule", 0, 2, &rule)).is_ok()) return st;
  if (!(st = float64_array(info[1], "coef", true, &coef, &coef_len)).is_ok()) return st;
  if (!(st = float64_array(info[2], "offset", true, &offset, &offset_len)).is_ok()) return st;
  if (!(st = number(info[3], "eps", &a.eps)).is_ok()) return st;
  if (!info[4].IsBoolean()) return Status::type_error("multiTask: normalize must be a boolean");
  if (!(st = float64_array(info[5], "out", false, &call->out, &out_len)).is_ok()) return st;
  if (!(st = integer(info[6], "task count", 0, 1 << 20, &T)).is_ok()) return st;
  if (out_len != 3 * T) return Status::range_error("out: expected 3 * tasks elements");
  a.rule = WeightRule(rule);
  a.normalize = info[4].As<Napi::Boolean>().Value();
  if (coef) a.coef.assign(coef, coef + coef_len);
  if (offset) a.offset.assign(offset, offset + offset_len);
  a.tasks.resize(size_t(T));
  size_t pos = 7;
  for (size_t i = 0; i < size_t(T); ++i) {
    auto where = [i] { return "tasks[" + std::to_string(i) + "]: "; };  // built only for an error
    int64_t family = 0, count = 0;
    if (pos + 2 > info.Length()) return Status::type_error(where() + "missing");
    if (!(st = integer(info[pos], "family", 0, int64_t(TaskFamily::kCount) - 1, &family)).is_ok() ||
        !(st = integer(info[pos + 1], "argument count", 0, 64, &count)).is_ok())
      return Status{st.kind, where() + st.message};
    if (pos + 2 + size_t(count) > info.Length()) return Status::type_error(where() + "arguments missing");
    const ArgRun src{info, pos + 2, size_t(count)};
    TaskArgs& t = a.tasks[i];
    t.family = TaskFamily(family);
    switch (t.family) {
      case TaskFamily::CrossEntropy:
      case TaskFamily::Nll:
        st = parse_cross_entropy(src, &t.ce);
        break;
      case TaskFamily::Elementwise:
        st = parse_elementwise(src, &t.ew);
        break;
      default:
        st = parse_rows(src, &t.row);
        break;
    }
    if (!st.is_ok()) return Status{st.kind, where() + st.message};
    pos += 2 + size_t(count);
  }
  if (pos != info.Length()) return Status::type_error("multiTask: unexpected arguments after the last task");
  return Status::ok();
}

void write_out(const MultiTaskResult& r, double* out) {
  const size_t T = r.losses.size();
  for (size_t i = 0; i < T; ++i) out[i] = r.losses[i], out[T + i] = r.weights[i], out[2 * T + i] = r.empty[i];
}

Napi::Value MultiTask(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Call call;
  MultiTaskResult result;
  Status st = parse(info, &call);
  if (st.is_ok()) st = call.compute(call.args, &result);
  if (!st.is_ok()) {
    to_js_error(env, st).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  write_out(result, call.out);
  return env.Undefined();
}

class MultiTaskWorker : public PromiseWorker {
 public:
  MultiTaskWorker(Napi::Env env, const Napi::CallbackInfo& info, Call call)
      : PromiseWorker(env, info, "fuseloss.multiTask"), call_(std::move(call)) {}

 protected:
  void Execute() override { status_ = call_.compute(call_.args, &result_); }
  Napi::Value Result(Napi::Env env) override {
    write_out(result_, call_.out);
    return env.Undefined();
  }

 private:
  Call call_;
  MultiTaskResult result_;
};

Napi::Value MultiTaskAsync(const Napi::CallbackInfo& info) {
  Call call;
  Status st = parse(info, &call);
  if (!st.is_ok()) return rejected(info.Env(), st);
  return (new MultiTaskWorker(info.Env(), info, std::move(call)))->Start();
}

}  // namespace

void register_multi_task(Napi::Env env, Napi::Object exports, MultiTaskFn compute) {
  void* data = reinterpret_cast<void*>(compute);
  exports.Set("multiTask", Napi::Function::New(env, MultiTask, "multiTask", data));
  exports.Set("multiTaskAsync", Napi::Function::New(env, MultiTaskAsync, "multiTaskAsync", data));
}

}  // namespace napi
}  // namespace fuseloss
