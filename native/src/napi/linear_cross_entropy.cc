// linearCrossEntropy / linearCrossEntropyAsync. Positional arguments (the TS layer normalises options):
//   (input, linearWeight, linearBias|null, target (Int32Array ids | Float32Array probabilities),
//    weight|null, sampleWeight|null, gradOutput|null, out.gradInput|null, out.gradLinearWeight|null,
//    out.gradLinearBias|null, out.loss|null, out.lse|null, stats: Float64Array(2), N, H, C, ignoreIndex,
//    labelSmoothing, reduction (0 none, 1 mean, 2 sum), gradScale, lseSquareScale, softcap, chunkSize (0: auto),
//    accumulate, wantAccuracy) -> the reduced loss; stats = [zLoss, accuracy].
#include <napi.h>

#include "args.h"
#include "fuseloss/linear_cross_entropy.h"
#include "kernel_call.h"
#include "napi_exports.h"

namespace fuseloss {
namespace napi {
namespace {

struct Call {
  LinearCrossEntropyArgs a;
  double* stats = nullptr;
};

template <class T>
void take(const ArrayArg<T>& arr, T** data, int64_t* len) {
  *data = arr.data;
  *len = arr.present ? arr.length : -1;
}

Status parse(const Napi::CallbackInfo& info, Call* c) {
  if (info.Length() < 25) return Status::type_error("linearCrossEntropy: expected 25 arguments from the TS layer");
  LinearCrossEntropyArgs& a = c->a;
  ArrayArg<const float> x, w, b, tp, cw, sw, go;
  ArrayArg<const int32_t> ti;
  ArrayArg<float> gi, gw, gb, lo, lse;
  Status st;
  if (!(st = float_array(info[0], "input", false, &x)).is_ok() || !(st = float_array(info[1], "linearWeight", false, &w)).is_ok() ||
      !(st = float_array(info[2], "linearBias", true, &b)).is_ok())
    return st;
  if (info[3].IsTypedArray() && info[3].As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    if (!(st = int32_array(info[3], "target", &ti)).is_ok()) return st;
    a.target_index = ti.data, a.target_len = ti.length;
  } else {
    if (!(st = float_array(info[3], "target (Int32Array of class ids or Float32Array of probabilities)", false, &tp)).is_ok()) return st;
    a.target_prob = tp.data, a.target_len = tp.length;
  }
  if (!(st = float_array(info[4], "weight", true, &cw)).is_ok() || !(st = float_array(info[5], "sampleWeight", true, &sw)).is_ok() ||
      !(st = float_array(info[6], "gradOutput", true, &go)).is_ok() || !(st = float_array(info[7], "out.gradInput", true, &gi)).is_ok() ||
      !(st = float_array(info[8], "out.gradLinearWeight", true, &gw)).is_ok() ||
      !(st = float_array(info[9], "out.gradLinearBias", true, &gb)).is_ok() ||
      !(st = float_array(info[10], "out.loss", true, &lo)).is_ok() || !(st = float_array(info[11], "out.lse", true, &lse)).is_ok())
    return st;
  if (!info[12].IsTypedArray() || info[12].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[12].As<Napi::TypedArray>().ElementLength() < 2)
    return Status::type_error("linearCrossEntropy: stats must be a Float64Array of 2");
  Napi::TypedArray s = info[12].As<Napi::TypedArray>();
  c->stats = reinterpret_cast<double*>(static_cast<uint8_t*>(s.ArrayBuffer().Data()) + s.ByteOffset());
  const int64_t kMax = int64_t(1) << 40;
  int64_t reduction = 1;
  if (!(st = integer(info[13], "N", 0, kMax, &a.n)).is_ok() || !(st = integer(info[14], "H", 0, kMax, &a.h)).is_ok() ||
      !(st = integer(info[15], "C", 1, kMax, &a.c)).is_ok() ||
      !(st = integer(info[16], "ignoreIndex", INT32_MIN, INT32_MAX, &a.ignore_index)).is_ok() ||
      !(st = number(info[17], "labelSmoothing", &a.label_smoothing)).is_ok() ||
      !(st = integer(info[18], "reduction", 0, 2, &reduction)).is_ok() || !(st = number(info[19], "gradScale", &a.grad_scale)).is_ok() ||
      !(st = number(info[20], "lseSquareScale", &a.lse_square_scale)).is_ok() || !(st = number(info[21], "softcap", &a.softcap)).is_ok() ||
      !(st = integer(info[22], "chunkSize", 0, kMax, &a.chunk_rows)).is_ok())
    return st;
  if (!info[23].IsBoolean() || !info[24].IsBoolean())
    return Status::type_error("linearCrossEntropy: accumulate and wantAccuracy must be booleans");
  a.accumulate = info[23].As<Napi::Boolean>().Value();
  a.want_accuracy = info[24].As<Napi::Boolean>().Value();
  a.reduction = Reduction(reduction);
  take(x, &a.input, &a.input_len), take(w, &a.weight, &a.weight_len), take(b, &a.bias, &a.bias_len);
  take(cw, &a.class_weight, &a.class_weight_len), take(sw, &a.sample_weight, &a.sample_weight_len),
      take(go, &a.grad_output, &a.grad_output_len);
  take(gi, &a.grad_input, &a.grad_input_len), take(gw, &a.grad_weight, &a.grad_weight_len), take(gb, &a.grad_bias, &a.grad_bias_len);
  take(lo, &a.loss_out, &a.loss_len), take(lse, &a.lse_out, &a.lse_len);
  return Status::ok();
}

Status compute(const Call& c, double* loss) {
  LinearCrossEntropyResult r;
  Status st = linear_cross_entropy(c.a, &r);
  if (!st.is_ok()) return st;
  *loss = r.loss;
  c.stats[0] = r.z_loss, c.stats[1] = r.accuracy;
  return st;
}

}  // namespace

void register_linear_cross_entropy(Napi::Env env, Napi::Object exports) {
  register_kernel<Call, parse>(env, exports, "linearCrossEntropy", compute);
}

}  // namespace napi
}  // namespace fuseloss
