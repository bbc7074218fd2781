// The elementwise losses on CUDA: one grid-stride kernel per loss kind, running the CPU kernels' own
// per-element formulas (kernels/elementwise_ops.inc) on the one-lane pack, compiled without contraction
// (--fmad=false), so every gradient and per-element loss has the CPU's bits. The loss sum: each thread adds
// its elements in float64, blocks reduce in a fixed tree, and the host adds the block sums in order; the
// grid size comes from the element count alone, so the sum does not depend on scheduling (it differs from
// the CPU's in the last bits: another order).
#include <cuda_runtime.h>

#include <cstring>
#include <mutex>
#include <vector>

#include "../kernels/elementwise_kernel.h"
#include "../kernels/hd.h"
#include "context.h"
#include "elementwise_device.h"
#include "fuseloss/cuda.h"

namespace fuseloss {
namespace cuda {
namespace lanes {

template <class F> FUSELOSS_HD F splat(float);
template <class F> FUSELOSS_HD F load(const float*);
template <class D> FUSELOSS_HD D dzero();
template <class D> FUSELOSS_HD D dsplat(double);
template <class D> FUSELOSS_HD D dload(const double*);
template <class D> FUSELOSS_HD D dload_f(const float*);
#include "../simd/lane.h"
#include "../kernels/simd_exp.inc"
#include "../kernels/simd_math.inc"
#include "../kernels/elementwise_ops.inc"

}  // namespace lanes

namespace {

constexpr int kThreads = 256;

template <ElementwiseLoss K>
__global__ void __launch_bounds__(kThreads) ew_kernel(ew::KernelArgs k, double* block_sums) {
  using lanes::F1;
  const bool weighted = k.w || k.sw || k.pw;
  double acc = 0.0;
  const int64_t stride = int64_t(gridDim.x) * kThreads;
  for (int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x; i < k.numel; i += stride) {
    F1 w{1.0f}, pw{1.0f};
    if (weighted) {
      // the CPU kernels' weight cursor: element, class (last dim) and sample (first dim) weights
      const int64_t col = i % k.classes;
      float v = 1.0f;
      if (k.w) v = k.w_classes ? k.w[col] : k.w[i];
      if (k.sw) v = v * k.sw[i / k.per_sample];
      w.v = v;
      if (k.pw) pw.v = k.pw[col];
    }
    F1 l, d;
    lanes::loss_op<K>(k, F1{k.x[i]}, F1{k.t[i]}, pw, &l, &d);
    if (weighted) l = lanes::mul(l, w), d = lanes::mul(d, w);
    const F1 sc{k.scale};
    k.g[i] = lanes::mul(d, k.none && k.go ? lanes::mul(sc, F1{k.go[i]}) : sc).v;
    if (k.none) k.lo[i] = l.v;
    acc += double(l.v);
  }
  __shared__ double sums[kThreads];
  sums[threadIdx.x] = acc;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) sums[threadIdx.x] += sums[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) block_sums[blockIdx.x] = sums[0];
}

}  // namespace

unsigned ew_blocks(int64_t numel) {
  const int64_t b = (numel + kThreads * 8 - 1) / (kThreads * 8);  // about 8 elements per thread
  return unsigned(b < 1 ? 1 : b > 8192 ? 8192 : b);
}

void ew_launch(const ew::KernelArgs& k, double* block_sums, cudaStream_t stream) {
  const unsigned blocks = ew_blocks(k.numel);
  switch (k.kind) {
#define FUSELOSS_EW_CASE(K) \
  case ElementwiseLoss::K: ew_kernel<ElementwiseLoss::K><<<blocks, kThreads, 0, stream>>>(k, block_sums); break;
    FUSELOSS_EW_CASE(Mse)
    FUSELOSS_EW_CASE(L1)
    FUSELOSS_EW_CASE(SmoothL1)
    FUSELOSS_EW_CASE(Huber)
    FUSELOSS_EW_CASE(Bce)
    FUSELOSS_EW_CASE(BceWithLogits)
    FUSELOSS_EW_CASE(HingeEmbedding)
    FUSELOSS_EW_CASE(KlDiv)
    FUSELOSS_EW_CASE(PoissonNll)
    FUSELOSS_EW_CASE(SigmoidFocal)
    FUSELOSS_EW_CASE(Hinge)
    FUSELOSS_EW_CASE(LogLoss)
#undef FUSELOSS_EW_CASE
  }
}

Status elementwise_loss(const ElementwiseArgs& args, double* loss) {
  ew::KernelArgs k;
  double denom = 0.0;
  Status st = ew::prepare(args, &k, &denom);
  if (!st.is_ok()) return st;
  const int64_t n = k.numel;
  if (n == 0) {
    *loss = ew::reduce(args.reduction, 0.0, denom);
    return Status::ok();
  }
  const unsigned blocks = ew_blocks(n);
  const int64_t samples = n / k.per_sample;
  // Arena: inputs first (one upload), then the gradient, per-element losses ('none') and block sums (one
  // download).
  const size_t xb = size_t(n) * 4;
  const size_t w_b = k.w ? (k.w_classes ? size_t(k.classes) : size_t(n)) * 4 : 0, pw_b = k.pw ? size_t(k.classes) * 4 : 0;
  const size_t sw_b = k.sw ? size_t(samples) * 4 : 0, go_b = k.go ? xb : 0;
  const size_t off_x = 0, off_t = align256(xb), off_w = align256(off_t + xb), off_pw = align256(off_w + w_b);
  const size_t off_sw = align256(off_pw + pw_b), off_go = align256(off_sw + sw_b), upload = off_go + go_b;
  const size_t off_g = align256(upload), off_lo = align256(off_g + xb), lo_b = k.none ? xb : 0;
  const size_t off_sums = align256(off_lo + lo_b), total = off_sums + size_t(blocks) * 8;

  Context& cx = context();
  std::lock_guard<std::mutex> lock(cx.mu);
  if (!(st = cx.init()).is_ok()) return st;
  if (!(st = cx.reserve(total)).is_ok()) return st;
  std::memcpy(cx.pinned + off_x, k.x, xb);
  std::memcpy(cx.pinned + off_t, k.t, xb);
  if (w_b) std::memcpy(cx.pinned + off_w, k.w, w_b);
  if (pw_b) std::memcpy(cx.pinned + off_pw, k.pw, pw_b);
  if (sw_b) std::memcpy(cx.pinned + off_sw, k.sw, sw_b);
  if (go_b) std::memcpy(cx.pinned + off_go, k.go, go_b);
  FUSELOSS_CUDA_TRY(cudaMemcpyAsync(cx.device, cx.pinned, upload, cudaMemcpyHostToDevice, cx.stream), "copying inputs to the device");

  ew::KernelArgs d = k;
  float* const host_g = k.g;
  float* const host_lo = k.lo;
  d.x = reinterpret_cast<const float*>(cx.device + off_x);
  d.t = reinterpret_cast<const float*>(cx.device + off_t);
  d.w = k.w ? reinterpret_cast<const float*>(cx.device + off_w) : nullptr;
  d.pw = k.pw ? reinterpret_cast<const float*>(cx.device + off_pw) : nullptr;
  d.sw = k.sw ? reinterpret_cast<const float*>(cx.device + off_sw) : nullptr;
  d.go = k.go ? reinterpret_cast<const float*>(cx.device + off_go) : nullptr;
  d.g = reinterpret_cast<float*>(cx.device + off_g);
  d.lo = k.none ? reinterpret_cast<float*>(cx.device + off_lo) : nullptr;
  ew_launch(d, reinterpret_cast<double*>(cx.device + off_sums), cx.stream);
  FUSELOSS_CUDA_TRY(cudaGetLastError(), "launching the kernel");
  FUSELOSS_CUDA_TRY(cudaMemcpyAsync(cx.pinned + off_g, cx.device + off_g, total - off_g, cudaMemcpyDeviceToHost, cx.stream),
                    "copying results from the device");
  FUSELOSS_CUDA_TRY(cudaStreamSynchronize(cx.stream), "running the kernel");
  std::memcpy(host_g, cx.pinned + off_g, xb);
  if (k.none) std::memcpy(host_lo, cx.pinned + off_lo, xb);
  const double* sums = reinterpret_cast<const double*>(cx.pinned + off_sums);
  double total_loss = 0.0;
  for (unsigned b = 0; b < blocks; ++b) total_loss += sums[b];
  *loss = ew::reduce(args.reduction, total_loss, denom);
  return Status::ok();
}

}  // namespace cuda
}  // namespace fuseloss
