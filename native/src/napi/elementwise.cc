// elementwiseLoss / elementwiseLossAsync. Positional arguments (the TS layer normalises options):
//   (kind, input, target, numel, samples, classes, weight|null, posWeight|null, sampleWeight|null,
//    gradOutput|null, grad, lossOut|null, reduction(0 none,1 mean,2 sum), batchmean, gradScale, p0, p1,
//    flag, flag2)  ->  number (the reduced loss; 0 for 'none')
#include <napi.h>

#include "args.h"
#include "fuseloss/elementwise.h"
#include "kernel_call.h"
#include "napi_exports.h"

namespace fuseloss {
namespace napi {
namespace {

Status parse(const Napi::CallbackInfo& info, ElementwiseArgs* a) {
  if (info.Length() < 19) return Status::type_error("elementwiseLoss: expected 19 arguments from the TS layer");
  Status st;
  int64_t kind = 0, reduction = 1;
  ArrayArg<const float> input, target, weight, pos_weight, sample_weight, grad_output;
  ArrayArg<float> grad, loss_out;
  const int64_t kMax = int64_t(1) << 40;
  if (!(st = integer(info[0], "kind", 0, int64_t(ElementwiseLoss::SigmoidFocal), &kind)).is_ok()) return st;
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
  a->batchmean = info[13].As<Napi::Boolean>().Value();
  a->flag = info[17].As<Napi::Boolean>().Value();
  a->flag2 = info[18].As<Napi::Boolean>().Value();
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

}  // namespace

void register_elementwise(Napi::Env env, Napi::Object exports) {
  register_kernel<ElementwiseArgs, parse>(env, exports, "elementwiseLoss", elementwise_loss);
}

}  // namespace napi
}  // namespace fuseloss
