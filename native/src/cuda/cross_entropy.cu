// Softmax cross-entropy on CUDA: loss and gradient in one kernel, two passes over each row's logits.
//
// Rows kernel (S = 1, C >= 32): one block per row. Pass 1: each thread keeps an online softmax state
// (running max m, Σ exp(x - m) in float64, rescaled when m grows) plus the float64 sums the options need
// (Σ w·x for label smoothing; Σ q and Σ q·x for probability targets); warp shuffles and shared memory
// merge them in a fixed order. Thread 0 turns them into the row's coefficients with the same
// __host__ __device__ formulas as the CPU kernels (kernels/cross_entropy_math.h). Pass 2 writes
// grad = a·exp(x - m) - b·w_c (- hit at the target): the gradient is written once, the logits read twice
// (the second read mostly from L2; keeping rows in registers instead measured slower on an H100: spills). Lanes kernel (S > 1, or C < 32): one thread per (sample, position),
// classes strided by S, so a warp reads 32 consecutive positions per class.
// Per-row losses (float64) come back to the host and are summed there in row order: the reduced loss
// does not depend on scheduling. Results match the CPU kernels within float32 rounding (not bit for bit:
// different summation order and exp implementation).
#include <cuda_runtime.h>

#include <cmath>
#include <cstring>
#include <mutex>
#include <string>

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

template <int kBlock>
__global__ void __launch_bounds__(kBlock) rows_kernel(DevArgs a) {
  const int64_t row = blockIdx.x, C = a.c;
  const float* x = a.x + row * C;
  const float* t = a.tp ? a.tp + row * C : nullptr;
  float* g = a.g + row * C;
  const bool smooth = a.eps > 0.0;
  const int32_t y = a.ti ? a.ti[row] : -1;
  if (a.ti && y == a.ignore_index) {
    for (int64_t c = threadIdx.x; c < C; c += kBlock) g[c] = 0.f;
    if (threadIdx.x == 0) a.row_loss[row] = 0.0;
    return;
  }
  RowSums r{{-INFINITY, 0.0}, 0.0, 0.0};
  for (int64_t c = threadIdx.x; c < C; c += kBlock) {
    const float xv = x[c];
    push(r.ms, xv);
    if (t) {
      const float q = smoothed_q(a, t[c], c, smooth);
      r.sq += double(q);
      r.sx += double(q) * double(xv);
    } else if (smooth) {
      r.sx += a.w ? double(a.w[c]) * double(xv) : double(xv);
    }
  }
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
  for (int64_t c = threadIdx.x; c < C; c += kBlock) g[c] = grad_value(a, k, x[c], t ? t[c] : 0.f, c, smooth);
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
    if (t) {
      const float q = smoothed_q(a, t[c * S], c, smooth);
      r.sq += double(q);
      r.sx += double(q) * double(xv);
    } else if (smooth) {
      r.sx += a.w ? double(a.w[c]) * double(xv) : double(xv);
    }
  }
  const Coef k = coefficients(a, r, pos, a.ti ? x[int64_t(y) * S] : 0.f, y);
  for (int64_t c = 0; c < C; ++c) g[c * S] = grad_value(a, k, x[c * S], t ? t[c * S] : 0.f, c, smooth);
}

}  // namespace

void launch(const DevArgs& d, cudaStream_t stream) {
  if (d.s == 1 && d.c >= 32) {
    if (d.c >= 8192) rows_kernel<1024><<<unsigned(d.n), 1024, 0, stream>>>(d);
    else rows_kernel<256><<<unsigned(d.n), 256, 0, stream>>>(d);
  } else {
    lanes_kernel<<<unsigned((d.n * d.s + 255) / 256), 256, 0, stream>>>(d);
  }
}

Status cuda_error(cudaError_t e, const char* what) {
  if (e == cudaErrorMemoryAllocation) return Status::internal(std::string("CUDA: out of memory ") + what);
  return Status::internal(std::string("CUDA: ") + what + ": " + cudaGetErrorString(e));
}

Status Context::init() {
  if (ready) return Status::ok();
  FUSELOSS_CUDA_TRY(cudaSetDevice(0), "selecting device 0");
  FUSELOSS_CUDA_TRY(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "creating a stream");
  ready = true;
  return Status::ok();
}

Status Context::reserve(size_t bytes) {
  if (bytes > device_bytes) {
    if (device) cudaFree(device);
    device = nullptr, device_bytes = 0;
    FUSELOSS_CUDA_TRY(cudaMalloc(&device, bytes), ("allocating " + std::to_string(bytes) + " bytes on the device").c_str());
    device_bytes = bytes;
  }
  if (bytes > pinned_bytes) {
    if (pinned) cudaFreeHost(pinned);
    pinned = nullptr, pinned_bytes = 0;
    FUSELOSS_CUDA_TRY(cudaMallocHost(&pinned, bytes), ("allocating " + std::to_string(bytes) + " bytes of pinned host memory").c_str());
    pinned_bytes = bytes;
  }
  return Status::ok();
}

