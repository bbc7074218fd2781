// AVX-512F: F16 = __m512, D16 = 2 x __m512d.
#include <immintrin.h>

struct F16 {
  __m512 v;
};
struct D16 {
  __m512d v[2];
};

template <>
inline F16 load<F16>(const float* p) {
  return {_mm512_loadu_ps(p)};
}
inline void store(float* p, const F16& a) { _mm512_storeu_ps(p, a.v); }
template <>
inline F16 splat<F16>(float a) {
  return {_mm512_set1_ps(a)};
}
inline F16 add(const F16& a, const F16& b) { return {_mm512_add_ps(a.v, b.v)}; }
inline F16 sub(const F16& a, const F16& b) { return {_mm512_sub_ps(a.v, b.v)}; }
inline F16 mul(const F16& a, const F16& b) { return {_mm512_mul_ps(a.v, b.v)}; }
inline F16 max(const F16& a, const F16& b) { return {_mm512_max_ps(a.v, b.v)}; }
inline float hmax(const F16& a) {
  alignas(64) float t[16];
  store(t, a);
  float m = t[0];
  for (int i = 1; i < 16; ++i) m = t[i] > m ? t[i] : m;
  return m;
}
inline F16 pow2_magic(const F16& tn) {
  const __m512i k = _mm512_set1_epi32(0x4B400000 - 127);
  return {_mm512_castsi512_ps(_mm512_slli_epi32(_mm512_sub_epi32(_mm512_castps_si512(tn.v), k), 23))};
}
template <>
inline D16 dzero<D16>() {
  __m512d z = _mm512_setzero_pd();
  return {{z, z}};
}
inline __m512d lo8(__m512 a) { return _mm512_cvtps_pd(_mm512_castps512_ps256(a)); }
inline __m512d hi8(__m512 a) { return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1))); }
inline void dacc(D16& acc, const F16& a) {
  acc.v[0] = _mm512_add_pd(acc.v[0], lo8(a.v));
  acc.v[1] = _mm512_add_pd(acc.v[1], hi8(a.v));
}
inline void dacc_prod(D16& acc, const F16& a, const F16& b) {
  acc.v[0] = _mm512_add_pd(acc.v[0], _mm512_mul_pd(lo8(a.v), lo8(b.v)));
  acc.v[1] = _mm512_add_pd(acc.v[1], _mm512_mul_pd(hi8(a.v), hi8(b.v)));
}
inline void dstore(double* p, const D16& a) {
  _mm512_storeu_pd(p, a.v[0]);
  _mm512_storeu_pd(p + 8, a.v[1]);
}

// ---- float64 lanes: arithmetic for per-lane epilogues, conversions, log's range reduction
#define FUSELOSS_DOP(op, fn) \
  inline D16 operator op(const D16& a, const D16& b) { return {{fn(a.v[0], b.v[0]), fn(a.v[1], b.v[1])}}; }
FUSELOSS_DOP(+, _mm512_add_pd)
FUSELOSS_DOP(-, _mm512_sub_pd)
FUSELOSS_DOP(*, _mm512_mul_pd)
FUSELOSS_DOP(/, _mm512_div_pd)
#undef FUSELOSS_DOP
template <>
inline D16 dsplat<D16>(double a) {
  __m512d s = _mm512_set1_pd(a);
  return {{s, s}};
}
template <>
inline D16 dload<D16>(const double* p) {
  return {{_mm512_loadu_pd(p), _mm512_loadu_pd(p + 8)}};
}
template <>
inline D16 dload_f<D16>(const float* p) {
  const __m512 f = _mm512_loadu_ps(p);
  return {{lo8(f), hi8(f)}};
}
inline void dstore_f(float* p, const D16& a) {
  _mm256_storeu_ps(p, _mm512_cvtpd_ps(a.v[0]));
  _mm256_storeu_ps(p + 8, _mm512_cvtpd_ps(a.v[1]));
}
inline void log_reduce(const D16& x, D16* m, D16* k) {
  const __m512i bias = _mm512_set1_epi64(int64_t(0x3ff00000 - 0x3fe6a09e) << 32);
  const __m512i mant = _mm512_set1_epi64(0x000FFFFFFFFFFFFFLL), mbase = _mm512_set1_epi64(int64_t(0x3fe6a09e) << 32);
  const __m512i magic = _mm512_set1_epi64(0x4330000000000000LL);
  const __m512d kbias = _mm512_set1_pd(4503599627370496.0 + 1023.0);
  for (int i = 0; i < 2; ++i) {
    const __m512i bits = _mm512_add_epi64(_mm512_castpd_si512(x.v[i]), bias);
    k->v[i] = _mm512_sub_pd(_mm512_castsi512_pd(_mm512_or_si512(_mm512_srli_epi64(bits, 52), magic)), kbias);
    m->v[i] = _mm512_castsi512_pd(_mm512_add_epi64(_mm512_and_si512(bits, mant), mbase));
  }
}

