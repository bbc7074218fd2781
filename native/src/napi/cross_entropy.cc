// crossEntropy / crossEntropyAsync bindings, shared by the CPU addon and the CUDA addon (each registers
// its own compute function). Positional arguments (the TS layer normalises options):
//   (input, target, n, c, s, weight|null, ignoreIndex, labelSmoothing, reduction(0 none,1 mean,2 sum),
//    gradScale, gradOutput|null, grad, lossOut|null, sampleWeight|null)  ->  number (the reduced loss; 0 for 'none')
// Typed arrays are used in place (zero copy).
#include <napi.h>

#include "args.h"
#include "fuseloss/cross_entropy.h"
#include "kernel_call.h"
#include "napi_exports.h"

namespace fuseloss {
namespace napi {
namespace {

constexpr int kArgCount = 14;

Status parse(const Napi::CallbackInfo& info, CrossEntropyArgs* a) {
  if (info.Length() < kArgCount) return Status::type_error("crossEntropy: expected 14 arguments from the TS layer");
  ArrayArg<const float> input, weight, grad_output, target_prob, sample_weight;
  ArrayArg<const int32_t> target_index;
  ArrayArg<float> grad, loss_out;
  Status st = float_array(info[0], "input", false, &input);
  if (!st.is_ok()) return st;
  if (info[1].IsTypedArray() && info[1].As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    st = int32_array(info[1], "target", &target_index);
    a->target_index = target_index.data;
    a->target_len = target_index.length;
  } else {
    st = float_array(info[1], "target (Int32Array of class ids or Float32Array of probabilities)", false, &target_prob);
    a->target_prob = target_prob.data;
    a->target_len = target_prob.length;
  }
  if (!st.is_ok()) return st;
  const int64_t kMaxDim = int64_t(1) << 50;
  if (!(st = integer(info[2], "N", 0, kMaxDim, &a->n)).is_ok()) return st;
  if (!(st = integer(info[3], "C", 1, kMaxDim, &a->c)).is_ok()) return st;
  if (!(st = integer(info[4], "S", 0, kMaxDim, &a->s)).is_ok()) return st;
  if (!(st = float_array(info[5], "weight", true, &weight)).is_ok()) return st;
  if (!(st = integer(info[6], "ignoreIndex", INT32_MIN, INT32_MAX, &a->ignore_index)).is_ok()) return st;
  if (!(st = number(info[7], "labelSmoothing", &a->label_smoothing)).is_ok()) return st;
  int64_t reduction = 1;
  if (!(st = integer(info[8], "reduction", 0, 2, &reduction)).is_ok()) return st;
  a->reduction = Reduction(reduction);
  if (!(st = number(info[9], "gradScale", &a->grad_scale)).is_ok()) return st;
  if (!(st = float_array(info[10], "gradOutput", true, &grad_output)).is_ok()) return st;
  if (!(st = float_array(info[11], "out.grad", false, &grad)).is_ok()) return st;
  if (!(st = float_array(info[12], "out.loss", true, &loss_out)).is_ok()) return st;
  if (!(st = float_array(info[13], "sampleWeight", true, &sample_weight)).is_ok()) return st;
  a->sample_weight = sample_weight.data, a->sample_weight_len = sample_weight.present ? sample_weight.length : -1;
  a->input = input.data, a->input_len = input.length;
  a->weight = weight.data, a->weight_len = weight.present ? weight.length : -1;
  a->grad_output = grad_output.data, a->grad_output_len = grad_output.present ? grad_output.length : -1;
  a->grad = grad.data, a->grad_len = grad.length;
  a->loss_out = loss_out.data, a->loss_len = loss_out.present ? loss_out.length : -1;
  return Status::ok();
}

}  // namespace

void register_cross_entropy(Napi::Env env, Napi::Object exports, ComputeFn compute) {
  register_kernel<CrossEntropyArgs, parse>(env, exports, "crossEntropy", compute);
}

void register_cross_entropy_like(Napi::Env env, Napi::Object exports, const char* name, ComputeFn compute) {
  register_kernel<CrossEntropyArgs, parse>(env, exports, name, compute);
}

}  // namespace napi
}  // namespace fuseloss
