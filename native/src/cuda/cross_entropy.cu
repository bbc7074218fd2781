// Softmax cross-entropy on CUDA: loss and gradient in one kernel, two passes over each row's logits.
//
// Warp-rows kernel (S = 1, 32 <= C <= 1024): see warp_rows_kernel. Rows kernel (S = 1, C > 1024): one block per row. Pass 1: each thread
// keeps an online softmax state (running max m, Σ exp(x - m) in float64, rescaled when m grows) plus the float64 sums the options need (Σ
// w·x for label smoothing; Σ q and Σ q·x for probability targets); warp shuffles and shared memory merge them in a fixed order. Thread 0
// turns them into the row's coefficients with the same
// __host__ __device__ formulas as the CPU kernels (kernels/cross_entropy_math.h). Pass 2 writes
// grad = a·exp(x - m) - b·w_c (- hit at the target): the gradient is written once, the logits read twice
// (the second read mostly from L2; keeping rows in registers instead measured slower on an H100: spills). Lanes kernel (S > 1, or C < 32):
// one thread per (sample, position), classes strided by S, so a warp reads 32 consecutive positions per class. Per-row losses (float64)
// come back to the host and are summed there in row order: the reduced loss does not depend on scheduling. Results match the CPU kernels
// within float32 rounding (not bit for bit: different summation order and exp implementation).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "../kernels/cross_entropy_kernel.h"
#include "../kernels/cross_entropy_math.h"
#include "context.h"
#include "cross_entropy_device.h"
#include "fuseloss/cuda.h"

