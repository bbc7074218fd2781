// Internal interface of the GEMM behind the linear layers: C[M, N] (+)= A[M, K]·B[K, N] with any strides
// (transposes are strides). K is cut into KC-deep slices, run one after another. Within a slice, A's rows
// are packed once into MC-row blocks and B's columns into NC-column blocks, shared by every tile (one pool
// job), then the MC × NC tiles of C run side by side (a second pool job), each adding the slice's products
// to its tile. The grid, KC and the order of the slices come from the shape alone, and every C element
// adds its K products in the same order, so results do not depend on the thread count.
#pragma once
#include <cstddef>
#include <cstdint>

#include "fuseloss/status.h"

namespace fuseloss {
namespace gemm {

struct Args {
  int64_t m = 0, n = 0, k = 0;
  const float* a = nullptr;  // A(i, p) = a[i·a_rs + p·a_cs]
  int64_t a_rs = 0, a_cs = 0;
  const float* b = nullptr;  // B(p, j) = b[p·b_rs + j·b_cs]
  int64_t b_rs = 0, b_cs = 0;
  float* c = nullptr;  // C(i, j) = c[i·ldc + j]
  int64_t ldc = 0;
  bool accumulate = false;          // C += A·B instead of C = A·B
  const float* row_init = nullptr;  // [N] or null: each row of C starts as this vector (C = init + A·B)
};

constexpr int64_t kMC = 96, kNC = 256, kKC = 384;

// One ISA level's pieces. pack_a: A[m0 : m0 + mc, k0 : k0 + kc] into MR-row panels (kc × MR each, zero
// beyond M); pack_b: B[k0 : k0 + kc, n0 : n0 + nc] into NR-column panels (kc × NR each, zero beyond N).
// tile_slice: the slice k0 : k0 + kc of the tile C[m0:m1, n0:n1] from its packed blocks ap and bp; it stores
// the products into C on the first slice unless C is preset (accumulate, row_init), else adds them; on the
// first slice it first writes row_init (and for K = 0 zero-fills or leaves C as it is).
struct IsaKernels {
  void (*pack_a)(const Args&, int64_t m0, int64_t mc, int64_t k0, int64_t kc, float* dst);
  void (*pack_b)(const Args&, int64_t k0, int64_t kc, int64_t n0, int64_t nc, float* dst);
  void (*tile_slice)(const Args&, int64_t m0, int64_t m1, int64_t n0, int64_t n1, int64_t k0, int64_t kc, const float* ap, const float* bp);
};
IsaKernels kernels_baseline();
IsaKernels kernels_avx2();
IsaKernels kernels_avx512();

// Runs the whole product on the pool with the active ISA level's kernels. The only failure is an
// out-of-memory packing buffer, reported before anything is written.
Status run(const Args& g);
// Runs several independent products together (their packs and tiles side by side, slice by slice); each
// product's sums are exactly those of run(), so the bits are the same. Products reading the same A or B
// (the same pointer, strides and extent) share its packed blocks.
Status run_many(const Args* gs, size_t count);

// Peak single-thread float32 multiply-add rate of the active ISA level (GFLOP/s, 2 flops per FMA),
// measured by a register-resident kernel for about `ms` milliseconds: the benchmarks' GEMM roofline.
double fma_peak_gflops(double ms);
// The same kernel on every pool thread at once (aggregate GFLOP/s): what the threads can do together where
// they share floating-point units (SMT siblings, virtual CPUs on one core).
double fma_peak_all_gflops(double ms);
using PeakKernel = double (*)(int64_t iterations);  // returns a checksum; does 16·kGemmMR·kGemmNV·16 FMAs per iteration
double peak_baseline(int64_t);
double peak_avx2(int64_t);
double peak_avx512(int64_t);
int peak_fmas_per_iteration_baseline();
int peak_fmas_per_iteration_avx2();
int peak_fmas_per_iteration_avx512();

}  // namespace gemm
}  // namespace fuseloss