// ---- more float ops for the elementwise losses: div, min, abs, compare-selects, log's range reduction
inline F16 div(const F16& a, const F16& b) { return {_mm512_div_ps(a.v, b.v)}; }
inline F16 min(const F16& a, const F16& b) { return {_mm512_min_ps(a.v, b.v)}; }
inline F16 abs(const F16& a) { return {_mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(a.v), _mm512_set1_epi32(0x7fffffff)))}; }
inline F16 select_lt(const F16& p, const F16& q, const F16& a, const F16& b) {
  return {_mm512_mask_blend_ps(_mm512_cmp_ps_mask(p.v, q.v, _CMP_LT_OQ), b.v, a.v)};
}
inline F16 select_le(const F16& p, const F16& q, const F16& a, const F16& b) {
  return {_mm512_mask_blend_ps(_mm512_cmp_ps_mask(p.v, q.v, _CMP_LE_OQ), b.v, a.v)};
}
inline F16 select_eq(const F16& p, const F16& q, const F16& a, const F16& b) {
  return {_mm512_mask_blend_ps(_mm512_cmp_ps_mask(p.v, q.v, _CMP_EQ_OQ), b.v, a.v)};
}
inline void logf_reduce(const F16& x, F16* m, F16* k) {
  const __m512i ix = _mm512_add_epi32(_mm512_castps_si512(x.v), _mm512_set1_epi32(0x3f800000 - 0x3f3504f3));
  k->v = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(ix, 23), _mm512_set1_epi32(0x7f)));
  m->v = _mm512_castsi512_ps(_mm512_add_epi32(_mm512_and_si512(ix, _mm512_set1_epi32(0x007fffff)), _mm512_set1_epi32(0x3f3504f3)));
}

// ---- GEMM: fused multiply-add (a·b + c, one rounding) and the micro-kernel's shape (rows × packs of 16)
inline F16 fmadd(const F16& a, const F16& b, const F16& c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }
constexpr int kGemmMR = 8, kGemmNV = 2;
// acc += a·b for float64 lanes holding float32 values: the product is exact, so the fused form rounds
// exactly as mul + add would (same bits as the other levels).
inline void dacc_prod_exact(D16& acc, const D16& a, const D16& b) {
  acc.v[0] = _mm512_fmadd_pd(a.v[0], b.v[0], acc.v[0]);
  acc.v[1] = _mm512_fmadd_pd(a.v[1], b.v[1], acc.v[1]);
}  // One register of float64 lanes (a part of a D16), for kernels that keep many accumulators live: the same
// exact-product accumulation as dacc_prod_exact, kDPart lanes at a time.
struct DP {
  __m512d v;
};
constexpr int kDPart = 8;
// The native vector width in bytes, for kernels written with GCC vector types (GradDrop).
constexpr int kVecBytes = 64;
inline DP dp_zero() { return {_mm512_setzero_pd()}; }
inline DP dp_load(const double* p) { return {_mm512_loadu_pd(p)}; }
inline DP dp_load_f(const float* p) { return {_mm512_cvtps_pd(_mm256_loadu_ps(p))}; }
inline void dp_store(double* p, const DP& a) { _mm512_storeu_pd(p, a.v); }
inline void dp_acc_prod_exact(DP& acc, const DP& a, const DP& b) { acc.v = _mm512_fmadd_pd(a.v, b.v, acc.v); }
