// Positional-argument parsers of each loss family, shared by the single-loss bindings (arguments of the
// call: Src = Napi::CallbackInfo) and the multi-task binding (a run of its arguments per task: Src = ArgRun).
// Src needs Length() and operator[](size_t) -> Napi::Value.
#pragma once
#include <napi.h>

#include "args.h"
#include "fuseloss/cross_entropy.h"
#include "fuseloss/elementwise.h"
#include "fuseloss/rowwise.h"

namespace fuseloss {
namespace napi {

// A run of a call's arguments, [offset, offset + length), as the positional arguments of one task (the
// multi-task call passes every task's arguments flat: one N-API crossing, no per-element lookups).
struct ArgRun {
  const Napi::CallbackInfo& info;
  size_t offset, length;
  size_t Length() const { return length; }
  Napi::Value operator[](size_t i) const { return info[offset + i]; }
};

template <class Src>
Status parse_cross_entropy(const Src& info, CrossEntropyArgs* a) {
  if (info.Length() < 14) return Status::type_error("crossEntropy: expected 14 arguments from the TS layer");
  ArrayArg<const float> input, weight, grad_output, target_prob, sample_weight;
  ArrayArg<const int32_t> target_index;
  ArrayArg<float> grad, loss_out;
  Status st = float_array(info[0], "input", false, &input);
  if (!st.is_ok()) return st;
  const bool int_target =
      (info[1].IsTypedArray() && Napi::Value(info[1]).As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) ||
      (is_device_buffer(info[1]) && Napi::Value(info[1]).As<Napi::External<DeviceMem>>().Data()->type == napi_int32_array);
  if (int_target) {
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
  // Optional trailing extras: lseSquareScale, softcap, out.lse|null, wantAccuracy, extrasOut (Float64Array(2))|null.
  if (info.Length() >= 19) {
    ArrayArg<float> lse;
    if (!(st = number(info[14], "lseSquareScale", &a->lse_square_scale)).is_ok() ||
        !(st = number(info[15], "softcap", &a->softcap)).is_ok() || !(st = float_array(info[16], "out.lse", true, &lse)).is_ok())
      return st;
    if (!Napi::Value(info[17]).IsBoolean()) return Status::type_error("crossEntropy: wantAccuracy must be a boolean");
    a->want_accuracy = Napi::Value(info[17]).As<Napi::Boolean>().Value();
    a->lse_out = lse.data, a->lse_len = lse.present ? lse.length : -1;
    Napi::Value e = info[18];
    if (!e.IsNull() && !e.IsUndefined()) {
      if (!e.IsTypedArray() || e.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
          e.As<Napi::TypedArray>().ElementLength() < 2)
        return Status::type_error("crossEntropy: extras must be a Float64Array of 2");
      Napi::TypedArray t = e.As<Napi::TypedArray>();
      a->extras_out = reinterpret_cast<double*>(static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset());
    }
  }
  a->input = input.data, a->input_len = input.length;
  a->weight = weight.data, a->weight_len = weight.present ? weight.length : -1;
  a->grad_output = grad_output.data, a->grad_output_len = grad_output.present ? grad_output.length : -1;
  a->grad = grad.data, a->grad_len = grad.length;
  a->loss_out = loss_out.data, a->loss_len = loss_out.present ? loss_out.length : -1;
  return Status::ok();
}

template <class Src>
Status parse_elementwise(const Src& info, ElementwiseArgs* a) {
  if (info.Length() < 19) return Status::type_error("elementwiseLoss: expected 19 arguments from the TS layer");
  Status st;
  int64_t kind = 0, reduction = 1;
  ArrayArg<const float> input, target, weight, pos_weight, sample_weight, grad_output;
  ArrayArg<float> grad, loss_out;
  const int64_t kMax = int64_t(1) << 40;
  if (!(st = integer(info[0], "kind", 0, int64_t(ElementwiseLoss::kCount) - 1, &kind)).is_ok()) return st;
  if (!(st = float_array(info[1], "input", false, &input)).is_ok()) return st;
  if (!(st = float_array(info[2], "target", false, &target)).is_ok()) return st;
  if (!(st = integer(info[3], "numel", 0, kMax, &a->numel)).is_ok()) return st;
  if (!(st = integer(info[4], "samples", 0, kMax, &a->samples)).is_ok()) return st;
  if (!(st = integer(info[5], "classes", 1, kMax, &a->classes)).is_ok()) return st;
  if (!(st = float_array(info[6], "weight", true, &weight)).is_ok()) return st;
  if (!(st = float_array(info[7], "posWeight", true, &pos_weight)).is_ok()) return st;
  if (!(st = float_array(info[8], "sampleWeight", true, &sample_weight)).is_ok()) return st;
  if (!(st = float_array(info[9], "gradOutput", true, &grad_output)).is_ok()) return st;
  if (!(st = float_array(info[10], "out.grad", false, &grad)).is_ok()) return st;
  if (!(st = float_array(info[11], "out.loss", true, &loss_out)).is_ok()) return st;
  if (!(st = integer(info[12], "reduction", 0, 2, &reduction)).is_ok()) return st;
  if (!info[13].IsBoolean() || !info[17].IsBoolean() || !info[18].IsBoolean())
    return Status::type_error("elementwiseLoss: flags must be booleans");
  if (!(st = number(info[14], "gradScale", &a->grad_scale)).is_ok()) return st;
  if (!(st = number(info[15], "p0", &a->p0)).is_ok()) return st;
  if (!(st = number(info[16], "p1", &a->p1)).is_ok()) return st;
  a->kind = ElementwiseLoss(kind);
  a->reduction = Reduction(reduction);
  a->batchmean = Napi::Value(info[13]).As<Napi::Boolean>().Value();
  a->flag = Napi::Value(info[17]).As<Napi::Boolean>().Value();
  a->flag2 = Napi::Value(info[18]).As<Napi::Boolean>().Value();
  a->input = input.data, a->input_len = input.length;
  a->target = target.data, a->target_len = target.length;
  a->weight = weight.data, a->weight_len = weight.present ? weight.length : 0;
  a->pos_weight = pos_weight.data, a->pos_weight_len = pos_weight.present ? pos_weight.length : -1;
  a->sample_weight = sample_weight.data, a->sample_weight_len = sample_weight.present ? sample_weight.length : -1;
  a->grad_output = grad_output.data, a->grad_output_len = grad_output.present ? grad_output.length : -1;
  a->grad = grad.data, a->grad_len = grad.length;
  a->loss_out = loss_out.data, a->loss_len = loss_out.present ? loss_out.length : -1;
  return Status::ok();
}

template <class Src>
Status parse_rows(const Src& info, RowLossArgs* a) {
  if (info.Length() < 17) return Status::type_error("row loss: expected 17 arguments from the TS layer");
  ArrayArg<const float> input, input2, target, weight, sample_weight, grad_output;
  ArrayArg<const int32_t> target_index;
  ArrayArg<float> grad, grad2, loss_out;
  Status st;
  if (!(st = float_array(info[0], "input", false, &input)).is_ok()) return st;
  if (!(st = float_array(info[1], "input2", true, &input2)).is_ok()) return st;
  if (!info[2].IsNull() && !(st = int32_array(info[2], "target", &target_index)).is_ok()) return st;
  if (!(st = float_array(info[3], "target", true, &target)).is_ok()) return st;
  if (!(st = float_array(info[4], "weight", true, &weight)).is_ok()) return st;
  if (!(st = float_array(info[5], "sampleWeight", true, &sample_weight)).is_ok()) return st;
  if (!(st = float_array(info[6], "gradOutput", true, &grad_output)).is_ok()) return st;
  if (!(st = float_array(info[7], "out.grad", false, &grad)).is_ok()) return st;
  if (!(st = float_array(info[8], "out.grad2", true, &grad2)).is_ok()) return st;
  if (!(st = float_array(info[9], "out.loss", true, &loss_out)).is_ok()) return st;
  int64_t reduction = 1;
  const int64_t kMax = int64_t(1) << 40;
  if (!(st = integer(info[10], "N", 0, kMax, &a->n)).is_ok()) return st;
  if (!(st = integer(info[11], "C", 1, kMax, &a->c)).is_ok()) return st;
  if (!(st = integer(info[12], "reduction", 0, 2, &reduction)).is_ok()) return st;
  if (!(st = number(info[13], "gradScale", &a->grad_scale)).is_ok()) return st;
  if (!(st = number(info[14], "p", &a->p)).is_ok()) return st;
  if (!(st = number(info[15], "margin", &a->margin)).is_ok()) return st;
  if (!(st = number(info[16], "eps", &a->eps)).is_ok()) return st;
  a->reduction = Reduction(reduction);
  a->input = input.data, a->input_len = input.length;
  a->input2 = input2.data, a->input2_len = input2.present ? input2.length : -1;
  if (target_index.present) a->target_index = target_index.data, a->target_len = target_index.length;
  if (target.present) a->target = target.data, a->target_len = target.length;
  a->weight = weight.data, a->weight_len = weight.present ? weight.length : -1;
  a->sample_weight = sample_weight.data, a->sample_weight_len = sample_weight.present ? sample_weight.length : -1;
  a->grad_output = grad_output.data, a->grad_output_len = grad_output.present ? grad_output.length : -1;
  a->grad = grad.data, a->grad_len = grad.length;
  a->grad2 = grad2.data, a->grad2_len = grad2.present ? grad2.length : -1;
  a->loss_out = loss_out.data, a->loss_len = loss_out.present ? loss_out.length : -1;
  return Status::ok();
}

}  // namespace napi
}  // namespace fuseloss
