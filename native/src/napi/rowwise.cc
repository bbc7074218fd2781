// Row-coupled losses. nllLoss takes crossEntropy's positional arguments. The others take:
//   (input, input2|null, targetIndex|null, target|null, weight|null, sampleWeight|null, gradOutput|null,
//    grad, grad2|null, lossOut|null, n, c, reduction(0 none,1 mean,2 sum), gradScale, p, margin, eps) -> number
#include <napi.h>

#include "args.h"
#include "fuseloss/rowwise.h"
#include "kernel_call.h"
#include "napi_exports.h"

namespace fuseloss {
namespace napi {
namespace {

Status parse_rows(const Napi::CallbackInfo& info, RowLossArgs* a) {
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

}  // namespace

void register_rowwise(Napi::Env env, Napi::Object exports) {
  register_cross_entropy_like(env, exports, "nllLoss", nll_loss);
  register_kernel<RowLossArgs, parse_rows>(env, exports, "multiMarginLoss", multi_margin_loss);
  register_kernel<RowLossArgs, parse_rows>(env, exports, "multilabelSoftMarginLoss", multilabel_soft_margin_loss);
  register_kernel<RowLossArgs, parse_rows>(env, exports, "cosineEmbeddingLoss", cosine_embedding_loss);
  register_kernel<RowLossArgs, parse_rows>(env, exports, "softF1Loss", soft_f1_loss);
}

}  // namespace napi
}  // namespace fuseloss
