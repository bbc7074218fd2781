// The row-coupled losses on CUDA: multi-class margin, multi-label soft margin, cosine embedding and cosine
// distance with one warp per row (float64 row sums merged by shuffles in a fixed order), soft F1 with one
// thread per label over the rows in order. The checks are the CPU planners' own (run on a host view of the
// arguments: device-resident class ids are read back first); the per-element BCE-with-logits of the
// multi-label loss is the CPU kernels' formula (elementwise_ops.inc on the one-lane pack). Per-row losses
// are summed in row order on the device. Results match the CPU within float32 rounding (other summation
// orders); gradients written from the same float coefficients have the CPU's bits.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../kernels/elementwise_kernel.h"
#include "../kernels/hd.h"
#include "../kernels/plans.h"
#include "context.h"
#include "lanes.cuh"
#include "rowwise_device.h"
#include "fuseloss/cuda.h"

namespace fuseloss {
namespace cuda {

namespace {

// RowScale of the CPU: base × gradOutput (reduction 'none') × the sample weight.
__device__ inline double row_scale(const RowDev& a, int64_t i) {
  return a.base * (a.none && a.go ? double(a.go[i]) : 1.0) * (a.sw ? double(a.sw[i]) : 1.0);
}

// A float64 sum over a warp, in a fixed order, broadcast to every lane.
__device__ inline double warp_sum(double v) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  return __shfl_sync(0xffffffffu, v, 0);
}

// The row of this thread's warp (8 warps per 256-thread block).
__device__ inline int64_t warp_row() { return int64_t(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5); }

// F.multi_margin_loss: h = max(0, margin − x_y + x_c) for c ≠ y, ℓ = w_y·Σ h^p / C; g_c = s·(1 or 2h), g_y = −Σ g_c.
__global__ void multi_margin_kernel(RowDev a) {
  const int64_t i = warp_row(), C = a.c;
  if (i >= a.n) return;
  const int lane = threadIdx.x & 31;
  const float* x = a.x + i * C;
  float* g = a.g + i * C;
  const int32_t y = a.ti[i];
  const float mz = a.margin - x[y];
  const double w = a.w ? double(a.w[y]) : 1.0;
  const float s = float(row_scale(a, i) * w / double(C)), s2 = 2.0f * s;
  __syncwarp();  // x_y is read by every lane before any gradient is written (in place)
  double lacc = 0.0, gacc = 0.0;
  for (int64_t c = lane; c < C; c += 32) {
    const float z = mz + x[c];
    float h = 0.0f < z ? z : 0.0f;
    float gc = a.squared ? s2 * h : (0.0f < z ? s : 0.0f);
    if (c == y) h = 0.0f, gc = 0.0f;
    g[c] = gc;
    lacc += a.squared ? double(h) * double(h) : double(h);
    gacc += double(gc);
  }
  lacc = warp_sum(lacc), gacc = warp_sum(gacc);
  if (lane == 0) {
    g[y] = float(-gacc);
    a.row_loss[i] = lacc * w / double(C) * (a.sw ? double(a.sw[i]) : 1.0);
  }
}

// F.multilabel_soft_margin_loss: (1/C)·Σ_c w_c·sw·BCEWithLogits(x, t), the elementwise kernels' formula.
__global__ void multilabel_kernel(RowDev a, float scale_reduced, double grad_scale) {
  const int64_t i = warp_row(), C = a.c;
  if (i >= a.n) return;
  const int lane = threadIdx.x & 31;
  using lanes::F1;
  ew::KernelArgs k{};
  k.kind = ElementwiseLoss::BceWithLogits;
  const float sc = a.none ? float(grad_scale * (a.go ? double(a.go[i]) : 1.0) / double(C)) : scale_reduced;
  double sum = 0.0;
  for (int64_t c = lane; c < C; c += 32) {
    const int64_t e = i * C + c;
    F1 l, d;
    lanes::loss_op<ElementwiseLoss::BceWithLogits>(k, F1{a.x[e]}, F1{a.t[e]}, F1{1.0f}, &l, &d);
    if (a.w || a.sw) {
      float v = a.w ? a.w[c] : 1.0f;
      if (a.sw) v = v * a.sw[i];
      l = lanes::mul(l, F1{v}), d = lanes::mul(d, F1{v});
    }
    a.g[e] = lanes::mul(d, F1{sc}).v;
    sum += double(l.v);
  }
  sum = warp_sum(sum);
  if (lane == 0) a.row_loss[i] = a.none ? sum / double(C) : sum;
}

// F.cosine_embedding_loss: cos = x1·x2 / √((|x1|² + 1e-12)(|x2|² + 1e-12)); 1 − cos (t = 1) or max(0, cos − margin) (t = −1).
__global__ void cosine_embedding_kernel(RowDev a, double margin) {
  const int64_t i = warp_row(), D = a.c;
  if (i >= a.n) return;
  const int lane = threadIdx.x & 31;
  const float* x1 = a.x + i * D;
  const float* x2 = a.x2 + i * D;
  double dot = 0.0, m1 = 0.0, m2 = 0.0;
  for (int64_t d = lane; d < D; d += 32) {
    const double u = x1[d], v = x2[d];
    dot += u * v, m1 += u * u, m2 += v * v;
  }
  dot = warp_sum(dot), m1 = warp_sum(m1) + 1e-12, m2 = warp_sum(m2) + 1e-12;
  const double denom = sqrt(m1 * m2), cos = dot / denom;
  const float t = a.t[i];
  double l = 0.0, dcos = 0.0;
  if (t == 1.0f)
    l = 1.0 - cos, dcos = -1.0;
  else if (t == -1.0f && cos - margin >= 0.0)
    l = cos - margin, dcos = 1.0;
  const double s = row_scale(a, i) * dcos;
  const float c12 = float(s / denom), c11 = float(s * cos / m1), c22 = float(s * cos / m2);
  float* g1 = a.g + i * D;
  float* g2 = a.g2 + i * D;
  for (int64_t d = lane; d < D; d += 32) {
    const float u = x1[d], v = x2[d];
    g1[d] = c12 * v - c11 * u;
    g2[d] = c12 * u - c22 * v;
  }
  if (lane == 0) a.row_loss[i] = l * (a.sw ? double(a.sw[i]) : 1.0);
}

// tf.losses.cosineDistance: ℓ = 1 − Σ t·x, dℓ/dx = −t (scaled).
__global__ void cosine_distance_kernel(RowDev a) {
  const int64_t i = warp_row(), D = a.c;
  if (i >= a.n) return;
  const int lane = threadIdx.x & 31;
  const float* x = a.x + i * D;
  const float* t = a.t + i * D;
  float* g = a.g + i * D;
  double dot = 0.0;
  for (int64_t d = lane; d < D; d += 32) dot += double(x[d]) * double(t[d]);
  dot = warp_sum(dot);
  const float s = float(-row_scale(a, i));
  for (int64_t d = lane; d < D; d += 32) g[d] = s * t[d];
  if (lane == 0) a.row_loss[i] = (1.0 - dot) * (a.sw ? double(a.sw[i]) : 1.0);
}

// Soft F1, pass 1 (a thread per label, rows in order): p = sigmoid(x) into the gradient, A = Σ w·p·t, B = Σ w·(p + t).
__global__ void soft_f1_sums_kernel(RowDev a) {
  const int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x, C = a.c;
  if (j >= C) return;
  double A = 0.0, B = 0.0;
  for (int64_t i = 0; i < a.n; ++i) {
    const double w = a.sw ? double(a.sw[i]) : 1.0;
    const float p = lanes::logistic(lanes::F1{a.x[i * C + j]}).sigmoid.v;
    const float t = a.t[i * C + j];
    a.g[i * C + j] = p;
    A += w * double(p) * double(t);
    B += w * (double(p) + double(t));
  }
  a.uv[j] = A, a.uv[C + j] = B;
}

// Pass 2 (a thread per label): F1 = 2A/(B + eps), loss 1 − F1; the gradient's per-label coefficients u, v.
__global__ void soft_f1_labels_kernel(RowDev a, double base) {
  const int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x, C = a.c;
  if (j >= C) return;
  const double A = a.uv[j], B = a.uv[C + j] + a.eps;
  const double l = 1.0 - 2.0 * A / B;
  if (a.none) a.lo[j] = float(l);
  a.row_loss[j] = l;
  const double coef = base * (a.go ? double(a.go[j]) : 1.0);
  a.uv[2 * C + j] = -coef * 2.0 / B;
  a.uv[3 * C + j] = coef * 2.0 * A / (B * B);
}

// Pass 3 (elementwise): g = w·p(1 − p)·(u·t + v).
__global__ void soft_f1_grad_kernel(RowDev a) {
  const int64_t total = a.n * a.c, stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < total; e += stride) {
    const int64_t i = e / a.c, j = e % a.c;
    const double w = a.sw ? double(a.sw[i]) : 1.0, pr = a.g[e];
    a.g[e] = float(w * pr * (1.0 - pr) * (a.uv[2 * a.c + j] * double(a.t[e]) + a.uv[3 * a.c + j]));
  }
}

unsigned warp_blocks(int64_t rows) { return unsigned((rows + 7) / 8); }  // 8 warps of 256 threads
unsigned thread_blocks(int64_t n) { return unsigned(n > 0 ? (n + 255) / 256 : 1); }

Status plan_check(RowKind kind, const RowLossArgs& h) {
  LossPlan plan;  // built for its checks only (nothing runs)
  switch (kind) {
    case RowKind::MultiMargin:
      return plan_multi_margin_loss(h, &plan);
    case RowKind::MultilabelSoftMargin:
      return plan_multilabel_soft_margin_loss(h, &plan);
    case RowKind::CosineEmbedding:
      return plan_cosine_embedding_loss(h, &plan);
    case RowKind::SoftF1:
      return plan_soft_f1_loss(h, &plan);
    default:
      return plan_cosine_distance(h, &plan);
  }
}

}  // namespace

