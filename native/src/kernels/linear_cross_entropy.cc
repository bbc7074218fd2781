// linear_cross_entropy driver (fuseloss/linear_cross_entropy.h). Per chunk of rows:
//   1. logits[R, C] = x_chunk · Wᵀ + b          GEMM per vocabulary block (the packing buffer stays small)
//   2. extras pass (only when asked): soft-cap, row max / argmax / lse (float64)
//   3. the cross-entropy chunk kernel of the active ISA on the chunk (cross_entropy_kernel.h), its gradient
//      in place (or, with soft-cap or z-loss, into a second chunk buffer: those need the logits after it)
//   4. z-loss gradient (2s·lse·softmax) and the soft-cap chain rule (1 - tanh²), when asked
//   5. gradInput rows = g · W (one GEMM), gradWeight += gᵀ · x_chunk (a GEMM per vocabulary block),
//      gradBias sums (float64, kept across chunks, rounded once at the end)
// Working memory (the default R keeps R·C near 24 MiB, at most 4096 and at least 16 rows): R·C floats of logits (twice with soft-cap or
// z-loss), C doubles of bias sums, R doubles per row statistic, and the GEMM's packing buffers (bounded by the vocabulary block).
// Everything is sized and allocated before anything is written. Every split (chunks, vocabulary blocks, cross-entropy units, bias column
// blocks) comes from the shape alone, and sums are added in a fixed order: the same bits for any thread count.
#include "fuseloss/linear_cross_entropy.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "ce_extras.h"
#include "checks.h"
#include "cross_entropy_kernel.h"
#include "fuseloss/cpu.h"
#include "fuseloss/thread_pool.h"
#include "gemm_kernel.h"

