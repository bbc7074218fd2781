// Linear-layer drivers: size and aliasing checks, then GEMMs on the pool (gemm_kernel.h) and the bias
// reduction (float64, columns split into fixed chunks, rows added in order).
#include "fuseloss/linear.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "checks.h"
#include "fuseloss/cpu.h"
#include "fuseloss/reduce.h"
#include "fuseloss/thread_pool.h"
#include "gemm_kernel.h"

namespace fuseloss {
namespace gemm {
namespace {

IsaKernels kernels_for(Isa isa) {
  switch (isa) {
    case Isa::Avx512:
      return kernels_avx512();
    case Isa::Avx2:
      return kernels_avx2();
    default:
      return kernels_baseline();
  }
}

// Below this many packed floats in one slice, the packing runs on the calling thread (waking the pool
// would cost more); only where the copies run changes, never what they write.
constexpr int64_t kSerialPack = 32768;

int64_t blocks_m(const Args& g) { return (g.m + kMC - 1) / kMC; }
int64_t blocks_n(const Args& g) { return (g.n + kNC - 1) / kNC; }
int64_t tiles_of(const Args& g) { return g.m > 0 && g.n > 0 ? blocks_m(g) * blocks_n(g) : 0; }
int64_t slices_of(const Args& g) { return g.k > 0 ? (g.k + kKC - 1) / kKC : 1; }  // K = 0: one slice that only initialises C
int64_t kc_of(const Args& g, int64_t s) { return g.k > 0 ? std::min(kKC, g.k - s * kKC) : 0; }

// Where a product's packed blocks sit in the slice buffer (a product reading the same A or B as an earlier
// one uses that one's blocks).
struct Packed {
  int64_t a_at = 0, b_at = 0;
  bool own_a = true, own_b = true;
};

// One slice's work: the blocks to pack (product, side, block) and the tiles to run (product, tile).
struct SliceJob {
  const Args* gs;
  IsaKernels isa;
  int64_t slice;
  const Packed* packed;
  const int64_t* pack_units;   // per unit: product · 2^33 + side · 2^32 + block
  const size_t* tile_product;  // per product with tiles this slice: its index, and its first tile (+ the end)
  const int64_t* tile_offset;
  size_t tile_products;
  float* buf;
};

void pack_unit(void* ctx, size_t u) {
  const SliceJob& j = *static_cast<const SliceJob*>(ctx);
  const int64_t code = j.pack_units[u], block = code & 0xffffffff;
  const size_t pi = size_t(code >> 33);
  const Args& g = j.gs[pi];
  const int64_t k0 = j.slice * kKC, kc = kc_of(g, j.slice);
  if ((code >> 32) & 1) {
    const int64_t n0 = block * kNC;
    j.isa.pack_b(g, k0, kc, n0, std::min(g.n, n0 + kNC) - n0, j.buf + j.packed[pi].b_at + block * kNC * kKC);
  } else {
    const int64_t m0 = block * kMC;
    j.isa.pack_a(g, m0, std::min(g.m, m0 + kMC) - m0, k0, kc, j.buf + j.packed[pi].a_at + block * kMC * kKC);
  }
}

void tile_unit(void* ctx, size_t t) {
  const SliceJob& j = *static_cast<const SliceJob*>(ctx);
  const size_t k = size_t(std::upper_bound(j.tile_offset, j.tile_offset + j.tile_products + 1, int64_t(t)) - j.tile_offset) - 1;
  const size_t pi = j.tile_product[k];
  const Args& g = j.gs[pi];
  const int64_t local = int64_t(t) - j.tile_offset[k], tn = blocks_n(g);
  const int64_t bm = local / tn, bn = local % tn, m0 = bm * kMC, n0 = bn * kNC;
  j.isa.tile_slice(g, m0, std::min(g.m, m0 + kMC), n0, std::min(g.n, n0 + kNC), j.slice * kKC, kc_of(g, j.slice),
                   j.buf + j.packed[pi].a_at + bm * kMC * kKC, j.buf + j.packed[pi].b_at + bn * kNC * kKC);
}

}  // namespace

Status run_many(const Args* gs, size_t count) {
  // The packed blocks of one slice of every product: one buffer per calling thread, grown once, up to
  // kKeepFloats; a call needing more (LM heads, many large heads) allocates its own and frees it after,
  // so no thread keeps more than that. Everything read from it is written first (pack_a / pack_b
  // zero-pad), so it needs no initialisation.
  constexpr int64_t kKeepFloats = int64_t(8) << 20;  // 32 MiB
  static thread_local std::vector<float> keep;
  std::unique_ptr<float[]> own;
  const IsaKernels isa = kernels_for(active_isa());
  std::vector<Packed> packed(count);
  int64_t total = 0, slices = 0;
  for (size_t i = 0; i < count; ++i) {
    const Args& g = gs[i];
    if (tiles_of(g) == 0) continue;
    slices = std::max(slices, slices_of(g));
    if (g.k == 0) continue;
    Packed& p = packed[i];
    for (size_t o = 0; o < i; ++o) {
      const Args& h = gs[o];
      if (tiles_of(h) == 0 || h.k != g.k) continue;
      if (p.own_a && packed[o].own_a && h.a == g.a && h.m == g.m && h.a_rs == g.a_rs && h.a_cs == g.a_cs)
        p.own_a = false, p.a_at = packed[o].a_at;
      if (p.own_b && packed[o].own_b && h.b == g.b && h.n == g.n && h.b_rs == g.b_rs && h.b_cs == g.b_cs)
        p.own_b = false, p.b_at = packed[o].b_at;
    }
    if (p.own_a) p.a_at = total, total += blocks_m(g) * kMC * kKC;
    if (p.own_b) p.b_at = total, total += blocks_n(g) * kNC * kKC;
  }
  float* buf = nullptr;
  if (total <= kKeepFloats) {
    if (int64_t(keep.size()) < total) keep.resize(size_t(total));
    buf = keep.data();
  } else {
    own.reset(new (std::nothrow) float[size_t(total)]);
    buf = own.get();
    if (!buf)  // before anything is written
      return Status::internal("out of memory allocating the GEMM's packing buffer (" + std::to_string(total * 4 >> 20) + " MiB)");
  }
  std::vector<size_t> tile_product;
  std::vector<int64_t> pack_units, tile_offset;
  for (int64_t s = 0; s < slices; ++s) {
    pack_units.clear(), tile_product.clear(), tile_offset.clear();
    int64_t copies = 0, tiles = 0;
    for (size_t i = 0; i < count; ++i) {
      const Args& g = gs[i];
      if (tiles_of(g) == 0 || s >= slices_of(g)) continue;
      tile_product.push_back(i), tile_offset.push_back(tiles);
      tiles += tiles_of(g);
      if (g.k == 0) continue;
      const int64_t code = int64_t(i) << 33;
      if (packed[i].own_a)
        for (int64_t b = 0; b < blocks_m(g); ++b) pack_units.push_back(code | b);
      if (packed[i].own_b)
        for (int64_t b = 0; b < blocks_n(g); ++b) pack_units.push_back(code | (int64_t(1) << 32) | b);
      copies += kc_of(g, s) * ((packed[i].own_a ? g.m : 0) + (packed[i].own_b ? g.n : 0));
    }
    tile_offset.push_back(tiles);
    SliceJob j{gs, isa, s, packed.data(), pack_units.data(), tile_product.data(), tile_offset.data(), tile_product.size(), buf};
    if (copies <= kSerialPack) {
      for (size_t u = 0; u < pack_units.size(); ++u) pack_unit(&j, u);
    } else {
      parallel_for(pack_units.size(), pack_unit, &j);
    }
    parallel_for(size_t(tiles), tile_unit, &j);
  }
  return Status::ok();
}

Status run(const Args& g) { return run_many(&g, 1); }

namespace {
PeakKernel peak_kernel(int* per) {
  if (active_isa() == Isa::Avx512) return *per = peak_fmas_per_iteration_avx512(), peak_avx512;
  if (active_isa() == Isa::Avx2) return *per = peak_fmas_per_iteration_avx2(), peak_avx2;
  return *per = peak_fmas_per_iteration_baseline(), peak_baseline;
}
}  // namespace

double fma_peak_gflops(double ms) {
  int per = 0;
  const PeakKernel kernel = peak_kernel(&per);
  using clock = std::chrono::steady_clock;
  int64_t iters = 1024;
  volatile double sink = 0.0;
  double best = 0.0;
  const auto deadline = clock::now() + std::chrono::duration<double, std::milli>(ms);
  while (clock::now() < deadline) {
    const auto t0 = clock::now();
    sink = sink + kernel(iters);
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    if (s < 1e-3) {
      iters *= 2;
      continue;
    }
    best = std::max(best, 2.0 * double(per) * double(iters) / s / 1e9);
  }
  return best;
}

double fma_peak_all_gflops(double ms) {
  int per = 0;
  const PeakKernel kernel = peak_kernel(&per);
  // Size one run of the kernel to ~ms / 4 on one thread, then run it on every pool thread at once (one
  // chunk each) and take the best of a few rounds: the machine's aggregate multiply-add rate.
  using clock = std::chrono::steady_clock;
  int64_t iters = 1024;
  for (;;) {
    const auto t0 = clock::now();
    volatile double sink = kernel(iters);
    (void)sink;
    if (std::chrono::duration<double, std::milli>(clock::now() - t0).count() >= ms / 4 || iters > (int64_t(1) << 40)) break;
    iters *= 2;
  }
  const size_t threads = size_t(num_threads());
  struct Ctx {
    PeakKernel kernel;
    int64_t iters;
    std::vector<double> sink;
  } ctx{kernel, iters, std::vector<double>(threads)};
  double best = 0.0;
  for (int round = 0; round < 3; ++round) {
    const auto t0 = clock::now();
    parallel_for(
        threads,
        [](void* c, size_t i) {
          Ctx& x = *static_cast<Ctx*>(c);
          x.sink[i] = x.kernel(x.iters);
        },
        &ctx);
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    best = std::max(best, 2.0 * double(per) * double(iters) * double(threads) / s / 1e9);
  }
  return best;
}

}  // namespace gemm

Status check_linear(const LinearArgs& a, bool forward) {
  const int64_t kMax = int64_t(1) << 40;
  if (a.batch < 0 || a.in < 0 || a.out < 0 || a.batch > kMax || a.in > kMax || a.out > kMax || (a.batch && a.in > kMax / a.batch) ||
      (a.batch && a.out > kMax / a.batch) || (a.out && a.in > kMax / a.out))
    return Status::range_error("shape: expected batch, inFeatures, outFeatures >= 0 within the addressable range");
  const int64_t bi = a.batch * a.in, bo = a.batch * a.out, oi = a.out * a.in;
  Status st;
  auto len = [&](const char* name, const void* p, int64_t got, int64_t want, const char* what) -> Status {
    if (!p && want > 0)
      return Status::type_error(std::string(name) + ": expected a Float32Array of " + std::to_string(want) + " elements (" + what + ")");
    if (p && got >= 0 && got != want)
      return Status::range_error(std::string(name) + ": expected " + std::to_string(want) + " elements (" + what + ") but received " +
                                 std::to_string(got));
    return Status::ok();
  };
  if (forward) {
    if (!(st = len("x", a.x, a.x_len, bi, "[batch, inFeatures]")).is_ok() ||
        !(st = len("weight", a.weight, a.weight_len, oi, "[outFeatures, inFeatures]")).is_ok() ||
        !(st = len("out.output", a.y, a.y_len, bo, "[batch, outFeatures]")).is_ok())
      return st;
    if (a.bias && !(st = len("bias", a.bias, a.bias_len, a.out, "[outFeatures]")).is_ok()) return st;
    const uint64_t yb = uint64_t(bo) * 4;
    if (overlaps(a.y, yb, a.x, uint64_t(bi) * 4) || overlaps(a.y, yb, a.weight, uint64_t(oi) * 4) ||
        overlaps(a.y, yb, a.bias, uint64_t(a.out) * 4))
      return Status::range_error("out.output: must not overlap x, weight or bias");
    return Status::ok();
  }
  if (!(st = len("gradOut", a.grad_out, a.grad_out_len, bo, "[batch, outFeatures]")).is_ok()) return st;
  if (a.grad_weight && !(st = len("x", a.x, a.x_len, bi, "[batch, inFeatures]")).is_ok()) return st;
  if (a.grad_input && !(st = len("weight", a.weight, a.weight_len, oi, "[outFeatures, inFeatures]")).is_ok()) return st;
  if (a.grad_weight && !(st = len("out.gradWeight", a.grad_weight, a.grad_weight_len, oi, "[outFeatures, inFeatures]")).is_ok()) return st;
  if (a.grad_bias && !(st = len("out.gradBias", a.grad_bias, a.grad_bias_len, a.out, "[outFeatures]")).is_ok()) return st;
  if (a.grad_input && !(st = len("out.gradInput", a.grad_input, a.grad_input_len, bi, "[batch, inFeatures]")).is_ok()) return st;
  struct R {
    const void* p;
    uint64_t bytes;
    const char* name;
  };
  const R outs[] = {{a.grad_weight, uint64_t(oi) * 4, "out.gradWeight"},
                    {a.grad_bias, uint64_t(a.out) * 4, "out.gradBias"},
                    {a.grad_input, uint64_t(bi) * 4, "out.gradInput"}};
  const R ins[] = {{a.x, uint64_t(bi) * 4, "x"}, {a.weight, uint64_t(oi) * 4, "weight"}, {a.grad_out, uint64_t(bo) * 4, "gradOut"}};
  for (const R& o : outs) {
    for (const R& i : ins)
      if (overlaps(o.p, o.bytes, i.p, i.bytes)) return Status::range_error(std::string(o.name) + ": overlaps " + i.name);
    for (const R& o2 : outs)
      if (&o2 != &o && overlaps(o.p, o.bytes, o2.p, o2.bytes)) return Status::range_error(std::string(o.name) + ": overlaps " + o2.name);
  }
  return Status::ok();
}

namespace {

// gradBias[o] (+)= Σ_b gradOut[b, o] in float64, columns in fixed chunks, rows in order.
void bias_grad(const LinearArgs& a) {
  constexpr int64_t kCols = 1024;
  const int64_t chunks = (a.out + kCols - 1) / kCols;
  struct Ctx {
    const LinearArgs* a;
  } ctx{&a};
  parallel_for(
      size_t(chunks),
      [](void* p, size_t c) {
        const LinearArgs& a = *static_cast<Ctx*>(p)->a;
        const int64_t o0 = int64_t(c) * kCols, o1 = std::min(a.out, o0 + kCols);
        double acc[kCols] = {};
        for (int64_t b = 0; b < a.batch; ++b) {
          const float* g = a.grad_out + b * a.out;
          for (int64_t o = o0; o < o1; ++o) acc[o - o0] += double(g[o]);
        }
        for (int64_t o = o0; o < o1; ++o) a.grad_bias[o] = a.accumulate ? float(double(a.grad_bias[o]) + acc[o - o0]) : float(acc[o - o0]);
      },
      &ctx);
}

}  // namespace

double fma_peak_gflops(double ms) { return gemm::fma_peak_gflops(ms); }
double fma_peak_all_gflops(double ms) { return gemm::fma_peak_all_gflops(ms); }

Status linear_forward(const LinearArgs& a) {
  Status st = check_linear(a, true);
  if (!st.is_ok()) return st;
  // y = b + x·Wᵀ (A = x, B(i, o) = W[o, i]); each tile starts its rows from the bias
  gemm::Args g;
  g.m = a.batch, g.n = a.out, g.k = a.in;
  g.a = a.x, g.a_rs = a.in, g.a_cs = 1;
  g.b = a.weight, g.b_rs = 1, g.b_cs = a.in;
  g.c = a.y, g.ldc = a.out, g.row_init = a.bias;
  return gemm::run(g);
}

Status linear_backward(const LinearArgs& a) {
  Status st = check_linear(a, false);
  if (!st.is_ok()) return st;
  // Both GEMMs in one run (side by side; each product's bits are those of running it alone), so a failed
  // packing allocation leaves every output untouched.
  gemm::Args gs[2];
  size_t count = 0;
  if (a.grad_weight) {  // [out, in] = gradOutᵀ·x: A(o, b) = gradOut[b, o], B(b, i) = x[b, i]
    gemm::Args& g = gs[count++];
    g.m = a.out, g.n = a.in, g.k = a.batch;
    g.a = a.grad_out, g.a_rs = 1, g.a_cs = a.out;
    g.b = a.x, g.b_rs = a.in, g.b_cs = 1;
    g.c = a.grad_weight, g.ldc = a.in, g.accumulate = a.accumulate;
  }
  if (a.grad_input) {  // [batch, in] = gradOut·W: A(b, o) = gradOut[b, o], B(o, i) = W[o, i]
    gemm::Args& g = gs[count++];
    g.m = a.batch, g.n = a.in, g.k = a.out;
    g.a = a.grad_out, g.a_rs = a.out, g.a_cs = 1;
    g.b = a.weight, g.b_rs = a.in, g.b_cs = 1;
    g.c = a.grad_input, g.ldc = a.in, g.accumulate = a.accumulate;
  }
  if (!(st = gemm::run_many(gs, count)).is_ok()) return st;
  if (a.grad_bias) bias_grad(a);
  return Status::ok();
}

Status check_multi_head(const MultiHeadArgs& a, bool gram, std::vector<LinearArgs>* heads) {
  const size_t T = a.heads.size();
  std::vector<LinearArgs>& la = *heads;
  la.assign(T, LinearArgs{});
  for (size_t t = 0; t < T; ++t) {
    const HeadArgs& h = a.heads[t];
    LinearArgs& l = la[t];
    l.batch = a.batch, l.in = a.in, l.out = h.out;
    l.x = a.x, l.x_len = a.x_len, l.weight = h.weight, l.weight_len = h.weight_len, l.grad_out = h.grad_out,
    l.grad_out_len = h.grad_out_len;
    l.grad_weight = h.grad_weight, l.grad_weight_len = h.grad_weight_len, l.grad_bias = h.grad_bias, l.grad_bias_len = h.grad_bias_len;
    l.grad_input = h.grad_input, l.grad_input_len = h.grad_input_len, l.accumulate = a.accumulate;
    Status st = check_linear(l, false);
    if (!st.is_ok()) return Status{st.kind, "heads[" + std::to_string(t) + "]: " + st.message};
    if (gram && !h.grad_input) return Status::type_error("heads[" + std::to_string(t) + "]: the Gram matrix needs every gradInput");
  }
  // Heads run side by side: a head's outputs must not overlap anything of another head (or x).
  for (size_t t = 0; t < T; ++t) {
    const LinearArgs& l = la[t];
    const std::pair<const void*, uint64_t> outs[] = {
        {l.grad_weight, uint64_t(l.out * l.in) * 4}, {l.grad_bias, uint64_t(l.out) * 4}, {l.grad_input, uint64_t(l.batch * l.in) * 4}};
    for (size_t u = 0; u < T; ++u) {
      if (u == t) continue;
      const LinearArgs& m = la[u];
      const std::pair<const void*, uint64_t> theirs[] = {{m.weight, uint64_t(m.out * m.in) * 4},
                                                         {m.grad_out, uint64_t(m.batch * m.out) * 4},
                                                         {m.grad_weight, uint64_t(m.out * m.in) * 4},
                                                         {m.grad_bias, uint64_t(m.out) * 4},
                                                         {m.grad_input, uint64_t(m.batch * m.in) * 4}};
      for (const auto& o : outs)
        for (const auto& r : theirs)
          if (overlaps(o.first, o.second, r.first, r.second))
            return Status::range_error("heads[" + std::to_string(t) + "]: an output overlaps an array of heads[" + std::to_string(u) + "]");
    }
  }
  return Status::ok();
}

Status multi_head_backward(const MultiHeadArgs& a, double* gram) {
  const size_t T = a.heads.size();
  std::vector<LinearArgs> la;
  Status st = check_multi_head(a, gram != nullptr, &la);
  if (!st.is_ok()) return st;
  std::vector<gemm::Args> gs;
  for (const LinearArgs& l : la) {
    if (l.grad_weight) {
      gemm::Args g;
      g.m = l.out, g.n = l.in, g.k = l.batch;
      g.a = l.grad_out, g.a_rs = 1, g.a_cs = l.out;
      g.b = l.x, g.b_rs = l.in, g.b_cs = 1;
      g.c = l.grad_weight, g.ldc = l.in, g.accumulate = l.accumulate;
      gs.push_back(g);
    }
    if (l.grad_input) {
      gemm::Args g;
      g.m = l.batch, g.n = l.in, g.k = l.out;
      g.a = l.grad_out, g.a_rs = l.out, g.a_cs = 1;
      g.b = l.weight, g.b_rs = l.in, g.b_cs = 1;
      g.c = l.grad_input, g.ldc = l.in, g.accumulate = l.accumulate;
      gs.push_back(g);
    }
  }
  if (!(st = gemm::run_many(gs.data(), gs.size())).is_ok()) return st;
  for (const LinearArgs& l : la)
    if (l.grad_bias) bias_grad(l);
  if (gram && T > 0) {
    std::vector<const float*> g(T);
    for (size_t t = 0; t < T; ++t) g[t] = la[t].grad_input;
    return gram_matrix(g.data(), int(T), a.batch * a.in, gram);
  }
  return Status::ok();
}

}  // namespace fuseloss
