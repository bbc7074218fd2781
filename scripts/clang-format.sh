#!/usr/bin/env bash
# clang-format over native/ (C++, CUDA and the per-ISA .inc files): `--check` fails on any file that would
# change (npm run lint), otherwise rewrites them in place (npm run format).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files 'native/*.h' 'native/*.cc' 'native/*.inc' 'native/*.cu' 'native/*.cuh')
if [ "${1:-}" = "--check" ]; then
  clang-format --dry-run --Werror "${files[@]}"
  echo "clang-format: ${#files[@]} files formatted"
else
  clang-format -i "${files[@]}"
fi
