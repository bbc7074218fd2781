#!/usr/bin/env bash
# Builds the addon with -fsanitize=address,undefined (build-asan/, CPU only) and runs every test suite
# under it, with the sanitizer runtimes preloaded into Node, but three: the soak test (ASan's quarantine
# inflates the RSS it bounds), and the bench harness and API-docs tests (their child processes, PyTorch
# and typedoc among them, run no kernel and must not run with the sanitizers preloaded). Any report fails
# the run.
set -euo pipefail
cd "$(dirname "$0")/.."
npx cmake-js compile --out build-asan --CDFUSELOSS_SANITIZE=ON --CDFUSELOSS_CUDA=OFF
npm run build:ts
export LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export FUSELOSS_ADDON_PATH="$PWD/build-asan/Release/fuseloss.node"
npx vitest run --pool=forks --exclude test/soak.test.ts --exclude test/bench.test.ts --exclude test/apiDocs.test.ts
