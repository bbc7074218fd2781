#!/usr/bin/env bash
# Builds the core's fuzz target with AddressSanitizer + UBSan (build-fuzz/) and runs it for a time budget:
#   npm run fuzz [-- seconds]      (default 60). libFuzzer when CXX is clang, a seeded random driver otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
cmake -S . -B build-fuzz -DFUSELOSS_FUZZ=ON -DFUSELOSS_SANITIZE=ON -DFUSELOSS_CUDA=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-fuzz --target fuseloss_fuzz -j >/dev/null
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if ./build-fuzz/fuseloss_fuzz -help=1 >/dev/null 2>&1; then
  ./build-fuzz/fuseloss_fuzz -max_total_time="$seconds" -max_len=4096 2>&1 | tail -3
else
  ./build-fuzz/fuseloss_fuzz "$seconds" 1
fi
