// The CUDA backend (built only when FUSELOSS_CUDA is on; lives in its own addon, fuseloss_cuda.node, linked
// with the static CUDA runtime, so the CPU addon never depends on a driver).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "fuseloss/cross_entropy.h"
#include "fuseloss/elementwise.h"
#include "fuseloss/linear.h"
#include "fuseloss/rowwise.h"
#include "fuseloss/multi_task.h"
#include "fuseloss/optim.h"
#include "fuseloss/status.h"

namespace fuseloss {
namespace cuda {

struct DeviceInfo {
  int index;
  std::string name;
  uint64_t total_memory;
  int major, minor;
  int multiprocessors;
};

// Devices visible to the CUDA runtime; an error status when there is no driver or no device.
Status devices(std::vector<DeviceInfo>* out);

// Every array argument below may be host memory (staged: copied in and out through pinned buffers) or
// device memory (a DeviceBuffer: read and written in place); the loss comes back to the host.
//
// crossEntropy on device 0: the same checks as the CPU path (nothing is written on a bad
// argument), then copy in through pinned staging buffers reused across calls, compute on one stream,
// copy out. Calls are serialised (one stream, shared buffers).
Status cross_entropy(const CrossEntropyArgs& args, double* loss);
// nllLoss (see fuseloss/rowwise.h) on device 0, the same way.
Status nll_loss(const CrossEntropyArgs& args, double* loss);

// The elementwise losses (see fuseloss/elementwise.h) on device 0, host arrays in and out, the same checks
// as the CPU path; gradients and per-element losses carry the CPU kernels' bits.
Status elementwise_loss(const ElementwiseArgs& args, double* loss);

// MultiTaskLoss's step (see fuseloss/multi_task.h) on device 0 for crossEntropy and elementwise tasks:
// one upload, every kernel on one stream, one download; the CPU driver's checks and weight rules.
Status multi_task_loss(const MultiTaskArgs& args, MultiTaskResult* result);

// The row-coupled losses (see fuseloss/rowwise.h) on device 0, the CPU planners' checks first.
enum class RowKind { MultiMargin, MultilabelSoftMargin, CosineEmbedding, SoftF1, CosineDistance };
Status row_loss(RowKind kind, const RowLossArgs& args, double* loss);

// Linear heads (see fuseloss/linear.h) and the passes over task gradients (see fuseloss/reduce.h) on
// device 0, with the CPU drivers' checks.
Status linear_forward(const LinearArgs& args);
Status linear_backward(const LinearArgs& args);
Status gram_matrix(const float* const* grads, int T, int64_t n, double* out);
Status combine_gradients(const float* const* grads, int T, int64_t n, const double* coef, float* out);
Status multi_head_backward(const MultiHeadArgs& args, double* gram);
Status grad_drop(const float* const* grads, int T, int64_t n, uint64_t seed, float* out);
Status total_norm(const float* const* arrays, const int64_t* lengths, int count, double p, double* out);
Status scale_arrays(float* const* arrays, const int64_t* lengths, int count, float factor);
Status clip_values(float* const* arrays, const int64_t* lengths, int count, float value);
// Optimizer steps (fuseloss/optim.h) on parameters, gradients and moments in device or host memory.
Status optimizer_step(const OptimizerArgs& args);
// GradAccumulator's float64 sums (fuseloss/reduce.h's accumulate_f64 / read_f64): acc is device or host memory.
Status accumulate_f64(double* acc, const float* g, int64_t n);
Status read_f64(const double* acc, int64_t n, double divisor, float* out);

// Device memory of a DeviceBuffer (its own allocation, zero-filled), freed by device_free. Copies run on
// the calls' stream through the pinned staging and wait for it, so they are ordered with every call.
Status device_alloc(size_t bytes, void** out);
void device_free(void* p);
Status device_copy(void* dst, const void* src, size_t bytes, bool to_device);
Status device_copy_d2d(void* dst, const void* src, size_t bytes);
// Zero-fills device memory (on the stream, waited for).
Status device_zero(void* dst, size_t bytes);

// Milliseconds between events recorded before and after the kernels of the last call (copies excluded).
float last_kernel_ms();

}  // namespace cuda
}  // namespace fuseloss
