// The CPU kernels' per-element formulas (elementwise_ops.inc, simd_math.inc, simd_exp.inc) on the one-lane
// pack (simd/lane.h), compiled for the device in namespace fuseloss::cuda::lanes: the CUDA kernels call the
// very code the CPU tests cover.
#pragma once
#include "../kernels/elementwise_kernel.h"
#include "../kernels/hd.h"

namespace fuseloss {
namespace cuda {
namespace lanes {

template <class F>
FUSELOSS_HD F splat(float);
template <class F>
FUSELOSS_HD F load(const float*);
template <class D>
FUSELOSS_HD D dzero();
template <class D>
FUSELOSS_HD D dsplat(double);
template <class D>
FUSELOSS_HD D dload(const double*);
template <class D>
FUSELOSS_HD D dload_f(const float*);
#include "../simd/lane.h"
#include "../kernels/simd_exp.inc"
#include "../kernels/simd_math.inc"
#include "../kernels/elementwise_ops.inc"

}  // namespace lanes
}  // namespace cuda
}  // namespace fuseloss
