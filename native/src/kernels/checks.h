// Size and aliasing checks shared by the kernel drivers (run before anything is written).
#pragma once
#include <cstdint>
#include <string>

#include "fuseloss/status.h"

namespace fuseloss {

// Whether [a, a + a_bytes) and [b, b + b_bytes) intersect (null or empty ranges never do).
inline bool overlaps(const void* a, uint64_t a_bytes, const void* b, uint64_t b_bytes) {
  if (!a || !b || a_bytes == 0 || b_bytes == 0) return false;
  const auto pa = reinterpret_cast<uintptr_t>(a), pb = reinterpret_cast<uintptr_t>(b);
  return pa < pb + b_bytes && pb < pa + a_bytes;
}

// A caller's element count (-1: unchecked) against the shape's.
inline Status check_length(const char* name, int64_t got, int64_t want) {
  if (got < 0 || got == want) return Status::ok();
  return Status::range_error(std::string(name) + ": expected " + std::to_string(want) + " elements but received " + std::to_string(got));
}

}  // namespace fuseloss
