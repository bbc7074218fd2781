// crossEntropy / crossEntropyAsync bindings, shared by the CPU addon and the CUDA addon (each registers
// its own compute function). Positional arguments (the TS layer normalises options):
//   (input, target, n, c, s, weight|null, ignoreIndex, labelSmoothing, reduction(0 none,1 mean,2 sum),
//    gradScale, gradOutput|null, grad, lossOut|null, sampleWeight|null)  ->  number (the reduced loss; 0 for 'none')
// Typed arrays are used in place (zero copy).
#include <napi.h>

#include "args.h"
#include "parse.h"
#include "fuseloss/cross_entropy.h"
#include "kernel_call.h"
#include "napi_exports.h"

namespace fuseloss {
namespace napi {
void register_cross_entropy(Napi::Env env, Napi::Object exports, ComputeFn compute) {
  register_kernel<CrossEntropyArgs, parse_cross_entropy<Napi::CallbackInfo>>(env, exports, "crossEntropy", compute);
}

void register_cross_entropy_like(Napi::Env env, Napi::Object exports, const char* name, ComputeFn compute) {
  register_kernel<CrossEntropyArgs, parse_cross_entropy<Napi::CallbackInfo>>(env, exports, name, compute);
}

}  // namespace napi
}  // namespace fuseloss
