// One-lane pack with the same operations as the vector packs (see README.md). Included inside an ISA
// namespace by each kernel translation unit, and by the CUDA kernels (FUSELOSS_HD: host and device), which
// run the per-element formulas on it.
#include <cstdint>
#include <cstring>

#include "../kernels/hd.h"

struct F1 {
  float v;
};
struct D1 {
  double v;
};

template <>
FUSELOSS_HD inline F1 load<F1>(const float* p) {
  return {*p};
}
FUSELOSS_HD inline void store(float* p, F1 a) { *p = a.v; }
template <>
FUSELOSS_HD inline F1 splat<F1>(float a) {
  return {a};
}
FUSELOSS_HD inline F1 add(F1 a, F1 b) { return {a.v + b.v}; }
FUSELOSS_HD inline F1 sub(F1 a, F1 b) { return {a.v - b.v}; }
FUSELOSS_HD inline F1 mul(F1 a, F1 b) { return {a.v * b.v}; }
// Same NaN/zero behaviour as MAXPS: the second operand unless the comparison holds.
FUSELOSS_HD inline F1 max(F1 a, F1 b) { return {a.v > b.v ? a.v : b.v}; }
FUSELOSS_HD inline float hmax(F1 a) { return a.v; }
FUSELOSS_HD inline F1 pow2_magic(F1 tn) {
  int32_t i;
  FUSELOSS_BITCAST(i, tn.v);
  i = int32_t(uint32_t(i - 0x4B400000 + 127) << 23);
  float r;
  FUSELOSS_BITCAST(r, i);
  return {r};
}
template <>
FUSELOSS_HD inline D1 dzero<D1>() {
  return {0.0};
}
FUSELOSS_HD inline void dacc(D1& acc, F1 a) { acc.v += double(a.v); }
FUSELOSS_HD inline void dacc_prod(D1& acc, F1 a, F1 b) { acc.v += double(a.v) * double(b.v); }
FUSELOSS_HD inline void dstore(double* p, D1 a) { *p = a.v; }

// ---- float64 lane: the same operations as the D16 packs
FUSELOSS_HD inline D1 operator+(D1 a, D1 b) { return {a.v + b.v}; }
FUSELOSS_HD inline D1 operator-(D1 a, D1 b) { return {a.v - b.v}; }
FUSELOSS_HD inline D1 operator*(D1 a, D1 b) { return {a.v * b.v}; }
FUSELOSS_HD inline D1 operator/(D1 a, D1 b) { return {a.v / b.v}; }
template <>
FUSELOSS_HD inline D1 dsplat<D1>(double a) {
  return {a};
}
template <>
FUSELOSS_HD inline D1 dload<D1>(const double* p) {
  return {*p};
}
template <>
FUSELOSS_HD inline D1 dload_f<D1>(const float* p) {
  return {double(*p)};
}
FUSELOSS_HD inline void dstore_f(float* p, D1 a) { *p = float(a.v); }
FUSELOSS_HD inline void log_reduce(D1 x, D1* m, D1* k) {
  uint64_t bits;
  FUSELOSS_BITCAST(bits, x.v);
  bits += uint64_t(0x3ff00000 - 0x3fe6a09e) << 32;
  uint64_t kb = (bits >> 52) | 0x4330000000000000ULL, mb = (bits & 0x000FFFFFFFFFFFFFULL) + (uint64_t(0x3fe6a09e) << 32);
  double kd;
  FUSELOSS_BITCAST(kd, kb);
  FUSELOSS_BITCAST(m->v, mb);
  k->v = kd - (4503599627370496.0 + 1023.0);
}

// ---- more float ops (the same as the vector packs')
FUSELOSS_HD inline F1 div(F1 a, F1 b) { return {a.v / b.v}; }
FUSELOSS_HD inline F1 min(F1 a, F1 b) { return {a.v < b.v ? a.v : b.v}; }
FUSELOSS_HD inline F1 abs(F1 a) {
  uint32_t i;
  FUSELOSS_BITCAST(i, a.v);
  i &= 0x7fffffffu;
  FUSELOSS_BITCAST(a.v, i);
  return a;
}
FUSELOSS_HD inline F1 select_lt(F1 p, F1 q, F1 a, F1 b) { return {p.v < q.v ? a.v : b.v}; }
FUSELOSS_HD inline F1 select_le(F1 p, F1 q, F1 a, F1 b) { return {p.v <= q.v ? a.v : b.v}; }
FUSELOSS_HD inline F1 select_eq(F1 p, F1 q, F1 a, F1 b) { return {p.v == q.v ? a.v : b.v}; }
FUSELOSS_HD inline void logf_reduce(F1 x, F1* m, F1* k) {
  uint32_t ix;
  FUSELOSS_BITCAST(ix, x.v);
  ix += 0x3f800000u - 0x3f3504f3u;
  k->v = float(int32_t(ix >> 23) - 0x7f);
  ix = (ix & 0x007fffffu) + 0x3f3504f3u;
  FUSELOSS_BITCAST(m->v, ix);
}
