// The elementwise losses on CUDA: one grid-stride kernel per loss kind, running the CPU kernels' own
// per-element formulas (kernels/elementwise_ops.inc) on the one-lane pack, compiled without contraction
// (--fmad=false), so every gradient and per-element loss has the CPU's bits. The loss sum: each thread adds
// its elements in float64, blocks reduce in a fixed tree, and one block adds the block sums in a fixed order; the
// grid size comes from the element count alone, so the sum does not depend on scheduling (it differs from
// the CPU's in the last bits: another order).
#include <cuda_runtime.h>

#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "../kernels/elementwise_kernel.h"
#include "../kernels/hd.h"
#include "context.h"
#include "lanes.cuh"
#include "elementwise_device.h"
#include "fuseloss/cuda.h"

namespace fuseloss {
namespace cuda {

namespace {

constexpr int kThreads = 256;

// The block's float64 sum in a fixed tree, to block_sums[blockIdx.x].
__device__ inline void block_sum(double acc, double* block_sums) {
  __shared__ double sums[kThreads];
  sums[threadIdx.x] = acc;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) sums[threadIdx.x] += sums[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) block_sums[blockIdx.x] = sums[0];
}

template <ElementwiseLoss K>
__device__ inline void ew_element(const ew::KernelArgs& k, bool weighted, int64_t i, float xv, float tv, double* acc) {
  using lanes::F1;
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
  lanes::loss_op<K>(k, F1{xv}, F1{tv}, pw, &l, &d);
  if (weighted) l = lanes::mul(l, w), d = lanes::mul(d, w);
  const F1 sc{k.scale};
  k.g[i] = lanes::mul(d, k.none && k.go ? lanes::mul(sc, F1{k.go[i]}) : sc).v;
  if (k.none) k.lo[i] = l.v;
  *acc += double(l.v);
}

// Grid-stride over the elements, kUnroll strides at a time: the loads of a group are issued before any
// math (memory-level parallelism); each thread still visits, and sums, its elements in ascending order.
constexpr int kUnroll = 4;

template <ElementwiseLoss K>
__global__ void __launch_bounds__(kThreads) ew_kernel(ew::KernelArgs k, double* block_sums) {
  const bool weighted = k.w || k.sw || k.pw;
  double acc = 0.0;
  const int64_t stride = int64_t(gridDim.x) * kThreads;
  for (int64_t base = int64_t(blockIdx.x) * kThreads + threadIdx.x; base < k.numel; base += kUnroll * stride) {
    float xv[kUnroll], tv[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t i = base + u * stride;
      xv[u] = i < k.numel ? k.x[i] : 0.5f;
      tv[u] = i < k.numel ? k.t[i] : 0.5f;
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t i = base + u * stride;
      if (i < k.numel) ew_element<K>(k, weighted, i, xv[u], tv[u], &acc);
    }
  }
  block_sum(acc, block_sums);
}

// The unweighted, reduced case on 16-byte aligned arrays: four consecutive elements per load and store
// (the same per-element formulas, so the same gradient bits; each thread sums its elements in order).
template <ElementwiseLoss K>
__device__ inline float ew_value(const ew::KernelArgs& k, float xv, float tv, double* acc) {
  using lanes::F1;
  F1 l, d;
  lanes::loss_op<K>(k, F1{xv}, F1{tv}, F1{1.0f}, &l, &d);
  *acc += double(l.v);
  return lanes::mul(d, F1{k.scale}).v;
}

template <ElementwiseLoss K>
__global__ void __launch_bounds__(kThreads) ew_kernel_vec4(ew::KernelArgs k, double* block_sums) {
  double acc = 0.0;
  const int64_t n4 = k.numel / 4, stride = int64_t(gridDim.x) * kThreads;
  const float4* x4 = reinterpret_cast<const float4*>(k.x);
  const float4* t4 = reinterpret_cast<const float4*>(k.t);
  float4* g4 = reinterpret_cast<float4*>(k.g);
  for (int64_t v = int64_t(blockIdx.x) * kThreads + threadIdx.x; v < n4; v += stride) {
    const float4 xv = x4[v], tv = t4[v];
    float4 gv;
    gv.x = ew_value<K>(k, xv.x, tv.x, &acc);
    gv.y = ew_value<K>(k, xv.y, tv.y, &acc);
    gv.z = ew_value<K>(k, xv.z, tv.z, &acc);
    gv.w = ew_value<K>(k, xv.w, tv.w, &acc);
    g4[v] = gv;
  }
  if (blockIdx.x == 0 && threadIdx.x < k.numel - 4 * n4) {  // the last numel % 4 elements
    const int64_t i = 4 * n4 + threadIdx.x;
    k.g[i] = ew_value<K>(k, k.x[i], k.t[i], &acc);
  }
  block_sum(acc, block_sums);
}

}  // namespace

unsigned ew_blocks(int64_t numel) {
  const int64_t b = (numel + kThreads * 8 - 1) / (kThreads * 8);  // about 8 elements per thread
  return unsigned(b < 1 ? 1 : b > 8192 ? 8192 : b);
}

void ew_launch(const ew::KernelArgs& k, double* block_sums, cudaStream_t stream) {
  const unsigned blocks = ew_blocks(k.numel);
  auto aligned = [](const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; };
  const bool vec4 = !(k.w || k.sw || k.pw) && !k.none && aligned(k.x) && aligned(k.t) && aligned(k.g);
  switch (k.kind) {
#define FUSELOSS_EW_CASE(K)                                                               \
  case ElementwiseLoss::K:                                                                \
    if (vec4)                                                                             \
      ew_kernel_vec4<ElementwiseLoss::K><<<blocks, kThreads, 0, stream>>>(k, block_sums); \
    else                                                                                  \
      ew_kernel<ElementwiseLoss::K><<<blocks, kThreads, 0, stream>>>(k, block_sums);      \
    break;
#define FUSELOSS_EW_KIND(name, code, ts) FUSELOSS_EW_CASE(name)
    FUSELOSS_ELEMENTWISE_KINDS(FUSELOSS_EW_KIND)
#undef FUSELOSS_EW_KIND
#undef FUSELOSS_EW_CASE
    case ElementwiseLoss::kCount:
      break;  // not a kind (refused by the checks)
  }
}

Status device_checked_args(const ElementwiseArgs& args, ElementwiseArgs* h) {
  *h = args;
  if (args.kind != ElementwiseLoss::Bce || !args.input || args.input_len <= 0 || !on_device(args.input)) return Status::ok();
  // binaryCrossEntropy's check of the probabilities reads the input: on the device, where it lives.
  Context& cx = context();
  Lock lock(cx);
  Status st = cx.init();
  if (!st.is_ok()) return st;
  int64_t bad = -1;
  float value = 0.f;
  if (!(st = device_first_outside_unit(cx, args.input, args.input_len, &bad, &value)).is_ok()) return st;
  if (bad >= 0)
    return Status::range_error("input[" + std::to_string(bad) + "] = " + std::to_string(value) +
                               ": binaryCrossEntropy expects probabilities in [0, 1]");
  h->input_checked = true;
  return Status::ok();
}

Status elementwise_loss(const ElementwiseArgs& args, double* loss) {
  ElementwiseArgs h;
  Status st = device_checked_args(args, &h);
  if (!st.is_ok()) return st;
  ew::KernelArgs k;
  double denom = 0.0;
  if (!(st = ew::prepare(h, &k, &denom)).is_ok()) return st;
  const int64_t n = k.numel;
  if (n == 0) {
    *loss = ew::reduce(args.reduction, 0.0, denom);
    return Status::ok();
  }
  const unsigned blocks = ew_blocks(n);
  const int64_t samples = n / k.per_sample;
  // Inputs first (one upload), then the block sums, then the outputs (one download); arrays already on the
  // device are used in place.
  const size_t xb = size_t(n) * 4;
  Staging sg;
  const size_t s_x = sg.input(k.x, xb), s_t = sg.input(k.t, xb);
  const size_t s_w = sg.input(k.w, k.w ? (k.w_classes ? size_t(k.classes) : size_t(n)) * 4 : 0);
  const size_t s_pw = sg.input(k.pw, k.pw ? size_t(k.classes) * 4 : 0), s_sw = sg.input(k.sw, k.sw ? size_t(samples) * 4 : 0);
  const size_t s_go = sg.input(k.go, k.go ? xb : 0);
  const size_t s_sums = sg.scratch(size_t(blocks) * 8);
  double sum = 0.0;
  const size_t s_sum = sg.output(&sum, 8);
  const size_t s_g = sg.output(k.g, xb), s_lo = k.none ? sg.output(k.lo, xb) : Staging::kResident;

  st = run_staged(sg, [&](Context& cx) {
    ew::KernelArgs d = k;
    d.x = sg.at(cx, k.x, s_x);
    d.t = sg.at(cx, k.t, s_t);
    d.w = k.w ? sg.at(cx, k.w, s_w) : nullptr;
    d.pw = k.pw ? sg.at(cx, k.pw, s_pw) : nullptr;
    d.sw = k.sw ? sg.at(cx, k.sw, s_sw) : nullptr;
    d.go = k.go ? sg.at(cx, k.go, s_go) : nullptr;
    d.g = sg.at(cx, k.g, s_g);
    d.lo = k.none ? sg.at(cx, k.lo, s_lo) : nullptr;
    double* sums = reinterpret_cast<double*>(cx.device + s_sums);
    ew_launch(d, sums, cx.stream);
    launch_sum(sums, blocks, reinterpret_cast<double*>(cx.device + s_sum), cx.stream);
  });
  if (!st.is_ok()) return st;
  *loss = ew::reduce(args.reduction, sum, denom);
  return Status::ok();
}

}  // namespace cuda
}  // namespace fuseloss
