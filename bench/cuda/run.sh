#!/usr/bin/env bash
# On a GPU machine: builds the CUDA kernel micro-benchmark and runs it and the PyTorch peer.
set -euo pipefail
cd "$(dirname "$0")/../.."
arch="${FUSELOSS_CUDA_ARCHS:-90-real}"
cmake -S . -B build-cuda-bench -DFUSELOSS_CUDA_BENCH=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-cuda-bench --target fuseloss_cuda_kernel_bench fuseloss_cuda_kernel_bench_mb1 fuseloss_cuda_kernel_bench_mb4 -j >/dev/null
./build-cuda-bench/fuseloss_cuda_kernel_bench
# tuning: the warp-per-row cross-entropy kernel budgeted for 1 and 4 resident blocks per SM (the default is 3)
./build-cuda-bench/fuseloss_cuda_kernel_bench_mb1 fuseloss-minblocks1
./build-cuda-bench/fuseloss_cuda_kernel_bench_mb4 fuseloss-minblocks4
python3 bench/cuda/torch_cross_entropy.py
