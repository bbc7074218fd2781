// Internal interface between the elementwise-loss driver and its per-ISA chunk kernels.
#pragma once
#include <cstdint>

#include "fuseloss/elementwise.h"

namespace fuseloss {
namespace ew {

struct KernelArgs {
  ElementwiseLoss kind;
  const float* x;
  const float* t;
  float* g;
  float* lo;                           // reduction None
  int64_t numel, classes, per_sample;  // per_sample = numel / samples
  const float* w;                      // per element (w_classes = false) or per class
  bool w_classes;
  const float* pw;  // per class
  const float* sw;  // per sample
  const float* go;  // per element (None)
  float scale;      // gradient scale (reduced) or the factor on grad_output (None)
  float p0, p1;
  bool flag, flag2, none;
};

// Checks sizes and options (before anything is written) and fills the kernel arguments and the mean's
// denominator. Shared by the CPU driver and the CUDA backend.
Status prepare(const ElementwiseArgs& args, KernelArgs* out, double* denominator);
// The reduced loss from the sum of per-element losses.
double reduce(Reduction reduction, double total, double denominator);

constexpr int64_t kChunk = 32768;  // elements per chunk: fixed, so sums never depend on the thread count

// Processes elements [begin, end) (begin a multiple of 16) and returns the sum of their weighted losses.
using ChunkKernel = double (*)(const KernelArgs&, int64_t begin, int64_t end);
double chunk_baseline(const KernelArgs&, int64_t, int64_t);
double chunk_avx2(const KernelArgs&, int64_t, int64_t);
double chunk_avx512(const KernelArgs&, int64_t, int64_t);
// The chunk kernel of the active ISA level.
ChunkKernel active_kernel();

// p[i] = sigmoid(x[i]) (p may be x).
using SigmoidKernel = void (*)(const float* x, float* p, int64_t n);
void sigmoid_baseline(const float*, float*, int64_t);
void sigmoid_avx2(const float*, float*, int64_t);
void sigmoid_avx512(const float*, float*, int64_t);
SigmoidKernel active_sigmoid();

// One row of the multi-class margin loss (see margin_row in elementwise_kernels.inc).
using MarginRowKernel = double (*)(const float* x, float* g, int64_t C, int64_t y, float margin_minus_xy, float s, bool squared,
                                   double* gy);
double margin_row_baseline(const float*, float*, int64_t, int64_t, float, float, bool, double*);
double margin_row_avx2(const float*, float*, int64_t, int64_t, float, float, bool, double*);
double margin_row_avx512(const float*, float*, int64_t, int64_t, float, float, bool, double*);
MarginRowKernel active_margin_row();

// Cosine-embedding rows: the three float64 dot products, and the two gradients.
struct CosineKernels {
  void (*dot3)(const float* x1, const float* x2, int64_t D, double* out);
  void (*grad)(const float* x1, const float* x2, float* g1, float* g2, int64_t D, float c12, float c11, float c22);
};
CosineKernels cosine_baseline();
CosineKernels cosine_avx2();
CosineKernels cosine_avx512();
CosineKernels active_cosine();

}  // namespace ew
}  // namespace fuseloss