Status mirror_row_args(const RowLossArgs& args, RowLossArgs* h, std::vector<char>* ids) {
  *h = args;
  if (args.target_index && args.target_len > 0 && on_device(args.target_index)) {
    const void* p = nullptr;
    Status st = mirror_to_host(args.target_index, size_t(args.target_len) * 4, ids, &p);
    if (!st.is_ok()) return st;
    h->target_index = static_cast<const int32_t*>(p);
    if (args.grad == static_cast<const void*>(args.target_index))
      return Status::range_error("out.grad: overlaps an input other than its own (in place needs the same array)");
  }
  return Status::ok();
}

int64_t row_partials(RowKind kind, const RowLossArgs& a) { return kind == RowKind::SoftF1 ? a.c : a.n; }

void launch_rows(RowKind kind, const RowLossArgs& args, const RowDev& a, cudaStream_t stream) {
  const int64_t N = args.n, C = args.c;
  switch (kind) {
    case RowKind::MultiMargin:
      multi_margin_kernel<<<warp_blocks(N), 256, 0, stream>>>(a);
      break;
    case RowKind::MultilabelSoftMargin: {
      const double denom = args.reduction == Reduction::Mean ? double(N) * double(C) : double(C);
      multilabel_kernel<<<warp_blocks(N), 256, 0, stream>>>(a, float(args.grad_scale / denom), args.grad_scale);
      break;
    }
    case RowKind::CosineEmbedding:
      cosine_embedding_kernel<<<warp_blocks(N), 256, 0, stream>>>(a, args.margin);
      break;
    case RowKind::SoftF1: {
      soft_f1_sums_kernel<<<thread_blocks(C), 256, 0, stream>>>(a);
      const double base = args.reduction == Reduction::Mean ? args.grad_scale / double(C) : args.grad_scale;
      soft_f1_labels_kernel<<<thread_blocks(C), 256, 0, stream>>>(a, base);
      if (N * C > 0) soft_f1_grad_kernel<<<unsigned(std::min<int64_t>(8192, (N * C + 255) / 256)), 256, 0, stream>>>(a);
      break;
    }
    default:
      cosine_distance_kernel<<<warp_blocks(N), 256, 0, stream>>>(a);
      break;
  }
}

