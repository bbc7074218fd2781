// Gradient reduction on CUDA: linear heads' forward and backward on our own tiled GEMM, the Gram matrix of
// task gradients and their linear combination. The checks are the CPU drivers' (check_linear,
// check_task_grads); arrays are host (staged) or DeviceBuffers, as everywhere in the CUDA backend.
// Every output element is one fixed sequence of operations: a GEMM output sums k in order with fused
// multiply-adds from its initial value (bias, the existing value when accumulating, or 0); float64 sums
// are reduced in a fixed order. Results match the CPU within float32 rounding (GEMMs: another blocking),
// and the combination has the CPU's bits (the same float64 formula per element).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "../kernels/grad_drop_math.h"
#include "context.h"
#include "fuseloss/cuda.h"
#include "fuseloss/linear.h"
#include "fuseloss/reduce.h"

namespace fuseloss {
namespace cuda {
namespace {

// C[m, n] = init + Σ_k A(m, k)·B(k, n), A(m, k) = a[m·a_rs + k·a_cs], B(k, n) = b[k·b_rs + n·b_cs]; init is
// row_init[n], C itself (accumulate) or 0.
struct Gemm {
  int64_t m, n, k;
  const float* a;
  int64_t a_rs, a_cs;
  const float* b;
  int64_t b_rs, b_cs;
  float* c;
  int64_t ldc;
  const float* row_init;
  bool accumulate;
};

constexpr int kBM = 64, kBN = 64, kBK = 16;

// 256 threads, a 64×64 tile of C, 4×4 outputs per thread; tiles of A and B staged in shared memory (loaded
// along whichever of their dims is contiguous).
__global__ void __launch_bounds__(256) gemm_kernel(Gemm g) {
  __shared__ float As[kBK][kBM + 4];
  __shared__ float Bs[kBK][kBN + 4];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int64_t m0 = int64_t(blockIdx.y) * kBM, n0 = int64_t(blockIdx.x) * kBN;
  float acc[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t m = m0 + ty * 4 + i, n = n0 + tx * 4 + j;
      float init = 0.f;
      if (m < g.m && n < g.n) init = g.accumulate ? g.c[m * g.ldc + n] : g.row_init ? g.row_init[n] : 0.f;
      acc[i][j] = init;
    }
  const bool a_k_fast = g.a_cs == 1, b_k_fast = g.b_rs == 1;
  for (int64_t k0 = 0; k0 < g.k; k0 += kBK) {
    for (int l = threadIdx.x; l < kBM * kBK; l += 256) {
      const int mm = a_k_fast ? l / kBK : l % kBM, kk = a_k_fast ? l % kBK : l / kBM;
      const int64_t m = m0 + mm, k = k0 + kk;
      As[kk][mm] = m < g.m && k < g.k ? g.a[m * g.a_rs + k * g.a_cs] : 0.f;
    }
    for (int l = threadIdx.x; l < kBN * kBK; l += 256) {
      const int nn = b_k_fast ? l / kBK : l % kBN, kk = b_k_fast ? l % kBK : l / kBN;
      const int64_t n = n0 + nn, k = k0 + kk;
      Bs[kk][nn] = n < g.n && k < g.k ? g.b[k * g.b_rs + n * g.b_cs] : 0.f;
    }
    __syncthreads();
    const int kn = g.k - k0 < kBK ? int(g.k - k0) : kBK;
    for (int kk = 0; kk < kn; ++kk) {
      float av[4], bv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) av[i] = As[kk][ty * 4 + i], bv[i] = Bs[kk][tx * 4 + i];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int64_t m = m0 + ty * 4 + i, n = n0 + tx * 4 + j;
      if (m < g.m && n < g.n) g.c[m * g.ldc + n] = acc[i][j];
    }
}

void launch_gemm(const Gemm& g, cudaStream_t stream) {
  if (g.m == 0 || g.n == 0) return;
  const dim3 grid(unsigned((g.n + kBN - 1) / kBN), unsigned((g.m + kBM - 1) / kBM));
  gemm_kernel<<<grid, 256, 0, stream>>>(g);
}

// gradBias[o] (+)= Σ_b gradOut[b, o]: a thread per column, rows in order, float64.
__global__ void bias_grad_kernel(const float* go, int64_t batch, int64_t out, float* gb, bool accumulate) {
  const int64_t o = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (o >= out) return;
  double s = 0.0;
  for (int64_t b = 0; b < batch; ++b) s += double(go[b * out + o]);
  gb[o] = accumulate ? float(double(gb[o]) + s) : float(s);
}

constexpr int64_t kChunk = 32768;  // elements per Gram partial (fixed: the sum does not depend on the grid)

// partial[pair·chunks + chunk] = Σ over the chunk of g_i·g_j (float64), pairs i <= j along blockIdx.y.
__global__ void gram_partial_kernel(const float* const* g, int T, int64_t n, int64_t chunks, double* partial) {
  int pair = blockIdx.y, i = 0;
  while (pair >= T - i) pair -= T - i, ++i;
  const int j = i + pair;
  const int64_t b = int64_t(blockIdx.x) * kChunk, e = min(n, b + kChunk);
  double s = 0.0;
  for (int64_t k = b + threadIdx.x; k < e; k += 256) s += double(g[i][k]) * double(g[j][k]);
  __shared__ double sums[256];
  sums[threadIdx.x] = s;
  __syncthreads();
  for (int w = 128; w > 0; w >>= 1) {
    if (threadIdx.x < w) sums[threadIdx.x] += sums[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[int64_t(blockIdx.y) * chunks + blockIdx.x] = sums[0];
}

// out[i·T + j] = out[j·T + i] = Σ_chunks partial, in chunk order.
__global__ void gram_finish_kernel(const double* partial, int T, int64_t chunks, double* out) {
  const int pairs = T * (T + 1) / 2;
  for (int p = blockIdx.x * blockDim.x + threadIdx.x; p < pairs; p += gridDim.x * blockDim.x) {
    int q = p, i = 0;
    while (q >= T - i) q -= T - i, ++i;
    const int j = i + q;
    double s = 0.0;
    for (int64_t c = 0; c < chunks; ++c) s += partial[int64_t(p) * chunks + c];
    out[i * T + j] = s, out[j * T + i] = s;
  }
}

// out[k] = float(Σ_t coef[t]·g_t[k]), t in order, float64 (the CPU's formula).
__global__ void combine_kernel(const float* const* g, const double* coef, int T, int64_t n, float* out) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride) {
    double s = 0.0;
    for (int t = 0; t < T; ++t) s += coef[t] * double(g[t][k]);
    out[k] = float(s);
  }
}

// GradDrop per element (the CPU's formula and draws: the same bits): sums over the tasks in float64, then the
// positive or the negative part.
__global__ void grad_drop_kernel(const float* const* g, int T, int64_t n, uint64_t seed, float* out) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride) {
    double sum = 0.0, abs_sum = 0.0, pos = 0.0, neg = 0.0;
    for (int t = 0; t < T; ++t) {
      const double v = double(g[t][k]);
      // std::max(v, 0.0) and std::min(v, 0.0) as the CPU computes them: a NaN belongs to both parts
      sum += v, abs_sum += fabs(v), pos += v < 0.0 ? 0.0 : v, neg += 0.0 < v ? 0.0 : v;
    }
    const double u = gd::uniform_at(gd::key_of(seed, uint64_t(k)), uint64_t(k));
    out[k] = float(sum > abs_sum * (2.0 * u - 1.0) ? pos : neg);
  }
}

// Chunk partials of Σ|x|^p (p = 1, 2, general) or max |x| (p = ∞, NaN propagating), kChunk elements each.
__global__ void norm_partial_kernel(const float* x, int64_t n, double p, double* partial) {
  const int64_t b = int64_t(blockIdx.x) * kChunk, e = min(n, b + kChunk);
  const bool inf = isinf(p);
  double s = 0.0;
  for (int64_t k = b + threadIdx.x; k < e; k += 256) {
    const double v = fabs(double(x[k]));
    if (inf)
      s = (v > s || isnan(v)) ? v : s;
    else
      s += p == 2.0 ? v * v : p == 1.0 ? v : pow(v, p);
  }
  __shared__ double sums[256];
  sums[threadIdx.x] = s;
  __syncthreads();
  for (int w = 128; w > 0; w >>= 1) {
    if (threadIdx.x < w) {
      const double o = sums[threadIdx.x + w];
      sums[threadIdx.x] = inf ? ((o > sums[threadIdx.x] || isnan(o)) ? o : sums[threadIdx.x]) : sums[threadIdx.x] + o;
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = sums[0];
}

__global__ void scale_kernel(float* x, int64_t n, float f) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride) x[k] = x[k] * f;
}

__global__ void clip_kernel(float* x, int64_t n, float v) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride) {
    const float a = x[k];
    x[k] = a > v ? v : a < -v ? -v : a;
  }
}

