// elementwiseLoss / elementwiseLossAsync. Positional arguments (the TS layer normalises options):
//   (kind, input, target, numel, samples, classes, weight|null, posWeight|null, sampleWeight|null,
//    gradOutput|null, grad, lossOut|null, reduction(0 none,1 mean,2 sum), batchmean, gradScale, p0, p1,
//    flag, flag2)  ->  number (the reduced loss; 0 for 'none')
#include <napi.h>

#include "args.h"
#include "parse.h"
#include "fuseloss/elementwise.h"
#include "kernel_call.h"
#include "napi_exports.h"

namespace fuseloss {
namespace napi {
void register_elementwise(Napi::Env env, Napi::Object exports) {
  register_kernel<ElementwiseArgs, parse_elementwise<Napi::CallbackInfo>>(env, exports, "elementwiseLoss", elementwise_loss);
}

}  // namespace napi
}  // namespace fuseloss
