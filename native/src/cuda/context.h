// What the CUDA backend's calls share: one stream and grow-only buffers (a device arena and pinned host
// staging), guarded by one mutex (calls are serialised), and the error mapping.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <mutex>
#include <string>

#include "fuseloss/status.h"

namespace fuseloss {
namespace cuda {

Status cuda_error(cudaError_t e, const char* what);

#define FUSELOSS_CUDA_TRY(expr, what)                       \
  do {                                                      \
    cudaError_t err_ = (expr);                              \
    if (err_ != cudaSuccess) return cuda_error(err_, what); \
  } while (0)

struct Context {
  std::mutex mu;
  bool ready = false;
  cudaStream_t stream = nullptr;
  char* device = nullptr;
  size_t device_bytes = 0;
  char* pinned = nullptr;
  size_t pinned_bytes = 0;
  Status init();
  Status reserve(size_t bytes);
};

Context& context();

inline size_t align256(size_t b) { return (b + 255) & ~size_t(255); }

}  // namespace cuda
}  // namespace fuseloss