// GradAccumulator: acc[k] += double(g[k]); read: out[k] = float(acc[k] / d). Element-wise, as the CPU: the same bits.
__global__ void accumulate_kernel(double* acc, const float* g, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride) acc[k] += double(g[k]);
}

__global__ void read_kernel(const double* acc, int64_t n, double d, float* out) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < n; k += stride) out[k] = float(acc[k] / d);
}

unsigned grid_1d(int64_t n) { return unsigned(std::min<int64_t>(8192, std::max<int64_t>(1, (n + 255) / 256))); }

}  // namespace

Status linear_forward(const LinearArgs& a) {
  Status st = check_linear(a, true);
  if (!st.is_ok()) return st;
  const int64_t bi = a.batch * a.in, oi = a.out * a.in, bo = a.batch * a.out;
  if (bo == 0) return Status::ok();
  Staging sg;
  const size_t s_x = sg.input(a.x, size_t(bi) * 4), s_w = sg.input(a.weight, size_t(oi) * 4);
  const size_t s_b = sg.input(a.bias, a.bias ? size_t(a.out) * 4 : 0), s_y = sg.output(a.y, size_t(bo) * 4);
  return run_staged(sg, [&](Context& cx) {
    const Gemm g{a.batch,
                 a.out,
                 a.in,
                 sg.at(cx, a.x, s_x),
                 a.in,
                 1,
                 sg.at(cx, a.weight, s_w),
                 1,
                 a.in,
                 sg.at(cx, a.y, s_y),
                 a.out,
                 a.bias ? sg.at(cx, a.bias, s_b) : nullptr,
                 false};
    launch_gemm(g, cx.stream);
  });
}

