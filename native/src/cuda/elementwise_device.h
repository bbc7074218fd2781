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

// The arguments with binaryCrossEntropy's check of the probabilities made on the device when the input lives
// there (then marked input_checked for ew::prepare); otherwise unchanged.
Status device_checked_args(const ElementwiseArgs& args, ElementwiseArgs* h);

}  // namespace cuda
}  // namespace fuseloss
