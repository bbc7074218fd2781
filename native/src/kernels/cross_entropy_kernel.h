// Internal interface between the cross-entropy driver (validation, denominators, chunking, reduction)
// and the per-ISA chunk kernels in kernels/isa/.
#pragma once
#include <cstdint>

#include "fuseloss/cpu.h"
#include "fuseloss/cross_entropy.h"

namespace fuseloss {
namespace ce {

struct KernelArgs {
  const float* x;     // [N, C, S]
  const int32_t* ti;  // [N, S] or null
  const float* tp;    // [N, C, S] or null
  const float* w;     // [C] or null
  const float* go;    // [N, S] or null (reduction None only)
  const float* sw;    // [N] or null: per-sample weight of losses and gradients
  float* g;           // [N, C, S]
  float* lo;          // [N, S] when none
  int64_t n, c, s;
  int64_t ignore_index;
  double eps;          // label smoothing
  float keep, spread;  // 1 - eps and eps / C, as float32 (smoothed probability targets)
  double wsum;         // Σ w_c (C when unweighted)
  double scale;        // gradient scale of every row (reduced), or the factor on grad_output (None)
  bool none;
};

// Lanes per tile: 16 floats, one AVX-512 register (two AVX2, four SSE2 registers).
constexpr int64_t kTile = 16;

// The work layout, from the shape alone (see cross_entropy_kernels.inc).
enum class Layout { Rows, Narrow, Tiles };
inline Layout layout(const KernelArgs& k) {
  if (k.s != 1) return Layout::Tiles;
  return k.c < kTile ? Layout::Narrow : Layout::Rows;
}

// Per-sample weight of position pos (n·S + p); 1 without sample weights.
inline double sample_weight(const KernelArgs& k, int64_t pos) { return k.sw ? double(k.sw[pos / k.s]) : 1.0; }

// Work units: a row (Rows), 16 rows (Narrow), or (sample, 16 positions) in sample-major order (Tiles).
inline int64_t unit_count(const KernelArgs& k) {
  switch (layout(k)) {
    case Layout::Rows:
      return k.n;
    case Layout::Narrow:
      return (k.n + kTile - 1) / kTile;
    default:
      return k.n * ((k.s + kTile - 1) / kTile);
  }
}
inline int64_t unit_elems(const KernelArgs& k) { return layout(k) == Layout::Rows ? k.c : k.c * kTile; }

// Checks sizes, overlaps and class ids (before anything is written) and fills the kernel arguments and the
// mean's denominator. Shared by the CPU driver and the CUDA backend.
Status prepare(const CrossEntropyArgs& args, KernelArgs* out, double* denominator);
// The reduced loss from the sum of per-row losses.
double reduce(Reduction reduction, double total, double denominator);

// Each processes units [begin, end) and returns the sum of their losses (float64, in unit order).
using ChunkKernel = double (*)(const KernelArgs&, int64_t begin, int64_t end);
double chunk_baseline(const KernelArgs&, int64_t, int64_t);
double chunk_avx2(const KernelArgs&, int64_t, int64_t);
double chunk_avx512(const KernelArgs&, int64_t, int64_t);
// The chunk kernel of an ISA level (the cross-entropy driver's and linear_cross_entropy's).
ChunkKernel chunk_kernel(Isa isa);

}  // namespace ce
}  // namespace fuseloss