Status linear_backward(const LinearArgs& a) {
  Status st = check_linear(a, false);
  if (!st.is_ok()) return st;
  const int64_t bi = a.batch * a.in, oi = a.out * a.in, bo = a.batch * a.out;
  Staging sg;
  const size_t s_x = sg.input(a.grad_weight ? a.x : nullptr, size_t(bi) * 4), s_go = sg.input(a.grad_out, size_t(bo) * 4);
  const size_t s_w = sg.input(a.grad_input ? a.weight : nullptr, size_t(oi) * 4);
  // Accumulating into host outputs: their values go up too.
  auto out = [&](float* p, size_t bytes) { return a.accumulate ? sg.inout(p, bytes) : sg.output(p, bytes); };
  const size_t s_gw = out(a.grad_weight, size_t(oi) * 4), s_gb = out(a.grad_bias, size_t(a.out) * 4),
               s_gi = out(a.grad_input, size_t(bi) * 4);
  return run_staged(sg, [&](Context& cx) {
    const float* go = sg.at(cx, a.grad_out, s_go);
    if (a.grad_weight) {  // [out, in] = gradOutᵀ·x
      const Gemm g{a.out, a.in,    a.batch,     go, 1, a.out, sg.at(cx, a.x, s_x), a.in, 1, sg.at(cx, a.grad_weight, s_gw),
                   a.in,  nullptr, a.accumulate};
      launch_gemm(g, cx.stream);
    }
    if (a.grad_input) {  // [batch, in] = gradOut·W
      const Gemm g{a.batch, a.in,    a.out,       go, a.out, 1, sg.at(cx, a.weight, s_w), a.in, 1, sg.at(cx, a.grad_input, s_gi),
                   a.in,    nullptr, a.accumulate};
      launch_gemm(g, cx.stream);
    }
    if (a.grad_bias && a.out > 0)
      bias_grad_kernel<<<unsigned((a.out + 255) / 256), 256, 0, cx.stream>>>(go, a.batch, a.out, sg.at(cx, a.grad_bias, s_gb),
                                                                             a.accumulate);
  });
}

