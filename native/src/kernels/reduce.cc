// Gradient-reduction drivers: checks, then fixed blocks on the pool (see fuseloss/reduce.h).
#include "fuseloss/reduce.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "checks.h"
#include "fuseloss/cpu.h"
#include "fuseloss/thread_pool.h"
#include "reduce_kernel.h"

namespace fuseloss {
namespace {

constexpr int64_t kJob = 32768;  // elements per pool chunk
constexpr int kMaxTasks = 4096;

red::Kernels active() {
  switch (active_isa()) {
    case Isa::Avx512:
      return red::kernels_avx512();
    case Isa::Avx2:
      return red::kernels_avx2();
    default:
      return red::kernels_baseline();
  }
}

size_t jobs(int64_t n) { return n > 0 ? size_t((n + kJob - 1) / kJob) : 0; }

}  // namespace

Status check_task_grads(const float* const* g, int T, int64_t n, const float* out, bool writes) {
  if (T < 1 || T > kMaxTasks)
    return Status::range_error("grads: expected between 1 and " + std::to_string(kMaxTasks) + " gradients, got " + std::to_string(T));
  if (n < 0 || n > (int64_t(1) << 40)) return Status::range_error("grads: element count out of range");
  if (writes && !out && n > 0) return Status::type_error("out: expected a Float32Array");
  for (int t = 0; t < T; ++t) {
    if (!g[t] && n > 0) return Status::type_error("grads[" + std::to_string(t) + "]: expected a Float32Array");
    if (out && overlaps(out, uint64_t(n) * 4, g[t], uint64_t(n) * 4))
      return Status::range_error("out: overlaps grads[" + std::to_string(t) + "]");
  }
  return Status::ok();
}

Status check_array_list(const void* const* arrays, const int64_t* lengths, int count, bool distinct) {
  if (count < 0) return Status::range_error("grads: expected a list of arrays");
  for (int a = 0; a < count; ++a) {
    if (lengths[a] < 0 || lengths[a] > (int64_t(1) << 40)) return Status::range_error("grads: element count out of range");
    if (!arrays[a] && lengths[a] > 0) return Status::type_error("grads[" + std::to_string(a) + "]: expected a Float32Array");
  }
  if (distinct)
    for (int a = 0; a < count; ++a)
      for (int b = a + 1; b < count; ++b)
        if (overlaps(arrays[a], uint64_t(lengths[a]) * 4, arrays[b], uint64_t(lengths[b]) * 4))
          return Status::range_error("grads[" + std::to_string(b) + "]: overlaps grads[" + std::to_string(a) + "]");
  return Status::ok();
}

namespace {

Status check_grads(const float* const* g, int T, int64_t n, const float* out, bool writes = false) {
  return check_task_grads(g, T, n, out, writes);
}

}  // namespace

Status gram_matrix(const float* const* g, int T, int64_t n, double* out) {
  Status st = check_grads(g, T, n, nullptr);
  if (!st.is_ok()) return st;
  const size_t J = jobs(n), TT = size_t(T) * size_t(T);
  std::vector<double> partial(J * TT, 0.0);
  struct Ctx {
    const float* const* g;
    int T;
    int64_t n;
    double* partial;
    red::Kernels k;
  } ctx{g, T, n, partial.data(), active()};
  parallel_for(
      J,
      [](void* p, size_t j) {
        const Ctx& c = *static_cast<Ctx*>(p);
        const int64_t b = int64_t(j) * kJob, e = std::min(c.n, b + kJob);
        c.k.gram(c.g, c.T, b, e, c.partial + j * size_t(c.T) * size_t(c.T));
      },
      &ctx);
  for (size_t i = 0; i < TT; ++i) out[i] = 0.0;
  for (size_t j = 0; j < J; ++j)
    for (int a = 0; a < T; ++a)
      for (int b = a; b < T; ++b) out[a * T + b] += partial[j * TT + size_t(a * T + b)];
  for (int a = 0; a < T; ++a)
    for (int b = 0; b < a; ++b) out[a * T + b] = out[b * T + a];
  return Status::ok();
}

Status combine_gradients(const float* const* g, int T, int64_t n, const double* coef, float* out) {
  Status st = check_grads(g, T, n, out, true);
  if (!st.is_ok()) return st;
  struct Ctx {
    const float* const* g;
    int T;
    int64_t n;
    const double* coef;
    float* out;
    red::Kernels k;
  } ctx{g, T, n, coef, out, active()};
  parallel_for(
      jobs(n),
      [](void* p, size_t j) {
        const Ctx& c = *static_cast<Ctx*>(p);
        const int64_t b = int64_t(j) * kJob, e = std::min(c.n, b + kJob);
        c.k.combine(c.g, c.T, c.coef, b, e, c.out);
      },
      &ctx);
  return Status::ok();
}

Status grad_drop(const float* const* g, int T, int64_t n, uint64_t seed, float* out) {
  Status st = check_grads(g, T, n, out, true);
  if (!st.is_ok()) return st;
  struct Ctx {
    const float* const* g;
    int T;
    int64_t n;
    uint64_t seed;
    float* out;
    red::Kernels k;
  } ctx{g, T, n, seed, out, active()};
  parallel_for(
      jobs(n),
      [](void* p, size_t j) {
        const Ctx& c = *static_cast<Ctx*>(p);
        const int64_t b = int64_t(j) * kJob, e = std::min(c.n, b + kJob);
        c.k.grad_drop(c.g, c.T, b, e, c.seed, c.out);
      },
      &ctx);
  return Status::ok();
}

Status ema_update(float* const* buffers, const float* const* grads, int T, int64_t n, double keep, double* norms) {
  // The buffers are written: none may overlap another buffer or any gradient (gradients may share memory).
  Status st = check_task_grads(grads, T, n, nullptr, false);
  if (!st.is_ok()) return st;
  const uint64_t bytes = uint64_t(n) * 4;
  for (int t = 0; t < T; ++t) {
    if (!buffers[t] && n > 0) return Status::type_error("buffers[" + std::to_string(t) + "]: expected a Float32Array");
    for (int u = 0; u < T; ++u) {
      if (overlaps(buffers[t], bytes, grads[u], bytes))
        return Status::range_error("buffers[" + std::to_string(t) + "]: overlaps grads[" + std::to_string(u) + "]");
      if (u != t && overlaps(buffers[t], bytes, buffers[u], bytes))
        return Status::range_error("buffers[" + std::to_string(t) + "]: overlaps buffers[" + std::to_string(u) + "]");
    }
  }
  const size_t J = jobs(n);
  std::vector<double> partial(size_t(T) * J, 0.0);
  struct Ctx {
    float* const* buffers;
    const float* const* grads;
    int64_t n;
    size_t J;
    double coef[2];
    double* partial;
    red::Kernels k;
  } ctx{buffers, grads, n, J, {1.0 - keep, keep}, partial.data(), active()};
  parallel_for(
      size_t(T) * J,
      [](void* p, size_t i) {
        const Ctx& c = *static_cast<Ctx*>(p);
        const size_t t = i / c.J, j = i % c.J;
        const int64_t b = int64_t(j) * kJob, e = std::min(c.n, b + kJob);
        float* buf = c.buffers[t];
        const float* pair[2] = {c.grads[t], buf};  // each element's inputs are read before it is written
        c.k.combine(pair, 2, c.coef, b, e, buf);
        c.partial[i] = c.k.sumsq(buf, b, e);
      },
      &ctx);
  for (int t = 0; t < T; ++t) norms[t] = norm_from_partials(partial.data() + size_t(t) * J, J, 2.0);
  return Status::ok();
}

namespace {

struct Flat {
  std::vector<std::pair<int, int64_t>> jobs;  // (array, job index within it)
};

Flat flatten(const int64_t* lengths, int count) {
  Flat f;
  for (int a = 0; a < count; ++a)
    for (size_t j = 0; j < jobs(lengths[a]); ++j) f.jobs.emplace_back(a, int64_t(j));
  return f;
}

Status check_arrays(const void* const* arrays, const int64_t* lengths, int count) {
  return check_array_list(arrays, lengths, count, false);
}

}  // namespace

Status total_norm(const float* const* arrays, const int64_t* lengths, int count, double p, double* out) {
  Status st = check_arrays(reinterpret_cast<const void* const*>(arrays), lengths, count);
  if (!st.is_ok()) return st;
  if (!(p > 0.0)) return Status::range_error("normType: expected a number > 0 or Infinity");
  const Flat f = flatten(lengths, count);
  std::vector<double> partial(f.jobs.size(), 0.0);
  struct Ctx {
    const float* const* arrays;
    const int64_t* lengths;
    const Flat* f;
    double p;
    double* partial;
    red::Kernels k;
  } ctx{arrays, lengths, &f, p, partial.data(), active()};
  parallel_for(
      f.jobs.size(),
      [](void* q, size_t i) {
        const Ctx& c = *static_cast<Ctx*>(q);
        const auto [a, j] = c.f->jobs[i];
        const float* g = c.arrays[a];
        const int64_t b = j * kJob, e = std::min(c.lengths[a], b + kJob);
        double s = 0.0;
        if (c.p == 2.0) {
          s = c.k.sumsq(g, b, e);
        } else if (std::isinf(c.p)) {
          for (int64_t k = b; k < e; ++k) {
            const double v = std::fabs(double(g[k]));
            s = (v > s || std::isnan(v)) ? v : s;  // NaN propagates
          }
        } else if (c.p == 1.0) {
          for (int64_t k = b; k < e; ++k) s += std::fabs(double(g[k]));
        } else {
          for (int64_t k = b; k < e; ++k) s += std::pow(std::fabs(double(g[k])), c.p);
        }
        c.partial[i] = s;
      },
      &ctx);
  *out = norm_from_partials(partial.data(), partial.size(), p);
  return Status::ok();
}

double norm_from_partials(const double* partial, size_t count, double p) {
  double total = 0.0;
  if (std::isinf(p)) {
    for (size_t i = 0; i < count; ++i) total = (partial[i] > total || std::isnan(partial[i])) ? partial[i] : total;
    return total;
  }
  for (size_t i = 0; i < count; ++i) total += partial[i];
  return p == 2.0 ? std::sqrt(total) : p == 1.0 ? total : std::pow(total, 1.0 / p);
}

namespace {
template <class Op>
Status each_element(float* const* arrays, const int64_t* lengths, int count, Op op) {
  Status st = check_array_list(reinterpret_cast<const void* const*>(arrays), lengths, count, true);
  if (!st.is_ok()) return st;
  const Flat f = flatten(lengths, count);
  struct Ctx {
    float* const* arrays;
    const int64_t* lengths;
    const Flat* f;
    const Op* op;
  } ctx{arrays, lengths, &f, &op};
  parallel_for(
      f.jobs.size(),
      [](void* q, size_t i) {
        const Ctx& c = *static_cast<Ctx*>(q);
        const auto [a, j] = c.f->jobs[i];
        float* g = c.arrays[a];
        const int64_t b = j * kJob, e = std::min(c.lengths[a], b + kJob);
        for (int64_t k = b; k < e; ++k) g[k] = (*c.op)(g[k]);
      },
      &ctx);
  return Status::ok();
}
}  // namespace

Status scale_arrays(float* const* arrays, const int64_t* lengths, int count, float factor) {
  return each_element(arrays, lengths, count, [factor](float v) { return v * factor; });
}

Status clip_values(float* const* arrays, const int64_t* lengths, int count, float value) {
  if (!(value >= 0.0f)) return Status::range_error("clipValue: expected a number >= 0");
  return each_element(arrays, lengths, count, [value](float v) { return v > value ? value : v < -value ? -value : v; });
}

Status accumulate_f64(double* acc, const float* g, int64_t n) {
  if (n < 0) return Status::range_error("grad: element count out of range");
  struct Ctx {
    double* acc;
    const float* g;
    int64_t n;
  } ctx{acc, g, n};
  parallel_for(
      jobs(n),
      [](void* q, size_t j) {
        const Ctx& c = *static_cast<Ctx*>(q);
        const int64_t b = int64_t(j) * kJob, e = std::min(c.n, b + kJob);
        for (int64_t k = b; k < e; ++k) c.acc[k] += double(c.g[k]);
      },
      &ctx);
  return Status::ok();
}

Status read_f64(const double* acc, int64_t n, double divisor, float* out) {
  if (n < 0) return Status::range_error("out: element count out of range");
  struct Ctx {
    const double* acc;
    int64_t n;
    double d;
    float* out;
  } ctx{acc, n, divisor, out};
  parallel_for(
      jobs(n),
      [](void* q, size_t j) {
        const Ctx& c = *static_cast<Ctx*>(q);
        const int64_t b = int64_t(j) * kJob, e = std::min(c.n, b + kJob);
        for (int64_t k = b; k < e; ++k) c.out[k] = float(c.acc[k] / c.d);
      },
      &ctx);
  return Status::ok();
}

}  // namespace fuseloss