namespace fuseloss {
namespace cuda {
namespace {

// Online softmax state: running max and Σ exp(x - max) in float64.
struct MaxSum {
  float m;
  double s;
};

__device__ inline void push(MaxSum& st, float x) {
  if (x > st.m) {  // also the first finite value (st.m = -inf, st.s = 0)
    st.s = st.s * double(expf(st.m - x)) + 1.0;
    st.m = x;
  } else if (x != -INFINITY) {  // -inf contributes exp(-inf) = 0; NaN makes the sum NaN
    st.s += double(expf(x - st.m));
  }
}

__device__ inline MaxSum merge(MaxSum a, MaxSum b) {
  const float m = fmaxf(a.m, b.m);
  if (m == -INFINITY) return {m, a.s + b.s};
  return {m, a.s * double(expf(a.m - m)) + b.s * double(expf(b.m - m))};
}

// The per-row sums of pass 1.
struct RowSums {
  MaxSum ms;
  double sx;  // Σ w·x (label smoothing) or Σ q·x (probability targets)
  double sq;  // Σ q (probability targets)
};

__device__ inline RowSums merge(const RowSums& a, const RowSums& b) { return {merge(a.ms, b.ms), a.sx + b.sx, a.sq + b.sq}; }

__device__ inline RowSums shfl_down(const RowSums& v, int offset) {
  RowSums r;
  r.ms.m = __shfl_down_sync(0xffffffffu, v.ms.m, offset);
  r.ms.s = __shfl_down_sync(0xffffffffu, v.ms.s, offset);
  r.sx = __shfl_down_sync(0xffffffffu, v.sx, offset);
  r.sq = __shfl_down_sync(0xffffffffu, v.sq, offset);
  return r;
}

__device__ inline float smoothed_q(const DevArgs& a, float t, int64_t c, bool smooth) {
  if (smooth) t = ce::smoothed_target(t, a.keep, a.spread);
  return a.w ? t * a.w[c] : t;
}

// One logit's share of the option sums: Σ q and Σ q·x (probability targets) or Σ w·x (label smoothing).
__device__ inline void add_target_sums(const DevArgs& a, RowSums& r, const float* t, int64_t t_at, int64_t c, float xv, bool smooth) {
  if (t) {
    const float q = smoothed_q(a, t[t_at], c, smooth);
    r.sq += double(q);
    r.sx += double(q) * double(xv);
  } else if (smooth) {
    r.sx += a.w ? double(a.w[c]) * double(xv) : double(xv);
  }
}

// Coefficients of one row/position: grad_c = ga·e_c - gb·w_c (or gs·q_c) - [c = y]·hit.
struct Coef {
  float m, ga, gb, hit;
  int32_t y;
  bool ignored;
};

__device__ inline Coef coefficients(const DevArgs& a, const RowSums& r, int64_t pos, float x_y, int32_t y) {
  Coef k{r.ms.m, 0.f, 0.f, 0.f, y, false};
  const double sw = a.sw ? double(a.sw[pos / a.s]) : 1.0;
  const double s = (a.none ? a.scale * (a.go ? double(a.go[pos]) : 1.0) : a.scale) * sw;
  if (a.ti) {
    const double w_y = a.w ? double(a.w[y]) : 1.0;
    const ce::IndexRowCoef rc = ce::index_row(r.ms.m, r.ms.s, x_y, w_y, a.wsum, r.sx, a.eps, double(a.c), s);
    k.ga = rc.a, k.gb = rc.b, k.hit = rc.hit;
    a.row_loss[pos] = rc.loss * sw;
  } else {
    const ce::ProbRowCoef rc = ce::prob_row(r.ms.m, r.ms.s, r.sq, r.sx, s);
    k.ga = rc.a, k.gb = rc.s;
    a.row_loss[pos] = rc.loss * sw;
  }
  return k;
}

__device__ inline float grad_value(const DevArgs& a, const Coef& k, float x, float t, int64_t c, bool smooth) {
  const float e = expf(x - k.m);
  float g = k.ga * e;
  if (a.ti) {
    if (smooth) g -= a.w ? k.gb * a.w[c] : k.gb;
    if (c == k.y) g -= k.hit;
  } else {
    g -= k.gb * smoothed_q(a, t, c, smooth);
  }
  return g;
}

// One row (S = 1): its logits, probability targets, gradient, and class id.
struct RowView {
  const float* x;
  const float* t;
  float* g;
  bool smooth;
  int32_t y;
};
__device__ inline RowView row_view(const DevArgs& a, int64_t row) {
  return {a.x + row * a.c, a.tp ? a.tp + row * a.c : nullptr, a.g + row * a.c, a.eps > 0.0, a.ti ? a.ti[row] : -1};
}
// A row whose class id is ignoreIndex: a zero gradient (classes first, first + step, …) and a zero loss.
__device__ inline bool skip_ignored(const DevArgs& a, const RowView& v, int64_t row, int first, int step) {
  if (!a.ti || v.y != a.ignore_index) return false;
  for (int64_t c = first; c < a.c; c += step) v.g[c] = 0.f;
  if (first == 0) a.row_loss[row] = 0.0;
  return true;
}

// f(c, x[c]) for this thread's classes c = threadIdx.x + i·kBlock, ascending, n loads issued before any
// value is used.
template <int n, int kBlock, class F>
__device__ inline void for_each_class(const float* x, int64_t C, F f) {
  for (int64_t c0 = threadIdx.x; c0 < C; c0 += n * kBlock) {
    float xv[n];
#pragma unroll
    for (int u = 0; u < n; ++u) xv[u] = c0 + u * kBlock < C ? x[c0 + u * kBlock] : 0.f;
#pragma unroll
    for (int u = 0; u < n; ++u)
      if (c0 + u * kBlock < C) f(c0 + u * kBlock, xv[u]);
  }
}

template <int kBlock>
__global__ void __launch_bounds__(kBlock) rows_kernel(DevArgs a) {
  const int64_t row = blockIdx.x, C = a.c;
  const float* x = a.x + row * C;
  const float* t = a.tp ? a.tp + row * C : nullptr;
  float* g = a.g + row * C;
  const bool smooth = a.eps > 0.0;
  const int32_t y = a.ti ? a.ti[row] : -1;
  if (a.ti && y == a.ignore_index) {  // (the warp kernel's skip_ignored; inlined here, it costs registers)
    for (int64_t c = threadIdx.x; c < C; c += kBlock) g[c] = 0.f;
    if (threadIdx.x == 0) a.row_loss[row] = 0.0;
    return;
  }
  RowSums r{{-INFINITY, 0.0}, 0.0, 0.0};
  // eight logits in flight per thread
  for_each_class<8, kBlock>(x, C, [&](int64_t c, float xv) {
    push(r.ms, xv);
    add_target_sums(a, r, t, c, c, xv, smooth);
  });
  for (int off = 16; off > 0; off >>= 1) r = merge(r, shfl_down(r, off));
  __shared__ RowSums warp_sums[kBlock / 32];
  __shared__ Coef coef;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warp_sums[warp] = r;
  __syncthreads();
  if (threadIdx.x == 0) {
    RowSums total = warp_sums[0];
    for (int i = 1; i < kBlock / 32; ++i) total = merge(total, warp_sums[i]);
    coef = coefficients(a, total, row, a.ti ? x[y] : 0.f, y);
  }
  __syncthreads();
  const Coef k = coef;
  for_each_class<8, kBlock>(x, C, [&](int64_t c, float xv) { g[c] = grad_value(a, k, xv, t ? t[c] : 0.f, c, smooth); });
}

// Warp-per-row kernel (S = 1, 32 <= C <= 32·K): a row lives in the registers of one warp (K values per
// lane, class c at lane c % 32, slot c / 32), so the logits are read once and the gradient written once;
// the warp's sums merge by shuffles to lane 0 in a fixed order, and lane 0's coefficients are broadcast.
#ifndef FUSELOSS_CE_WARP_MIN_BLOCKS
#define FUSELOSS_CE_WARP_MIN_BLOCKS \
  3  // resident blocks of 256 per SM to budget registers for: 3 measured fastest on an H100 (bench/cuda/run.sh tries 1 and 4)
#endif
template <int K>
__global__ void __launch_bounds__(256, FUSELOSS_CE_WARP_MIN_BLOCKS) warp_rows_kernel(DevArgs a) {
  const int lane = threadIdx.x & 31;
  const int64_t row = int64_t(blockIdx.x) * 8 + (threadIdx.x >> 5), C = a.c;
  if (row >= a.n) return;
  const RowView v = row_view(a, row);
  if (skip_ignored(a, v, row, lane, 32)) return;
  const float* x = v.x;
  const float* t = v.t;
  float* g = v.g;
  const bool smooth = v.smooth;
  const int32_t y = v.y;
  float xs[K];
#pragma unroll
  for (int j = 0; j < K; ++j) {
    const int64_t c = lane + 32 * j;
    xs[j] = c < C ? x[c] : 0.f;
  }
  // The row's max first (exact in any order, so every lane gets the same value by butterfly), then the
  // exponentials, independent of each other; a row whose max is ±∞ takes the online update instead, for
  // its IEEE special cases.
  float m = -INFINITY;
#pragma unroll
  for (int j = 0; j < K; ++j)
    if (lane + 32 * j < C) m = fmaxf(m, xs[j]);
  for (int off = 16; off > 0; off >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
  const bool finite_max = isfinite(m);
  RowSums r{{finite_max ? m : -INFINITY, 0.0}, 0.0, 0.0};
#pragma unroll
  for (int j = 0; j < K; ++j) {
    const int64_t c = lane + 32 * j;
    if (c >= C) break;
    if (finite_max)
      r.ms.s += double(expf(xs[j] - m));
    else
      push(r.ms, xs[j]);
    add_target_sums(a, r, t, c, c, xs[j], smooth);
  }
  if (finite_max) {
    for (int off = 16; off > 0; off >>= 1) {
      r.ms.s += __shfl_down_sync(0xffffffffu, r.ms.s, off);
      r.sx += __shfl_down_sync(0xffffffffu, r.sx, off);
      r.sq += __shfl_down_sync(0xffffffffu, r.sq, off);
    }
  } else {
    for (int off = 16; off > 0; off >>= 1) r = merge(r, shfl_down(r, off));
  }
  Coef k{};
  if (lane == 0) k = coefficients(a, r, row, a.ti ? x[y] : 0.f, y);
  k.m = __shfl_sync(0xffffffffu, k.m, 0);
  k.ga = __shfl_sync(0xffffffffu, k.ga, 0);
  k.gb = __shfl_sync(0xffffffffu, k.gb, 0);
  k.hit = __shfl_sync(0xffffffffu, k.hit, 0);
  k.y = y;
#pragma unroll
  for (int j = 0; j < K; ++j) {
    const int64_t c = lane + 32 * j;
    if (c >= C) break;
    g[c] = grad_value(a, k, xs[j], t ? t[c] : 0.f, c, smooth);
  }
}

__global__ void lanes_kernel(DevArgs a) {
  const int64_t pos = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (pos >= a.n * a.s) return;
  const int64_t C = a.c, S = a.s, n = pos / S, p = pos % S;
  const float* x = a.x + n * C * S + p;
  const float* t = a.tp ? a.tp + n * C * S + p : nullptr;
  float* g = a.g + n * C * S + p;
  const bool smooth = a.eps > 0.0;
  const int32_t y = a.ti ? a.ti[pos] : -1;
  if (a.ti && y == a.ignore_index) {
    for (int64_t c = 0; c < C; ++c) g[c * S] = 0.f;
    a.row_loss[pos] = 0.0;
    return;
  }
  RowSums r{{-INFINITY, 0.0}, 0.0, 0.0};
  for (int64_t c = 0; c < C; ++c) {
    const float xv = x[c * S];
    push(r.ms, xv);
    add_target_sums(a, r, t, c * S, c, xv, smooth);
  }
  const Coef k = coefficients(a, r, pos, a.ti ? x[int64_t(y) * S] : 0.f, y);
  for (int64_t c = 0; c < C; ++c) g[c * S] = grad_value(a, k, x[c * S], t ? t[c * S] : 0.f, c, smooth);
}

// nllLoss (log-probabilities, class ids): ℓ = -w_y·x_y·sw per position, gradient -w_y·s at the target and
// 0 elsewhere; the loss pass reads x_y before the zeroing and the scatter write (in place is safe).
__global__ void nll_loss_kernel(DevArgs a) {
  const int64_t P = a.n * a.s, stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t pos = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; pos < P; pos += stride) {
    const int32_t y = a.ti[pos];
    if (y == a.ignore_index) {
      a.row_loss[pos] = 0.0;
      continue;
    }
    const int64_t n = pos / a.s, p = pos % a.s;
    const double w = a.w ? double(a.w[y]) : 1.0, sw = a.sw ? double(a.sw[n]) : 1.0;
    a.row_loss[pos] = -w * double(a.x[(n * a.c + y) * a.s + p]) * sw;
  }
}

__global__ void nll_grad_kernel(DevArgs a) {
  const int64_t P = a.n * a.s, stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t pos = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; pos < P; pos += stride) {
    const int32_t y = a.ti[pos];
    if (y == a.ignore_index) continue;
    const int64_t n = pos / a.s, p = pos % a.s;
    const double w = a.w ? double(a.w[y]) : 1.0, sw = a.sw ? double(a.sw[n]) : 1.0;
    const double s = (a.none ? a.scale * (a.go ? double(a.go[pos]) : 1.0) : a.scale) * sw;
    a.g[(n * a.c + y) * a.s + p] = float(-w * s);
  }
}

}  // namespace

void launch_nll(const DevArgs& d, cudaStream_t stream) {
  const int64_t P = d.n * d.s;
  const unsigned blocks = unsigned(std::min<int64_t>(4096, std::max<int64_t>(1, (P + 255) / 256)));
  nll_loss_kernel<<<blocks, 256, 0, stream>>>(d);
  cudaMemsetAsync(d.g, 0, size_t(P * d.c) * 4, stream);
  nll_grad_kernel<<<blocks, 256, 0, stream>>>(d);
}

void launch(const DevArgs& d, cudaStream_t stream) {
  if (d.s == 1 && d.c >= 32 && d.c <= 1024) {
    const unsigned blocks = unsigned((d.n + 7) / 8);
    if (d.c <= 64)
      warp_rows_kernel<2><<<blocks, 256, 0, stream>>>(d);
    else if (d.c <= 128)
      warp_rows_kernel<4><<<blocks, 256, 0, stream>>>(d);
    else if (d.c <= 256)
      warp_rows_kernel<8><<<blocks, 256, 0, stream>>>(d);
    else if (d.c <= 512)
      warp_rows_kernel<16><<<blocks, 256, 0, stream>>>(d);
    else
      warp_rows_kernel<32><<<blocks, 256, 0, stream>>>(d);
  } else if (d.s == 1 && d.c >= 32) {
    if (d.c >= 8192)
      rows_kernel<1024><<<unsigned(d.n), 1024, 0, stream>>>(d);
    else
      rows_kernel<256><<<unsigned(d.n), 256, 0, stream>>>(d);
  } else {
    lanes_kernel<<<unsigned((d.n * d.s + 255) / 256), 256, 0, stream>>>(d);
  }
}

Status mirror_ce_args(const CrossEntropyArgs& args, CrossEntropyArgs* h, std::vector<char>* ids, std::vector<char>* weights) {
  *h = args;
  Status st;
  if (args.target_index && args.target_len > 0 && on_device(args.target_index)) {
    const void* p = nullptr;
    if (!(st = mirror_to_host(args.target_index, size_t(args.target_len) * 4, ids, &p)).is_ok()) return st;
    h->target_index = static_cast<const int32_t*>(p);
  }
  if (args.weight && args.weight_len > 0 && on_device(args.weight)) {
    const void* p = nullptr;
    if (!(st = mirror_to_host(args.weight, size_t(args.weight_len) * 4, weights, &p)).is_ok()) return st;
    h->weight = static_cast<const float*>(p);
  }
  // The mirrored arrays are DeviceBuffers of their own: the gradient may only alias them by being them.
  if (args.grad && (args.grad == static_cast<const void*>(args.target_index) || args.grad == args.weight))
    return Status::range_error("out.grad: must not overlap target, weights, gradOutput or the loss output");
  return Status::ok();
}

namespace {

// crossEntropy and nllLoss: the same arguments, staging and epilogue; only the kernels differ.
Status ce_like(const CrossEntropyArgs& args, double* loss, bool nll) {
  if (nll && (args.target_prob || !args.target_index)) return Status::type_error("target: expected an Int32Array of class ids");
  if (nll && args.label_smoothing != 0.0) return Status::range_error("nllLoss has no labelSmoothing");
  if (args.softcap != 0.0 || args.lse_square_scale != 0.0 || args.lse_out || args.want_accuracy || args.extras_out)
    return Status::type_error("softcap, lseSquareScale and the lse / accuracy outputs have no CUDA build yet: use backend 'native'");
  CrossEntropyArgs h;
  std::vector<char> ids, weights;
  Status st = mirror_ce_args(args, &h, &ids, &weights);
  if (!st.is_ok()) return st;
  ce::KernelArgs k;
  double denom = 0.0;
  if (!(st = ce::prepare(h, &k, &denom)).is_ok()) return st;
  const int64_t positions = k.n * k.s, elems = positions * k.c;
  if (positions == 0) {
    *loss = ce::reduce(args.reduction, 0.0, denom);
    return Status::ok();
  }
  // Inputs first (one upload), then the per-row losses, then the outputs (one download); arrays already on
  // the device are used in place.
  const size_t x_b = size_t(elems) * 4, t_b = k.ti ? size_t(positions) * 4 : size_t(elems) * 4;
  Staging sg;
  const void* target = k.ti ? static_cast<const void*>(args.target_index) : static_cast<const void*>(args.target_prob);
  const size_t s_x = sg.input(args.input, x_b), s_t = sg.input(target, t_b);
  const size_t s_w = sg.input(args.weight, k.w ? size_t(k.c) * 4 : 0), s_go = sg.input(args.grad_output, k.go ? size_t(positions) * 4 : 0);
  const size_t s_sw = sg.input(args.sample_weight, k.sw ? size_t(k.n) * 4 : 0);
  const size_t s_rl = sg.scratch(size_t(positions) * 8);
  double sum = 0.0;
  const size_t s_sum = sg.output(&sum, 8);
  // In place on the device: the kernels read a position's logits before writing its gradient.
  const size_t s_g = sg.output(args.grad, x_b);
  const size_t s_lo = k.none ? sg.output(args.loss_out, size_t(positions) * 4) : Staging::kResident;

  st = run_staged(sg, [&](Context& cx) {
    DevArgs d;
    d.x = sg.at(cx, args.input, s_x);
    d.ti = k.ti ? sg.at(cx, args.target_index, s_t) : nullptr;
    d.tp = k.tp ? sg.at(cx, args.target_prob, s_t) : nullptr;
    d.w = k.w ? sg.at(cx, args.weight, s_w) : nullptr;
    d.go = k.go ? sg.at(cx, args.grad_output, s_go) : nullptr;
    d.sw = k.sw ? sg.at(cx, args.sample_weight, s_sw) : nullptr;
    d.g = sg.at(cx, args.grad, s_g);
    d.row_loss = reinterpret_cast<double*>(cx.device + s_rl);
    d.n = k.n, d.c = k.c, d.s = k.s, d.ignore_index = k.ignore_index;
    d.eps = k.eps, d.keep = k.keep, d.spread = k.spread, d.wsum = k.wsum, d.scale = k.scale, d.none = k.none;
    if (nll)
      launch_nll(d, cx.stream);
    else
      launch(d, cx.stream);
    launch_sum(d.row_loss, positions, reinterpret_cast<double*>(cx.device + s_sum), cx.stream);
    if (k.none) launch_to_f32(d.row_loss, positions, sg.at(cx, args.loss_out, s_lo), cx.stream);
  });
  if (!st.is_ok()) return st;
  *loss = ce::reduce(args.reduction, sum, denom);
  return Status::ok();
}

}  // namespace

Status cross_entropy(const CrossEntropyArgs& args, double* loss) { return ce_like(args, loss, false); }
Status nll_loss(const CrossEntropyArgs& args, double* loss) { return ce_like(args, loss, true); }

}  // namespace cuda
}  // namespace fuseloss
