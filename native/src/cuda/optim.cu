// Optimizer steps on CUDA: the CPU driver's checks (validate_optimizer) and scalars (optim::make_step),
// then one grid-stride kernel per parameter buffer running the CPU loops' own element update
// (kernels/optim_math.inc; no multiply-add contraction, IEEE division and square root): the same bits as
// the CPU step. Host buffers are staged (parameters and moments go up and come back), DeviceBuffers are
// updated where they are.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "../kernels/hd.h"
#include "../kernels/optim_kernel.h"
#include "context.h"
#include "fuseloss/cuda.h"
#include "fuseloss/optim.h"

namespace fuseloss {
namespace cuda {

namespace {

#include "../kernels/optim_math.inc"

template <int Kind, bool Decay>
__global__ void optim_kernel(optim::Step s, float* p, const float* g, float* m, float* v, int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) optim_element<Kind, Decay>(s, p, g, m, v, i);
}

void launch_optim(const optim::Step& s, float* p, const float* g, float* m, float* v, int64_t n, cudaStream_t stream) {
  const unsigned blocks = unsigned(std::min<int64_t>(8192, (n + 255) / 256));
  const bool decay = s.weight_decay != 0.0f;
  switch (s.kind) {
    case 0:
      if (decay)
        optim_kernel<0, true><<<blocks, 256, 0, stream>>>(s, p, g, m, v, n);
      else
        optim_kernel<0, false><<<blocks, 256, 0, stream>>>(s, p, g, m, v, n);
      break;
    case 1:
      if (decay)
        optim_kernel<1, true><<<blocks, 256, 0, stream>>>(s, p, g, m, v, n);
      else
        optim_kernel<1, false><<<blocks, 256, 0, stream>>>(s, p, g, m, v, n);
      break;
    default:
      optim_kernel<2, false><<<blocks, 256, 0, stream>>>(s, p, g, m, v, n);
      break;
  }
}

}  // namespace

Status optimizer_step(const OptimizerArgs& a) {
  Status st = validate_optimizer(a);
  if (!st.is_ok()) return st;
  const optim::Step s = optim::make_step(a);
  const bool adam = a.kind != OptimizerKind::Sgd, needs_m = adam || a.hyper.momentum != 0.0;
  struct Slots {
    size_t p, g, m, v;
  };
  std::vector<Slots> slots(a.buffers.size());
  Staging sg;
  for (size_t i = 0; i < a.buffers.size(); ++i) {
    const ParamBuffer& b = a.buffers[i];
    const size_t bytes = size_t(b.param_len) * 4;
    slots[i] = {sg.inout(b.param, bytes), sg.input(b.grad, bytes), sg.inout(needs_m ? b.exp_avg : nullptr, bytes),
                sg.inout(adam ? b.exp_avg_sq : nullptr, bytes)};
  }
  return run_staged(sg, [&](Context& cx) {
    for (size_t i = 0; i < a.buffers.size(); ++i) {
      const ParamBuffer& b = a.buffers[i];
      if (b.param_len == 0) continue;
      launch_optim(s, sg.at(cx, b.param, slots[i].p), sg.at(cx, b.grad, slots[i].g), needs_m ? sg.at(cx, b.exp_avg, slots[i].m) : nullptr,
                   adam ? sg.at(cx, b.exp_avg_sq, slots[i].v) : nullptr, b.param_len, cx.stream);
    }
  });
}

}  // namespace cuda
}  // namespace fuseloss