namespace {

// The gradients' staging slots and, once the arena is placed, their device pointers in a table the
// kernels read (uploaded with the inputs).
struct GradTable {
  std::vector<size_t> slots;
  std::vector<const float*> ptrs;
  size_t table_slot = 0;
  GradTable(Staging& sg, const float* const* g, int T, int64_t n) : slots(size_t(T)), ptrs(size_t(T), nullptr) {
    for (int t = 0; t < T; ++t) slots[t] = sg.input(g[t], size_t(n) * 4);
    table_slot = sg.input(ptrs.data(), size_t(T) * sizeof(float*));
  }
  // Before the upload: fill the table with the resolved pointers.
  const float* const* resolve(Context& cx, const Staging& sg, const float* const* g) {
    for (size_t t = 0; t < ptrs.size(); ++t) ptrs[t] = sg.at(cx, g[t], slots[t]);
    return reinterpret_cast<const float* const*>(cx.device + table_slot);
  }
};

}  // namespace

Status gram_matrix(const float* const* g, int T, int64_t n, double* out) {
  Status st = check_task_grads(g, T, n, nullptr, false);
  if (!st.is_ok()) return st;
  const int64_t chunks = std::max<int64_t>(1, (n + kChunk - 1) / kChunk);
  const int pairs = T * (T + 1) / 2;
  if (pairs > 65535) return Status::range_error("grads: at most 361 gradients on backend 'cuda'");
  Staging sg;
  GradTable table(sg, g, T, n);
  const size_t s_part = sg.scratch(size_t(pairs) * size_t(chunks) * 8), s_out = sg.output(out, size_t(T) * size_t(T) * 8);
  const float* const* dg = nullptr;
  return run_staged(
      sg, [&](Context& cx) { dg = table.resolve(cx, sg, g); },
      [&](Context& cx) {
        double* part = reinterpret_cast<double*>(cx.device + s_part);
        gram_partial_kernel<<<dim3(unsigned(chunks), unsigned(pairs)), 256, 0, cx.stream>>>(dg, T, n, chunks, part);
        gram_finish_kernel<<<unsigned((pairs + 255) / 256), 256, 0, cx.stream>>>(part, T, chunks,
                                                                                 reinterpret_cast<double*>(cx.device + s_out));
      });
}

Status combine_gradients(const float* const* g, int T, int64_t n, const double* coef, float* out) {
  Status st = check_task_grads(g, T, n, out, true);
  if (!st.is_ok()) return st;
  if (n == 0) return Status::ok();
  Staging sg;
  GradTable table(sg, g, T, n);
  const size_t s_coef = sg.input(coef, size_t(T) * 8), s_out = sg.output(out, size_t(n) * 4);
  const float* const* dg = nullptr;
  return run_staged(
      sg, [&](Context& cx) { dg = table.resolve(cx, sg, g); },
      [&](Context& cx) { combine_kernel<<<grid_1d(n), 256, 0, cx.stream>>>(dg, sg.at(cx, coef, s_coef), T, n, sg.at(cx, out, s_out)); });
}

Status multi_head_backward(const MultiHeadArgs& a, double* gram) {
  std::vector<LinearArgs> la;
  Status st = check_multi_head(a, gram != nullptr, &la);
  if (!st.is_ok()) return st;
  for (const LinearArgs& l : la)
    if (!(st = cuda::linear_backward(l)).is_ok()) return st;
  if (!gram || la.empty()) return Status::ok();
  std::vector<const float*> g(la.size());
  for (size_t t = 0; t < la.size(); ++t) g[t] = la[t].grad_input;
  return cuda::gram_matrix(g.data(), int(g.size()), a.batch * a.in, gram);
}

Status grad_drop(const float* const* g, int T, int64_t n, uint64_t seed, float* out) {
  Status st = check_task_grads(g, T, n, out, true);
  if (!st.is_ok()) return st;
  if (n == 0) return Status::ok();
  Staging sg;
  GradTable table(sg, g, T, n);
  const size_t s_out = sg.output(out, size_t(n) * 4);
  const float* const* dg = nullptr;
  return run_staged(
      sg, [&](Context& cx) { dg = table.resolve(cx, sg, g); },
      [&](Context& cx) { grad_drop_kernel<<<grid_1d(n), 256, 0, cx.stream>>>(dg, T, n, seed, sg.at(cx, out, s_out)); });
}

