// Kernel-only timing of the CUDA cross-entropy (CUDA events, data resident on the device), against a
// device-to-device copy of the same bytes (read logits + write gradient). Built with
// -DFUSELOSS_CUDA_BENCH=ON; bench/cuda/run.sh runs it next to PyTorch's F.cross_entropy + backward().
// Output: one JSON object per line.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "../../native/src/cuda/cross_entropy_device.h"
#include "../../native/src/cuda/elementwise_device.h"

#define CHECK(x)                                                                      \
  do {                                                                                \
    cudaError_t e = (x);                                                              \
    if (e != cudaSuccess) {                                                           \
      std::fprintf(stderr, "%s: %s\n", #x, cudaGetErrorString(e));                    \
      std::exit(1);                                                                   \
    }                                                                                 \
  } while (0)

template <class F>
float time_ms(F fn, int reps) {
  cudaEvent_t a, b;
  CHECK(cudaEventCreate(&a));
  CHECK(cudaEventCreate(&b));
  for (int i = 0; i < 3; ++i) fn();
  CHECK(cudaEventRecord(a));
  for (int i = 0; i < reps; ++i) fn();
  CHECK(cudaEventRecord(b));
  CHECK(cudaEventSynchronize(b));
  float ms = 0;
  CHECK(cudaEventElapsedTime(&ms, a, b));
  return ms / reps;
}

int main(int argc, char** argv) {
  const char* impl = argc > 1 ? argv[1] : "fuseloss";  // a label for tuning builds (run.sh)
  const long long shapes[][2] = {{8192, 32000}, {65536, 1000}, {4096, 1000}, {256, 32000}, {65536, 10}};
  for (auto& sh : shapes) {
    const long long n = sh[0], c = sh[1], elems = n * c;
    std::vector<float> hx(static_cast<size_t>(elems));
    std::vector<int> ht(static_cast<size_t>(n));
    unsigned s = 12345;
    for (auto& v : hx) v = float((s = s * 1103515245u + 12345u) >> 8) / 16777216.0f * 8.0f - 4.0f;
    for (auto& v : ht) v = int((s = s * 1103515245u + 12345u) >> 8) % int(c);
    float *x, *g, *copy;
    int* t;
    double* rl;
    CHECK(cudaMalloc(&x, elems * 4));
    CHECK(cudaMalloc(&g, elems * 4));
    CHECK(cudaMalloc(&copy, elems * 4));
    CHECK(cudaMalloc(&t, n * 4));
    CHECK(cudaMalloc(&rl, n * 8));
    CHECK(cudaMemcpy(x, hx.data(), elems * 4, cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(t, ht.data(), n * 4, cudaMemcpyHostToDevice));
    fuseloss::cuda::DevArgs d{};
    d.x = x, d.ti = t, d.g = g, d.row_loss = rl;
    d.n = n, d.c = c, d.s = 1, d.ignore_index = -100;
    d.eps = 0, d.keep = 1, d.spread = 0, d.wsum = double(c), d.scale = 1.0 / double(n), d.none = false;
    const int reps = elems > 100000000 ? 20 : 50;
    const float ce = time_ms([&] { fuseloss::cuda::launch(d, 0); }, reps);
    CHECK(cudaGetLastError());
    const float cp = time_ms([&] { CHECK(cudaMemcpyAsync(copy, x, elems * 4, cudaMemcpyDeviceToDevice, 0)); }, reps);
    const double bytes = 8.0 * double(elems);
    std::printf("{\"impl\":\"%s\",\"n\":%lld,\"c\":%lld,\"ms\":%.4f,\"gbps\":%.1f,\"copy_ms\":%.4f,\"copy_gbps\":%.1f,\"pct_copy\":%.1f}\n",
                impl, n, c, ce, bytes / (ce * 1e6), cp, bytes / (cp * 1e6), 100.0 * cp / ce);
    cudaFree(x), cudaFree(g), cudaFree(copy), cudaFree(t), cudaFree(rl);
  }
  // Elementwise losses at 64M elements: read input + target, write the gradient (12 B/element), against
  // the copy's bandwidth (GB/s of a D2D copy of the input).
  {
    const long long n = 1LL << 26;
    std::vector<float> hx(static_cast<size_t>(n)), ht(static_cast<size_t>(n));
    unsigned s = 777;
    for (auto& v : hx) v = float((s = s * 1103515245u + 12345u) >> 8) / 16777216.0f * 8.0f - 4.0f;
    for (auto& v : ht) v = float(((s = s * 1103515245u + 12345u) >> 8) & 1);
    float *x, *t, *g, *copy;
    double* sums;
    CHECK(cudaMalloc(&x, n * 4));
    CHECK(cudaMalloc(&t, n * 4));
    CHECK(cudaMalloc(&g, n * 4));
    CHECK(cudaMalloc(&copy, n * 4));
    CHECK(cudaMalloc(&sums, 8192 * 8));
    CHECK(cudaMemcpy(x, hx.data(), n * 4, cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(t, ht.data(), n * 4, cudaMemcpyHostToDevice));
    const float cp = time_ms([&] { CHECK(cudaMemcpyAsync(copy, x, n * 4, cudaMemcpyDeviceToDevice, 0)); }, 20);
    const double copy_gbps = 8.0 * double(n) / (cp * 1e6);
    const struct {
      const char* name;
      fuseloss::ElementwiseLoss kind;
      float p0;
    } losses[] = {{"binaryCrossEntropyWithLogits", fuseloss::ElementwiseLoss::BceWithLogits, 0.f},
                  {"huberLoss", fuseloss::ElementwiseLoss::Huber, 1.f},
                  {"mseLoss", fuseloss::ElementwiseLoss::Mse, 0.f}};
    for (const auto& l : losses) {
      fuseloss::ew::KernelArgs k{};
      k.kind = l.kind, k.x = x, k.t = t, k.g = g, k.numel = n, k.classes = 1, k.per_sample = 1;
      k.scale = float(1.0 / double(n)), k.p0 = l.p0;
      const float ms = time_ms([&] { fuseloss::cuda::ew_launch(k, sums, 0); }, 20);
      CHECK(cudaGetLastError());
      const double gbps = 12.0 * double(n) / (ms * 1e6);
      std::printf("{\"impl\":\"%s\",\"loss\":\"%s\",\"numel\":%lld,\"ms\":%.4f,\"gbps\":%.1f,\"copy_gbps\":%.1f,\"pct_copy_bw\":%.1f}\n",
                  impl, l.name, n, ms, gbps, copy_gbps, 100.0 * gbps / copy_gbps);
    }
    cudaFree(x), cudaFree(t), cudaFree(g), cudaFree(copy), cudaFree(sums);
  }
  return 0;
}
