// Gradient-reduction bindings. Each has a sync form and an Async form (a Promise, run on a worker thread
// with every argument kept alive). Arguments (the TS layer checks and normalises them):
//   gramMatrix(grads: Float32Array[], out: Float64Array(T·T))
//   combineGradients(grads, coef: Float64Array(T), out: Float32Array)
//   gradDrop(grads, seed, out)
//   totalNorm(arrays: Float32Array[], p) -> number          scaleArrays(arrays, factor)
//   clipValues(arrays, value)                                accumulateF64(acc: Float64Array, g)
//   readF64(acc: Float64Array, divisor, out)
//   emaUpdate(buffers: Float32Array[], grads: Float32Array[], keep, norms: Float64Array(T))   (CPU only)
#include <napi.h>

#include <functional>
#include <memory>
#include <vector>

#include "args.h"
#include "kernel_call.h"
#include "fuseloss/reduce.h"
#include "napi_exports.h"

namespace fuseloss {
namespace napi {
namespace {

template <class T>
Status typed(const Napi::Value& v, napi_typedarray_type type, const char* type_name, const char* name, T** data, int64_t* len) {
  void* d = nullptr;
  bool present = false;
  Status st = typed_array(v, type, type_name, name, false, &d, len, &present);
  *data = static_cast<T*>(d);
  return st;
}

// A JS array of Float32Arrays.
Status float_arrays(const Napi::Value& v, const char* name, std::vector<float*>* ptrs, std::vector<int64_t>* lens) {
  if (!v.IsArray()) return Status::type_error(std::string("Expected an array of Float32Arrays for ") + name);
  Napi::Array a = v.As<Napi::Array>();
  ptrs->resize(a.Length()), lens->resize(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) {
    const std::string item = std::string(name) + "[" + std::to_string(i) + "]";
    Status st = typed<float>(a.Get(i), napi_float32_array, "Float32Array", item.c_str(), &(*ptrs)[i], &(*lens)[i]);
    if (!st.is_ok()) return st;
  }
  return Status::ok();
}

// Same-length task gradients.
Status task_grads(const Napi::Value& v, std::vector<float*>* ptrs, int64_t* n) {
  std::vector<int64_t> lens;
  Status st = float_arrays(v, "grads", ptrs, &lens);
  if (!st.is_ok()) return st;
  if (ptrs->empty()) return Status::range_error("grads: expected at least one gradient (T >= 1)");
  *n = lens[0];
  for (size_t t = 1; t < lens.size(); ++t)
    if (lens[t] != *n)
      return Status::range_error("grads[" + std::to_string(t) + "]: expected " + std::to_string(*n) +
                                 " elements (the length of grads[0]) but received " + std::to_string(lens[t]));
  return Status::ok();
}

using Work = std::function<Status(double*)>;
using Parser = Status (*)(const Napi::CallbackInfo&, Work*);

class Worker : public PromiseWorker {
 public:
  Worker(Napi::Env env, const Napi::CallbackInfo& info, Work work) : PromiseWorker(env, info, "fuseloss.reduce"), work_(std::move(work)) {}

 protected:
  void Execute() override { status_ = work_(&result_); }
  Napi::Value Result(Napi::Env env) override { return Napi::Number::New(env, result_); }