Status total_norm(const float* const* arrays, const int64_t* lengths, int count, double p, double* out) {
  Status st = check_array_list(reinterpret_cast<const void* const*>(arrays), lengths, count, false);
  if (!st.is_ok()) return st;
  if (!(p > 0.0)) return Status::range_error("normType: expected a number > 0 or Infinity");
  Staging sg;
  std::vector<size_t> slots(static_cast<size_t>(count)), first(static_cast<size_t>(count) + 1, 0);
  for (int i = 0; i < count; ++i) {
    slots[i] = sg.input(arrays[i], size_t(lengths[i]) * 4);
    first[i + 1] = first[i] + size_t((lengths[i] + kChunk - 1) / kChunk);
  }
  std::vector<double> partial(std::max<size_t>(1, first[count]), 0.0);
  const size_t s_part = sg.output(partial.data(), first[count] * 8);
  st = run_staged(sg, [&](Context& cx) {
    double* dp = sg.at(cx, partial.data(), s_part);
    for (int i = 0; i < count; ++i)
      if (lengths[i] > 0)
        norm_partial_kernel<<<unsigned(first[i + 1] - first[i]), 256, 0, cx.stream>>>(sg.at(cx, arrays[i], slots[i]), lengths[i], p,
                                                                                      dp + first[i]);
  });
  if (!st.is_ok()) return st;
  *out = norm_from_partials(partial.data(), first[count], p);
  return Status::ok();
}

namespace {

// arrays[i][k] = op(arrays[i][k]) in place, every array (host arrays go up and come back).
template <class Launch>
Status each_array(float* const* arrays, const int64_t* lengths, int count, Launch launch) {
  Status st = check_array_list(reinterpret_cast<const void* const*>(arrays), lengths, count, true);
  if (!st.is_ok()) return st;
  Staging sg;
  std::vector<size_t> slots(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) slots[i] = sg.inout(arrays[i], size_t(lengths[i]) * 4);
  return run_staged(sg, [&](Context& cx) {
    for (int i = 0; i < count; ++i)
      if (lengths[i] > 0) launch(sg.at(cx, arrays[i], slots[i]), lengths[i], cx.stream);
  });
}

}  // namespace

Status scale_arrays(float* const* arrays, const int64_t* lengths, int count, float factor) {
  return each_array(arrays, lengths, count,
                    [factor](float* x, int64_t n, cudaStream_t s) { scale_kernel<<<grid_1d(n), 256, 0, s>>>(x, n, factor); });
}

Status clip_values(float* const* arrays, const int64_t* lengths, int count, float value) {
  if (!(value >= 0.0f)) return Status::range_error("clipValue: expected a number >= 0");
  return each_array(arrays, lengths, count,
                    [value](float* x, int64_t n, cudaStream_t s) { clip_kernel<<<grid_1d(n), 256, 0, s>>>(x, n, value); });
}

Status accumulate_f64(double* acc, const float* g, int64_t n) {
  if (n < 0) return Status::range_error("grad: element count out of range");
  if (n == 0) return Status::ok();
  Staging sg;  // a host accumulator goes up and comes back (DeviceBuffers are used where they are)
  const size_t s_g = sg.input(g, size_t(n) * 4), s_acc = sg.inout(acc, size_t(n) * 8);
  return run_staged(
      sg, [&](Context& cx) { accumulate_kernel<<<grid_1d(n), 256, 0, cx.stream>>>(sg.at(cx, acc, s_acc), sg.at(cx, g, s_g), n); });
}

Status read_f64(const double* acc, int64_t n, double divisor, float* out) {
  if (n < 0) return Status::range_error("out: element count out of range");
  if (n == 0) return Status::ok();
  Staging sg;
  const size_t s_acc = sg.input(acc, size_t(n) * 8), s_out = sg.output(out, size_t(n) * 4);
  return run_staged(
      sg, [&](Context& cx) { read_kernel<<<grid_1d(n), 256, 0, cx.stream>>>(sg.at(cx, acc, s_acc), n, divisor, sg.at(cx, out, s_out)); });
}

}  // namespace cuda
}  // namespace fuseloss