Context& context() {
  static Context* c = new Context();  // never destroyed: the driver may be gone at process exit
  return *c;
}


Status devices(std::vector<DeviceInfo>* out) {
  out->clear();
  int count = 0;
  FUSELOSS_CUDA_TRY(cudaGetDeviceCount(&count), "counting devices");
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp p;
    FUSELOSS_CUDA_TRY(cudaGetDeviceProperties(&p, i), "reading device properties");
    out->push_back({i, p.name, uint64_t(p.totalGlobalMem), p.major, p.minor, p.multiProcessorCount});
  }
  if (count == 0) return Status::internal("CUDA: no device found");
  return Status::ok();
}

Status cross_entropy(const CrossEntropyArgs& args, double* loss) {
  ce::KernelArgs k;
  double denom = 0.0;
  Status st = ce::prepare(args, &k, &denom);
  if (!st.is_ok()) return st;
  const int64_t positions = k.n * k.s, elems = positions * k.c;
  if (positions == 0) {
    *loss = ce::reduce(args.reduction, 0.0, denom);
    return Status::ok();
  }
  // Arena layout (same offsets in device memory and pinned staging): inputs first, so one copy uploads
  // them; then the gradient and the per-row losses, so one copy brings them back.
  const size_t x_b = size_t(elems) * 4, t_b = k.ti ? size_t(positions) * 4 : size_t(elems) * 4;
  const size_t w_b = k.w ? size_t(k.c) * 4 : 0, go_b = k.go ? size_t(positions) * 4 : 0, sw_b = k.sw ? size_t(k.n) * 4 : 0;
  const size_t off_x = 0, off_t = align256(off_x + x_b), off_w = align256(off_t + t_b), off_go = align256(off_w + w_b);
  const size_t off_sw = align256(off_go + go_b), upload = off_sw + sw_b;
  const size_t off_g = align256(upload), off_loss = align256(off_g + x_b), total = off_loss + size_t(positions) * 8;

  Context& cx = context();
  std::lock_guard<std::mutex> lock(cx.mu);
  if (!(st = cx.init()).is_ok()) return st;
  if (!(st = cx.reserve(total)).is_ok()) return st;
  std::memcpy(cx.pinned + off_x, k.x, x_b);
  std::memcpy(cx.pinned + off_t, k.ti ? static_cast<const void*>(k.ti) : static_cast<const void*>(k.tp), t_b);
  if (w_b) std::memcpy(cx.pinned + off_w, k.w, w_b);
  if (go_b) std::memcpy(cx.pinned + off_go, k.go, go_b);
  if (sw_b) std::memcpy(cx.pinned + off_sw, k.sw, sw_b);
  FUSELOSS_CUDA_TRY(cudaMemcpyAsync(cx.device, cx.pinned, upload, cudaMemcpyHostToDevice, cx.stream), "copying inputs to the device");

  DevArgs d;
  d.x = reinterpret_cast<const float*>(cx.device + off_x);
  d.ti = k.ti ? reinterpret_cast<const int32_t*>(cx.device + off_t) : nullptr;
  d.tp = k.tp ? reinterpret_cast<const float*>(cx.device + off_t) : nullptr;
  d.w = k.w ? reinterpret_cast<const float*>(cx.device + off_w) : nullptr;
  d.go = k.go ? reinterpret_cast<const float*>(cx.device + off_go) : nullptr;
  d.sw = k.sw ? reinterpret_cast<const float*>(cx.device + off_sw) : nullptr;
  d.g = reinterpret_cast<float*>(cx.device + off_g);
  d.row_loss = reinterpret_cast<double*>(cx.device + off_loss);
  d.n = k.n, d.c = k.c, d.s = k.s, d.ignore_index = k.ignore_index;
  d.eps = k.eps, d.keep = k.keep, d.spread = k.spread, d.wsum = k.wsum, d.scale = k.scale, d.none = k.none;

  launch(d, cx.stream);
  FUSELOSS_CUDA_TRY(cudaGetLastError(), "launching the kernel");
  FUSELOSS_CUDA_TRY(cudaMemcpyAsync(cx.pinned + off_g, cx.device + off_g, total - off_g, cudaMemcpyDeviceToHost, cx.stream),
                    "copying results from the device");
  FUSELOSS_CUDA_TRY(cudaStreamSynchronize(cx.stream), "running the kernel");

  std::memcpy(k.g, cx.pinned + off_g, x_b);
  const double* row_loss = reinterpret_cast<const double*>(cx.pinned + off_loss);
  double sum = 0.0;
  for (int64_t i = 0; i < positions; ++i) {
    sum += row_loss[i];
    if (k.none) k.lo[i] = float(row_loss[i]);
  }
  *loss = ce::reduce(args.reduction, sum, denom);
  return Status::ok();
}

}  // namespace cuda
}  // namespace fuseloss
