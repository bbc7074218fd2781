// Row-coupled losses. nllLoss takes crossEntropy's positional arguments. The others take:
//   (input, input2|null, targetIndex|null, target|null, weight|null, sampleWeight|null, gradOutput|null,
//    grad, grad2|null, lossOut|null, n, c, reduction(0 none,1 mean,2 sum), gradScale, p, margin, eps) -> number
#include <napi.h>

#include "args.h"
#include "parse.h"
#include "fuseloss/rowwise.h"
#include "kernel_call.h"
#include "napi_exports.h"

namespace fuseloss {
namespace napi {
void register_row_losses(Napi::Env env, Napi::Object exports, const RowLossFns& f) {
  register_kernel<RowLossArgs, parse_rows<Napi::CallbackInfo>>(env, exports, "multiMarginLoss", f.multi_margin);
  register_kernel<RowLossArgs, parse_rows<Napi::CallbackInfo>>(env, exports, "multilabelSoftMarginLoss", f.multilabel_soft_margin);
  register_kernel<RowLossArgs, parse_rows<Napi::CallbackInfo>>(env, exports, "cosineEmbeddingLoss", f.cosine_embedding);
  register_kernel<RowLossArgs, parse_rows<Napi::CallbackInfo>>(env, exports, "softF1Loss", f.soft_f1);
  register_kernel<RowLossArgs, parse_rows<Napi::CallbackInfo>>(env, exports, "cosineDistance", f.cosine_distance);
}

void register_rowwise(Napi::Env env, Napi::Object exports) {
  register_cross_entropy_like(env, exports, "nllLoss", nll_loss);
  register_row_losses(env, exports, {multi_margin_loss, multilabel_soft_margin_loss, cosine_embedding_loss, soft_f1_loss, cosine_distance});
}

}  // namespace napi
}  // namespace fuseloss
