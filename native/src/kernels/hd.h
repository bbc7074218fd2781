// FUSELOSS_HD marks math compiled for the host and, under nvcc, for the device too (__host__ __device__):
// the CUDA kernels run the CPU kernels' own per-element formulas, so the CPU tests cover them.
#pragma once
#ifndef FUSELOSS_HD
#ifdef __CUDACC__
#define FUSELOSS_HD __host__ __device__
#else
#define FUSELOSS_HD
#endif
#endif

// Bit casts usable on both sides (memcpy is a builtin in device code too).
#define FUSELOSS_BITCAST(dst, src) __builtin_memcpy(&(dst), &(src), sizeof(dst))