double row_reduce(RowKind kind, const RowLossArgs& args, double sum) {
  const double N = double(args.n), C = double(args.c), per = double(row_partials(kind, args));
  if (kind == RowKind::MultilabelSoftMargin)
    return args.reduction == Reduction::Mean ? sum / (N * C) : args.reduction == Reduction::Sum ? sum / C : 0.0;
  return args.reduction == Reduction::Mean ? sum / per : args.reduction == Reduction::Sum ? sum : 0.0;
}

double row_base(const RowLossArgs& args) { return args.grad_scale / (args.reduction == Reduction::Mean ? double(args.n) : 1.0); }

Status row_loss(RowKind kind, const RowLossArgs& args, double* loss) {
  // The CPU planner's checks on a host view: multiMargin's class ids read back when on the device.
  RowLossArgs h;
  std::vector<char> ids;
  Status st;
  if (!(st = mirror_row_args(args, &h, &ids)).is_ok()) return st;
  if (!(st = plan_check(kind, h)).is_ok()) return st;
  const bool f1 = kind == RowKind::SoftF1;
  const int64_t N = args.n, C = args.c, elems = N * C, per = row_partials(kind, args);  // per: losses (rows, or labels for soft F1)
  const bool none = args.reduction == Reduction::None;
  if (elems == 0 && !f1) {  // no rows: the CPU's reductions of an empty sum (the mean is 0/0)
    *loss = args.reduction == Reduction::Mean ? std::nan("") : 0.0;
    return Status::ok();
  }
  Staging sg;
  const size_t eb = size_t(elems) * 4;
  const size_t s_x = sg.input(args.input, eb), s_x2 = sg.input(args.input2, args.input2 ? eb : 0);
  const size_t s_ti = sg.input(args.target_index, args.target_index ? size_t(N) * 4 : 0);
  const size_t s_t = sg.input(args.target, args.target ? size_t(args.target_len) * 4 : 0);
  const size_t s_w = sg.input(args.weight, args.weight ? size_t(C) * 4 : 0),
               s_sw = sg.input(args.sample_weight, args.sample_weight ? size_t(N) * 4 : 0);
  const size_t s_go = sg.input(none ? args.grad_output : nullptr, size_t(per) * 4);
  const size_t s_rl = sg.scratch(size_t(per) * 8), s_uv = sg.scratch(f1 ? size_t(C) * 32 : 0);
  double sum = 0.0;
  const size_t s_sum = sg.output(&sum, 8);
  const size_t s_g = sg.output(args.grad, eb), s_g2 = sg.output(args.grad2, args.grad2 ? eb : 0);
  const size_t s_lo = none ? sg.output(args.loss_out, size_t(per) * 4) : Staging::kResident;
  st = run_staged(sg, [&](Context& cx) {
    RowDev a{};
    a.x = sg.at(cx, args.input, s_x), a.x2 = args.input2 ? sg.at(cx, args.input2, s_x2) : nullptr;
    a.ti = args.target_index ? sg.at(cx, args.target_index, s_ti) : nullptr, a.t = args.target ? sg.at(cx, args.target, s_t) : nullptr;
    a.w = args.weight ? sg.at(cx, args.weight, s_w) : nullptr, a.sw = args.sample_weight ? sg.at(cx, args.sample_weight, s_sw) : nullptr;
    a.go = none && args.grad_output ? sg.at(cx, args.grad_output, s_go) : nullptr;
    a.g = sg.at(cx, args.grad, s_g), a.g2 = args.grad2 ? sg.at(cx, args.grad2, s_g2) : nullptr;
    a.lo = none ? sg.at(cx, args.loss_out, s_lo) : nullptr;
    a.row_loss = reinterpret_cast<double*>(cx.device + s_rl), a.uv = reinterpret_cast<double*>(cx.device + s_uv);
    a.n = N, a.c = C, a.base = row_base(args), a.margin = float(args.margin), a.squared = args.p == 2.0, a.none = none, a.eps = args.eps;
    launch_rows(kind, args, a, cx.stream);
    launch_sum(a.row_loss, per, reinterpret_cast<double*>(cx.device + s_sum), cx.stream);
    if (none && !f1) launch_to_f32(a.row_loss, per, a.lo, cx.stream);
  });
  if (!st.is_ok()) return st;
  *loss = row_reduce(kind, args, sum);
  return Status::ok();
}

}  // namespace cuda
}  // namespace fuseloss