namespace fuseloss {
namespace {

constexpr int64_t kChunkFloats = int64_t(6) << 20;  // 24 MiB of logits per chunk by default
constexpr int64_t kVocabBlock = 2048;               // columns of W per GEMM: ~3 MiB of packed W
constexpr int64_t kCeUnitFloats = 32768;            // cross-entropy work per pool chunk (as cross_entropy.cc)

Status length(const char* name, int64_t got, int64_t want, const std::string& what) {
  if (got < 0 || got == want) return Status::ok();
  return Status::range_error(std::string(name) + ": expected " + std::to_string(want) + " elements (" + what + ") but received " +
                             std::to_string(got));
}

struct Ctx {
  const LinearCrossEntropyArgs* a;
  ce::KernelArgs k;  // the current chunk's cross-entropy arguments
  ce::ChunkKernel kernel;
  int64_t r0 = 0, rows = 0;  // the current chunk
  int64_t ce_units = 0, ce_per = 1;
  float* logits = nullptr;     // [rows, C]
  float* grad = nullptr;       // [rows, C] (== logits when in place)
  double* lse = nullptr;       // [rows]
  int32_t* argmax = nullptr;   // [rows]
  double* ce_sums = nullptr;   // per cross-entropy pool chunk
  double* bias_acc = nullptr;  // [C]
  double z_coef_base = 0.0;    // 2·s·gradScale (/ count for 'mean')
  Status* status = nullptr;    // per task of passes 1 and 5
  int64_t task_gi = -1, task_gw = -1, task_bias = -1;
};

// Pass 2: soft-cap (in place on the chunk's logits), then each row's argmax and lse.
void stats_rows(void* p, size_t chunk) {
  Ctx& x = *static_cast<Ctx*>(p);
  const int64_t C = x.a->c, per = 16;
  const int64_t i0 = int64_t(chunk) * per, i1 = std::min(x.rows, i0 + per);
  for (int64_t i = i0; i < i1; ++i) {
    float* z = x.logits + i * C;
    ce_extras::row_stats(z, x.a->softcap > 0 ? z : nullptr, C, x.a->softcap, &x.lse[i], &x.argmax[i]);
  }
}

// Pass 3: the cross-entropy kernel over its units.
void ce_units(void* p, size_t chunk) {
  Ctx& x = *static_cast<Ctx*>(p);
  const int64_t b = int64_t(chunk) * x.ce_per;
  x.ce_sums[chunk] = x.kernel(x.k, b, std::min(x.ce_units, b + x.ce_per));
}

// Whether row i (of the chunk) counts (class ids: not ignored; probabilities: always).
inline bool counted(const Ctx& x, int64_t i) { return !x.a->target_index || x.a->target_index[x.r0 + i] != x.a->ignore_index; }

// Pass 4: z-loss gradient and the soft-cap chain rule, per row.
void post_rows(void* p, size_t chunk) {
  Ctx& x = *static_cast<Ctx*>(p);
  const LinearCrossEntropyArgs& a = *x.a;
  const int64_t C = a.c, per = 16;
  const int64_t i0 = int64_t(chunk) * per, i1 = std::min(x.rows, i0 + per);
  for (int64_t i = i0; i < i1; ++i) {
    const int64_t r = x.r0 + i;
    double coef = 0.0;
    if (a.lse_square_scale != 0.0 && counted(x, i)) {
      coef = x.z_coef_base * x.lse[i];
      if (a.sample_weight) coef *= double(a.sample_weight[r]);
      if (a.reduction == Reduction::None && a.grad_output) coef *= double(a.grad_output[r]);
    }
    ce_extras::row_post(x.logits + i * C, true, x.grad + i * C, C, a.softcap, x.lse[i], coef);
  }
}

// Pass 1: the logits of one vocabulary block (a task per block: on several threads the blocks' GEMMs
// run side by side, each mostly on its own thread, instead of one GEMM's slices waiting for each other).
void forward_block(void* p, size_t block) {
  Ctx& x = *static_cast<Ctx*>(p);
  const LinearCrossEntropyArgs& a = *x.a;
  const int64_t v0 = int64_t(block) * kVocabBlock, H = a.h;
  gemm::Args g;
  g.m = x.rows, g.n = std::min(kVocabBlock, a.c - v0), g.k = H;
  g.a = a.input + x.r0 * H, g.a_rs = H, g.a_cs = 1;
  g.b = a.weight + v0 * H, g.b_rs = 1, g.b_cs = H;
  g.c = x.logits + v0, g.ldc = a.c;
  g.row_init = a.bias ? a.bias + v0 : nullptr;
  x.status[block] = gemm::run(g);
}

// Pass 5: the head's gradients as tasks: gradInput rows (one GEMM), gradWeight per vocabulary block, the
// bias sums. They are independent products, so they run side by side on several threads.
void backward_task(void* p, size_t task) {
  Ctx& x = *static_cast<Ctx*>(p);
  const LinearCrossEntropyArgs& a = *x.a;
  const int64_t H = a.h, C = a.c;
  gemm::Args g;
  if (int64_t(task) == x.task_gi) {
    g.m = x.rows, g.n = H, g.k = C;
    g.a = x.grad, g.a_rs = C, g.a_cs = 1;
    g.b = a.weight, g.b_rs = H, g.b_cs = 1;
    g.c = a.grad_input + x.r0 * H, g.ldc = H;
    g.accumulate = a.accumulate;
  } else if (int64_t(task) == x.task_bias) {
    for (int64_t i = 0; i < x.rows; ++i) {
      const float* row = x.grad + i * C;
      for (int64_t j = 0; j < C; ++j) x.bias_acc[j] += double(row[j]);
    }
    x.status[task] = Status::ok();
    return;
  } else {
    const int64_t v0 = (int64_t(task) - x.task_gw) * kVocabBlock;
    g.m = std::min(kVocabBlock, C - v0), g.n = H, g.k = x.rows;
    g.a = x.grad + v0, g.a_rs = 1, g.a_cs = C;
    g.b = a.input + x.r0 * H, g.b_rs = H, g.b_cs = 1;
    g.c = a.grad_weight + v0 * H, g.ldc = H;
    g.accumulate = a.accumulate || x.r0 > 0;
  }
  x.status[task] = gemm::run(g);
}

}  // namespace

int64_t linear_cross_entropy_chunk_rows(int64_t c) {
  const int64_t r = kChunkFloats / std::max<int64_t>(1, c);
  return std::max<int64_t>(16, std::min<int64_t>(4096, r & ~int64_t(15)));
}

Status linear_cross_entropy(const LinearCrossEntropyArgs& a, LinearCrossEntropyResult* result) {
  // ---- shapes and lengths
  const int64_t kMax = int64_t(1) << 40;
  if (a.n < 0 || a.h < 0 || a.c < 1 || a.n > kMax || a.h > kMax || a.c > kMax)
    return Status::range_error("shape: expected N >= 0, H >= 0 and C >= 1, got N=" + std::to_string(a.n) + ", H=" + std::to_string(a.h) +
                               ", C=" + std::to_string(a.c));
  if ((a.h && a.n > kMax / a.h) || (a.h && a.c > kMax / a.h) || (a.c && a.n > kMax / a.c))
    return Status::range_error("shape: element count overflows");
  const int64_t N = a.n, H = a.h, C = a.c;
  const std::string nh = "[N, H] = [" + std::to_string(N) + ", " + std::to_string(H) + "]";
  const std::string ch = "[C, H] = [" + std::to_string(C) + ", " + std::to_string(H) + "]";
  const std::string nc = "[N, C] = [" + std::to_string(N) + ", " + std::to_string(C) + "]";
  Status st;
  if (!(st = length("input", a.input_len, N * H, nh)).is_ok() || !(st = length("linearWeight", a.weight_len, C * H, ch)).is_ok() ||
      !(st = length("linearBias", a.bias ? a.bias_len : -1, C, "[C]")).is_ok() ||
      !(st = length("target", a.target_len, a.target_index ? N : N * C, a.target_index ? "[N]" : nc)).is_ok() ||
      !(st = length("weight", a.class_weight ? a.class_weight_len : -1, C, "[C]")).is_ok() ||
      !(st = length("sampleWeight", a.sample_weight ? a.sample_weight_len : -1, N, "[N]")).is_ok() ||
      !(st = length("gradOutput", a.grad_output ? a.grad_output_len : -1, N, "[N]")).is_ok() ||
      !(st = length("out.gradInput", a.grad_input ? a.grad_input_len : -1, N * H, nh)).is_ok() ||
      !(st = length("out.gradLinearWeight", a.grad_weight ? a.grad_weight_len : -1, C * H, ch)).is_ok() ||
      !(st = length("out.gradLinearBias", a.grad_bias ? a.grad_bias_len : -1, C, "[C]")).is_ok() ||
      !(st = length("out.loss", a.loss_out ? a.loss_len : -1, N, "[N]")).is_ok() ||
      !(st = length("out.lse", a.lse_out ? a.lse_len : -1, N, "[N]")).is_ok())
    return st;
  if ((!a.input && N * H != 0) || (!a.weight && C * H != 0)) return Status::type_error("input and linearWeight: expected Float32Arrays");
  if ((a.target_index == nullptr) == (a.target_prob == nullptr) && N)
    return Status::type_error("target: expected an Int32Array of class ids or a Float32Array of probabilities");
  if (a.reduction != Reduction::None && a.reduction != Reduction::Mean && a.reduction != Reduction::Sum)
    return Status::range_error("reduction: expected 'mean', 'sum' or 'none'");
  if (!(a.label_smoothing >= 0.0 && a.label_smoothing <= 1.0))
    return Status::range_error("labelSmoothing: expected a number in [0, 1], got " + std::to_string(a.label_smoothing));
  if (!(a.softcap >= 0.0) || !std::isfinite(a.softcap)) return Status::range_error("softcap: expected a finite number > 0");
  if (!std::isfinite(a.lse_square_scale)) return Status::range_error("lseSquareScale: expected a finite number");
  if (a.chunk_rows < 0) return Status::range_error("chunkSize: expected a positive integer");
  if (a.reduction == Reduction::None && !a.loss_out && N) return Status::type_error("out.loss: reduction 'none' needs an [N] Float32Array");
  if (a.grad_output && a.reduction != Reduction::None) return Status::type_error("gradOutput: only allowed with reduction 'none'");
  // ---- overlaps: an output must not overlap any input or another output
  struct Span {
    const char* name;
    const void* p;
    uint64_t bytes;
  };
  const Span ins[] = {
      {"input", a.input, uint64_t(N * H) * 4},
      {"linearWeight", a.weight, uint64_t(C * H) * 4},
      {"linearBias", a.bias, uint64_t(C) * 4},
      {"target", a.target_index ? static_cast<const void*>(a.target_index) : a.target_prob, uint64_t(a.target_index ? N : N * C) * 4},
      {"weight", a.class_weight, uint64_t(C) * 4},
      {"sampleWeight", a.sample_weight, uint64_t(N) * 4},
      {"gradOutput", a.grad_output, uint64_t(N) * 4}};
  const Span outs[] = {{"out.gradInput", a.grad_input, uint64_t(N * H) * 4},
                       {"out.gradLinearWeight", a.grad_weight, uint64_t(C * H) * 4},
                       {"out.gradLinearBias", a.grad_bias, uint64_t(C) * 4},
                       {"out.loss", a.loss_out, uint64_t(N) * 4},
                       {"out.lse", a.lse_out, uint64_t(N) * 4}};
  for (const Span& o : outs) {
    for (const Span& i : ins)
      if (overlaps(o.p, o.bytes, i.p, i.bytes)) return Status::range_error(std::string(o.name) + ": overlaps " + i.name);
    for (const Span& p : outs)
      if (&p != &o && overlaps(o.p, o.bytes, p.p, p.bytes)) return Status::range_error(std::string(o.name) + ": overlaps " + p.name);
  }
  // ---- class ids, the mean's denominators (cross-entropy: Σ w[y] over counted rows, or N; z-loss: the count)
  double denom = double(N), count = double(N);
  if (a.target_index) {
    double wt = 0.0;
    int64_t cnt = 0;
    for (int64_t i = 0; i < N; ++i) {
      const int32_t y = a.target_index[i];
      if (y == a.ignore_index) continue;
      if (y < 0 || y >= C)
        return Status::range_error("target[" + std::to_string(i) + "] = " + std::to_string(y) + ": expected a class id in [0, " +
                                   std::to_string(C) + ") or ignoreIndex (" + std::to_string(a.ignore_index) + ")");
      wt += a.class_weight ? double(a.class_weight[y]) : 1.0;
      ++cnt;
    }
    denom = wt, count = double(cnt);
  }
  // ---- buffers, before anything is written
  const int64_t R =
      std::max<int64_t>(1, std::min<int64_t>(std::max<int64_t>(N, 1), a.chunk_rows ? a.chunk_rows : linear_cross_entropy_chunk_rows(C)));
  const bool extras = a.softcap > 0 || a.lse_square_scale != 0.0 || a.lse_out != nullptr || a.want_accuracy;
  const bool separate = a.softcap > 0 || a.lse_square_scale != 0.0;  // the gradient needs the logits after the kernel
  std::unique_ptr<float[]> logits(new (std::nothrow) float[size_t(R * C)]);
  std::unique_ptr<float[]> grad_buf(separate ? new (std::nothrow) float[size_t(R * C)] : nullptr);
  std::unique_ptr<double[]> lse(new (std::nothrow) double[size_t(R)]);
  std::unique_ptr<int32_t[]> argmax(new (std::nothrow) int32_t[size_t(R)]);
  std::unique_ptr<double[]> ce_sums(new (std::nothrow) double[size_t(R + 1)]);  // cross-entropy pool chunks <= units <= R
  std::unique_ptr<double[]> bias_acc(a.grad_bias ? new (std::nothrow) double[size_t(C)] : nullptr);
  if (!logits || (separate && !grad_buf) || !lse || !argmax || !ce_sums || (a.grad_bias && !bias_acc))
    return Status::internal("out of memory allocating linearCrossEntropy's chunk buffers (" + std::to_string(R * C * 4 >> 20) + " MiB)");
  if (bias_acc) std::fill(bias_acc.get(), bias_acc.get() + C, 0.0);
  const int64_t vocab_blocks = (C + kVocabBlock - 1) / kVocabBlock;
  int64_t tasks = 0;
  Ctx x;
  if (a.grad_input) x.task_gi = tasks++;
  if (a.grad_weight) x.task_gw = tasks, tasks += vocab_blocks;
  if (a.grad_bias) x.task_bias = tasks++;
  std::vector<Status> status(size_t(std::max(tasks, vocab_blocks)));
  x.status = status.data();

  x.a = &a;
  x.kernel = ce::chunk_kernel(active_isa());
  x.logits = logits.get();
  x.grad = separate ? grad_buf.get() : logits.get();
  x.lse = lse.get();
  x.argmax = argmax.get();
  x.ce_sums = ce_sums.get();
  x.bias_acc = bias_acc.get();
  const double zs = a.lse_square_scale;
  x.z_coef_base = 2.0 * zs * a.grad_scale / (a.reduction == Reduction::Mean ? count : 1.0);
  double wsum = double(C);
  if (a.class_weight) {
    wsum = 0.0;
    for (int64_t j = 0; j < C; ++j) wsum += double(a.class_weight[j]);
  }
  ce::KernelArgs& k = x.k;
  k = ce::KernelArgs{};
  k.w = a.class_weight, k.c = C, k.s = 1, k.ignore_index = a.ignore_index, k.eps = a.label_smoothing;
  k.keep = float(1.0 - a.label_smoothing), k.spread = float(a.label_smoothing / double(C));
  k.wsum = wsum, k.none = a.reduction == Reduction::None;
  k.scale = a.reduction == Reduction::Mean ? a.grad_scale / denom : a.grad_scale;

  double ce_total = 0.0, z_total = 0.0;
  int64_t correct = 0;
  for (int64_t r0 = 0; r0 < N; r0 += R) {
    const int64_t rows = std::min(R, N - r0);
    x.r0 = r0, x.rows = rows;
    // 1. logits
    parallel_for(size_t(vocab_blocks), forward_block, &x);
    for (int64_t b = 0; b < vocab_blocks; ++b)
      if (!x.status[b].is_ok()) return x.status[b];  // out of memory packing (the first chunk, before anything is written)
    // 2. extras
    if (extras) parallel_for(size_t((rows + 15) / 16), stats_rows, &x);
    // 3. cross-entropy
    k.x = x.logits, k.g = x.grad, k.n = rows;
    k.ti = a.target_index ? a.target_index + r0 : nullptr;
    k.tp = a.target_prob ? a.target_prob + r0 * C : nullptr;
    k.sw = a.sample_weight ? a.sample_weight + r0 : nullptr;
    k.go = a.grad_output ? a.grad_output + r0 : nullptr;
    k.lo = a.loss_out ? a.loss_out + r0 : nullptr;
    x.ce_units = ce::unit_count(k);
    x.ce_per = std::max<int64_t>(1, kCeUnitFloats / ce::unit_elems(k));
    const int64_t ce_chunks = (x.ce_units + x.ce_per - 1) / x.ce_per;
    parallel_for(size_t(ce_chunks), ce_units, &x);
    for (int64_t i = 0; i < ce_chunks; ++i) ce_total += x.ce_sums[i];
    // row statistics, in row order
    for (int64_t i = 0; extras && i < rows; ++i) {
      const int64_t r = r0 + i;
      if (a.lse_out) a.lse_out[r] = float(x.lse[i]);
      if (!counted(x, i)) continue;
      if (a.target_index && x.argmax[i] == a.target_index[r]) ++correct;
      if (zs != 0.0) {
        const double z = zs * x.lse[i] * x.lse[i] * (a.sample_weight ? double(a.sample_weight[r]) : 1.0);
        z_total += z;
        if (a.loss_out) a.loss_out[r] = float(double(a.loss_out[r]) + z);
      }
    }
    // 4. z-loss gradient, soft-cap chain rule
    if (separate) parallel_for(size_t((rows + 15) / 16), post_rows, &x);
    // 5. gradients of the head
    parallel_for(size_t(tasks), backward_task, &x);
    for (int64_t t = 0; t < tasks; ++t)
      if (!x.status[t].is_ok()) return x.status[t];
  }
  if (N == 0) {  // no rows: the gradients of the head are zero (or left as they are when accumulating)
    if (!a.accumulate && a.grad_weight) std::fill(a.grad_weight, a.grad_weight + C * H, 0.0f);
  }
  if (a.grad_bias)
    for (int64_t j = 0; j < C; ++j) a.grad_bias[j] = a.accumulate ? float(double(a.grad_bias[j]) + bias_acc[j]) : float(bias_acc[j]);
  result->accuracy = a.target_index && a.want_accuracy ? double(correct) / count : std::numeric_limits<double>::quiet_NaN();
  if (a.reduction == Reduction::Mean) {
    result->z_loss = zs != 0.0 ? z_total / count : 0.0;
    result->loss = ce_total / denom + result->z_loss;
  } else if (a.reduction == Reduction::Sum) {
    result->loss = ce_total + z_total;
    result->z_loss = z_total;
  } else {
    result->loss = 0.0;
    result->z_loss = z_total;
  }
  return Status::ok();
}

}  // namespace fuseloss
