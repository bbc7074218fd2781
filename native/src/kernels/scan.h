// A validation scan on the pool: the index of the first element for which `ok` is false, or -1. Fixed
// 32 Ki-element chunks, each checked branch-free first and searched only when it holds an offender.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "fuseloss/thread_pool.h"

namespace fuseloss {

template <class Ok>
int64_t first_failing(const float* x, int64_t n, Ok ok) {
  if (n <= 0) return -1;
  constexpr int64_t kChunk = 32768;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<int64_t> first(size_t(chunks), -1);
  struct Ctx {
    const float* x;
    int64_t n;
    int64_t* first;
    const Ok* ok;
  } ctx{x, n, first.data(), &ok};
  parallel_for(
      size_t(chunks),
      [](void* p, size_t i) {
        const Ctx& c = *static_cast<const Ctx*>(p);
        const int64_t b = int64_t(i) * kChunk, e = std::min(c.n, b + kChunk);
        bool all = true;
        for (int64_t j = b; j < e; ++j) all &= (*c.ok)(c.x[j]);
        if (all) return;
        for (int64_t j = b; j < e; ++j)
          if (!(*c.ok)(c.x[j])) {
            c.first[i] = j;
            return;
          }
      },
      &ctx);
  for (int64_t f : first)
    if (f >= 0) return f;
  return -1;
}

}  // namespace fuseloss
