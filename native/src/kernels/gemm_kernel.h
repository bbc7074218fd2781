// Internal interface of the GEMM behind the linear layers: C[M, N] (+)= A[M, K]·B[K, N] with any strides
// (transposes are strides), tiled into fixed MC × NC tiles of C (one pool chunk each, a tile owned by one
// thread for its whole K loop) and KC-deep slices of K. The tile grid and KC come from the shape alone, and
// every C element adds its K products in the same order, so results do not depend on the thread count.
#pragma once
#include <cstdint>

namespace fuseloss {
namespace gemm {

struct Args {
  int64_t m = 0, n = 0, k = 0;
  const float* a = nullptr;  // A(i, p) = a[i·a_rs + p·a_cs]
  int64_t a_rs = 0, a_cs = 0;
  const float* b = nullptr;  // B(p, j) = b[p·b_rs + j·b_cs]
  int64_t b_rs = 0, b_cs = 0;
  float* c = nullptr;        // C(i, j) = c[i·ldc + j]
  int64_t ldc = 0;
  bool accumulate = false;   // C += A·B instead of C = A·B
  const float* row_init = nullptr;  // [N] or null: each row of C starts as this vector (C = init + A·B)
};

constexpr int64_t kMC = 96, kNC = 512, kKC = 256;

// Computes the tile C[m0:m1, n0:n1] over all of K (packing A and B slices into thread-local buffers).
using TileKernel = void (*)(const Args&, int64_t m0, int64_t m1, int64_t n0, int64_t n1);
void tile_baseline(const Args&, int64_t, int64_t, int64_t, int64_t);
void tile_avx2(const Args&, int64_t, int64_t, int64_t, int64_t);
void tile_avx512(const Args&, int64_t, int64_t, int64_t, int64_t);

// Runs the whole product on the pool with the active ISA level's tile kernel.
void run(const Args& g);
// Runs several independent products in one pool job (their tiles side by side); each product's tiles and
// sums are exactly those of run(), so the bits are the same.
void run_many(const Args* gs, size_t count);

// Peak single-thread float32 multiply-add rate of the active ISA level (GFLOP/s, 2 flops per FMA),
// measured by a register-resident kernel for about `ms` milliseconds: the benchmarks' GEMM roofline.
double fma_peak_gflops(double ms);
using PeakKernel = double (*)(int64_t iterations);  // returns a checksum; does 16·kGemmMR·kGemmNV·16 FMAs per iteration
double peak_baseline(int64_t);
double peak_avx2(int64_t);
double peak_avx512(int64_t);
int peak_fmas_per_iteration_baseline();
int peak_fmas_per_iteration_avx2();
int peak_fmas_per_iteration_avx512();

}  // namespace gemm
}  // namespace fuseloss
