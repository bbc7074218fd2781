// Device-side launcher of the elementwise-loss kernels (shared with the CUDA micro-benchmark): k holds
// device pointers; block_sums receives ew_blocks(k.numel) float64 partial sums of the losses.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "../kernels/elementwise_kernel.h"

namespace fuseloss {
namespace cuda {

unsigned ew_blocks(int64_t numel);
void ew_launch(const ew::KernelArgs& k, double* block_sums, cudaStream_t stream);

}  // namespace cuda
}  // namespace fuseloss