 private:
  Work work_;
  double result_ = 0.0;
};

template <Parser P>
Napi::Value sync(const Napi::CallbackInfo& info) {
  Work work;
  double r = 0.0;
  Status st = P(info, &work);
  if (st.is_ok()) st = work(&r);
  if (!st.is_ok()) {
    to_js_error(info.Env(), st).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  return Napi::Number::New(info.Env(), r);
}

template <Parser P>
Napi::Value async(const Napi::CallbackInfo& info) {
  Work work;
  Status st = P(info, &work);
  if (!st.is_ok()) return rejected(info.Env(), st);
  return (new Worker(info.Env(), info, std::move(work)))->Start();
}

// gramMatrix and combineGradients take their backend's function from the binding's data pointer.
Status parse_gram(const Napi::CallbackInfo& info, Work* work) {
  const GramFn F = static_cast<const GradientFns*>(info.Data())->gram;
  auto g = std::make_shared<std::vector<float*>>();
  int64_t n = 0, out_len = 0;
  double* out = nullptr;
  Status st = task_grads(info[0], g.get(), &n);
  if (!st.is_ok()) return st;
  if (!(st = typed<double>(info[1], napi_float64_array, "Float64Array", "out", &out, &out_len)).is_ok()) return st;
  const int T = int(g->size());
  if (out_len != int64_t(T) * T) return Status::range_error("out: expected T·T elements");
  *work = [F, g, T, n, out](double*) { return F(g->data(), T, n, out); };
  return Status::ok();
}

Status parse_combine(const Napi::CallbackInfo& info, Work* work) {
  const CombineFn F = static_cast<const GradientFns*>(info.Data())->combine;
  auto g = std::make_shared<std::vector<float*>>();
  int64_t n = 0, coef_len = 0, out_len = 0;
  double* coef = nullptr;
  float* out = nullptr;
  Status st = task_grads(info[0], g.get(), &n);
  if (!st.is_ok()) return st;
  if (!(st = typed<double>(info[1], napi_float64_array, "Float64Array", "coefficients", &coef, &coef_len)).is_ok()) return st;
  if (!(st = typed<float>(info[2], napi_float32_array, "Float32Array", "out", &out, &out_len)).is_ok()) return st;
  const int T = int(g->size());
  if (coef_len != T) return Status::range_error("coefficients: expected one per gradient (" + std::to_string(T) + ")");
  if (out_len != n) return Status::range_error("out: expected " + std::to_string(n) + " elements (the gradients' length)");
  auto c = std::make_shared<std::vector<double>>(coef, coef + coef_len);
  *work = [F, g, c, T, n, out](double*) { return F(g->data(), T, n, c->data(), out); };
  return Status::ok();
}

Status parse_graddrop(const Napi::CallbackInfo& info, Work* work) {
  const GradientFns::GradDrop F = static_cast<const GradientFns*>(info.Data())->grad_drop;
  auto g = std::make_shared<std::vector<float*>>();
  int64_t n = 0, out_len = 0, seed = 0;
  float* out = nullptr;
  Status st = task_grads(info[0], g.get(), &n);
  if (!st.is_ok()) return st;
  if (!(st = integer(info[1], "seed", 0, (int64_t(1) << 53) - 1, &seed)).is_ok()) return st;
  if (!(st = typed<float>(info[2], napi_float32_array, "Float32Array", "out", &out, &out_len)).is_ok()) return st;
  if (out_len != n) return Status::range_error("out: expected " + std::to_string(n) + " elements (the gradients' length)");
  const int T = int(g->size());
  *work = [F, g, T, n, seed, out](double*) { return F(g->data(), T, n, uint64_t(seed), out); };
  return Status::ok();
}

struct ArrayList {
  std::vector<float*> ptrs;
  std::vector<int64_t> lens;
};

Status parse_norm(const Napi::CallbackInfo& info, Work* work) {
  const GradientFns::Norm F = static_cast<const GradientFns*>(info.Data())->total_norm;
  auto l = std::make_shared<ArrayList>();
  double p = 2.0;
  Status st = float_arrays(info[0], "grads", &l->ptrs, &l->lens);
  if (!st.is_ok()) return st;
  if (!(st = number(info[1], "normType", &p)).is_ok()) return st;
  *work = [F, l, p](double* r) { return F(l->ptrs.data(), l->lens.data(), int(l->ptrs.size()), p, r); };
  return Status::ok();
}

Status parse_scale(const Napi::CallbackInfo& info, Work* work) {
  const GradientFns::Each F = static_cast<const GradientFns*>(info.Data())->scale;
  auto l = std::make_shared<ArrayList>();
  double f = 1.0;
  Status st = float_arrays(info[0], "grads", &l->ptrs, &l->lens);
  if (!st.is_ok()) return st;
  if (!(st = number(info[1], "factor", &f)).is_ok()) return st;
  *work = [F, l, f](double*) { return F(l->ptrs.data(), l->lens.data(), int(l->ptrs.size()), float(f)); };
  return Status::ok();
}

Status parse_clip(const Napi::CallbackInfo& info, Work* work) {
  const GradientFns::Each F = static_cast<const GradientFns*>(info.Data())->clip;
  auto l = std::make_shared<ArrayList>();
  double v = 0.0;
  Status st = float_arrays(info[0], "grads", &l->ptrs, &l->lens);
  if (!st.is_ok()) return st;
  if (!(st = number(info[1], "clipValue", &v)).is_ok()) return st;
  *work = [F, l, v](double*) { return F(l->ptrs.data(), l->lens.data(), int(l->ptrs.size()), float(v)); };
  return Status::ok();
}

Status parse_accumulate(const Napi::CallbackInfo& info, Work* work) {
  const auto F = static_cast<const GradientFns*>(info.Data())->accumulate;
  double* acc = nullptr;
  float* g = nullptr;
  int64_t acc_len = 0, g_len = 0;
  Status st;
  if (!(st = typed<double>(info[0], napi_float64_array, "Float64Array", "accumulator", &acc, &acc_len)).is_ok()) return st;
  if (!(st = typed<float>(info[1], napi_float32_array, "Float32Array", "grad", &g, &g_len)).is_ok()) return st;
  if (g_len != acc_len) return Status::range_error("grad: expected " + std::to_string(acc_len) + " elements (the accumulator's length)");
  *work = [F, acc, g, g_len](double*) { return F(acc, g, g_len); };
  return Status::ok();
}

Status parse_read(const Napi::CallbackInfo& info, Work* work) {
  const auto F = static_cast<const GradientFns*>(info.Data())->read;
  double* acc = nullptr;
  float* out = nullptr;
  int64_t acc_len = 0, out_len = 0;
  double d = 1.0;
  Status st;
  if (!(st = typed<double>(info[0], napi_float64_array, "Float64Array", "accumulator", &acc, &acc_len)).is_ok()) return st;
  if (!(st = number(info[1], "divisor", &d)).is_ok()) return st;
  if (!(st = typed<float>(info[2], napi_float32_array, "Float32Array", "out", &out, &out_len)).is_ok()) return st;
  if (out_len != acc_len) return Status::range_error("out: expected " + std::to_string(acc_len) + " elements (the accumulator's length)");
  *work = [F, acc, d, out, out_len](double*) { return F(acc, out_len, d, out); };
  return Status::ok();
}

Status parse_ema(const Napi::CallbackInfo& info, Work* work) {
  auto buffers = std::make_shared<std::vector<float*>>();
  auto grads = std::make_shared<std::vector<float*>>();
  std::vector<int64_t> lens;
  int64_t n = 0, norms_len = 0;
  double keep = 0.0, *norms = nullptr;
  Status st = float_arrays(info[0], "buffers", buffers.get(), &lens);
  if (!st.is_ok()) return st;
  if (!(st = task_grads(info[1], grads.get(), &n)).is_ok()) return st;
  const int T = int(grads->size());
  if (int(buffers->size()) != T) return Status::range_error("buffers: expected one per gradient (" + std::to_string(T) + ")");
  for (int t = 0; t < T; ++t)
    if (lens[size_t(t)] != n)
      return Status::range_error("buffers[" + std::to_string(t) + "]: expected " + std::to_string(n) + " elements (the gradients' length)");
  if (!(st = number(info[2], "keep", &keep)).is_ok()) return st;
  if (!(keep >= 0.0 && keep <= 1.0)) return Status::range_error("keep: expected a number in [0, 1]");
  if (!(st = typed<double>(info[3], napi_float64_array, "Float64Array", "norms", &norms, &norms_len)).is_ok()) return st;
  if (norms_len != T) return Status::range_error("norms: expected one per gradient (" + std::to_string(T) + ")");
  *work = [buffers, grads, T, n, keep, norms](double*) { return ema_update(buffers->data(), grads->data(), T, n, keep, norms); };
  return Status::ok();
}

template <Parser P>
void reg(Napi::Env env, Napi::Object exports, const char* name, void* data = nullptr) {
  exports.Set(name, Napi::Function::New(env, sync<P>, name, data));
  const std::string a = std::string(name) + "Async";
  exports.Set(a, Napi::Function::New(env, async<P>, a, data));
}

}  // namespace

void register_gradient_passes(Napi::Env env, Napi::Object exports, const GradientFns* f) {
  void* data = const_cast<GradientFns*>(f);
  reg<parse_gram>(env, exports, "gramMatrix", data);
  reg<parse_combine>(env, exports, "combineGradients", data);
  reg<parse_graddrop>(env, exports, "gradDrop", data);
  reg<parse_norm>(env, exports, "totalNorm", data);
  reg<parse_scale>(env, exports, "scaleArrays", data);
  reg<parse_clip>(env, exports, "clipValues", data);
  reg<parse_accumulate>(env, exports, "accumulateF64", data);
  reg<parse_read>(env, exports, "readF64", data);
}

void register_reduce(Napi::Env env, Napi::Object exports) {
  static const GradientFns cpu{gram_matrix, combine_gradients, grad_drop, total_norm, scale_arrays, clip_values, accumulate_f64, read_f64};
  register_gradient_passes(env, exports, &cpu);
  reg<parse_ema>(env, exports, "emaUpdate");
}

}  // namespace napi
}  // namespace fuseloss
