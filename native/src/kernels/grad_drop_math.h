// GradDrop's counter-based uniform draws, shared by the CPU kernel and the CUDA one (the same u for element
// k on both, so both give the same bits): the lowbias32 hash (32-bit multiplies) of the low 32 bits of k
// mixed with a key from the seed and k's high bits.
#pragma once
#include <cstdint>

#include "hd.h"

namespace fuseloss {
namespace gd {

FUSELOSS_HD inline uint32_t hash32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}
FUSELOSS_HD inline uint32_t key_of(uint64_t seed, uint64_t k) {
  return hash32(uint32_t(seed) ^ hash32(uint32_t(seed >> 32) + 0x9e3779b9u * uint32_t(k >> 32) + 0x85ebca6bu));
}
FUSELOSS_HD inline double uniform_at(uint32_t key, uint64_t k) { return (double(hash32(uint32_t(k) ^ key)) + 0.5) * (1.0 / 4294967296.0); }

}  // namespace gd
}  // namespace fuseloss
