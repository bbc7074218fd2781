// The CUDA backend (built only when FUSELOSS_CUDA is on; lives in its own addon, fuseloss_cuda.node, linked
// with the static CUDA runtime, so the CPU addon never depends on a driver).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "fuseloss/cross_entropy.h"
#include "fuseloss/elementwise.h"
#include "fuseloss/multi_task.h"
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

// crossEntropy on device 0 with host arrays: the same checks as the CPU path (nothing is written on a bad
// argument), then copy in through pinned staging buffers reused across calls, compute on one stream,
// copy out. Calls are serialised (one stream, shared buffers).
Status cross_entropy(const CrossEntropyArgs& args, double* loss);

// The elementwise losses (see fuseloss/elementwise.h) on device 0, host arrays in and out, the same checks
// as the CPU path; gradients and per-element losses carry the CPU kernels' bits.
Status elementwise_loss(const ElementwiseArgs& args, double* loss);

// MultiTaskLoss's step (see fuseloss/multi_task.h) on device 0 for crossEntropy and elementwise tasks:
// one upload, every kernel on one stream, one download; the CPU driver's checks and weight rules.
Status multi_task_loss(const MultiTaskArgs& args, MultiTaskResult* result);

}  // namespace cuda
}  // namespace fuseloss
