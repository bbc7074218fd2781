// AVX2: F16 = 2 x __m256, D16 = 4 x __m256d.
#include <immintrin.h>

struct F16 {
  __m256 v[2];
};
struct D16 {
  __m256d v[4];
};

template <>
inline F16 load<F16>(const float* p) {
  return {{_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)}};
}
inline void store(float* p, const F16& a) {
  _mm256_storeu_ps(p, a.v[0]);
  _mm256_storeu_ps(p + 8, a.v[1]);
}
template <>
inline F16 splat<F16>(float a) {
  __m256 s = _mm256_set1_ps(a);
  return {{s, s}};
}
#define FUSELOSS_BINOP(name, op) \
  inline F16 name(const F16& a, const F16& b) { return {{op(a.v[0], b.v[0]), op(a.v[1], b.v[1])}}; }
FUSELOSS_BINOP(add, _mm256_add_ps)
FUSELOSS_BINOP(sub, _mm256_sub_ps)
FUSELOSS_BINOP(mul, _mm256_mul_ps)
FUSELOSS_BINOP(max, _mm256_max_ps)
#undef FUSELOSS_BINOP
inline float hmax(const F16& a) {
  alignas(32) float t[16];
  store(t, a);
  float m = t[0];
  for (int i = 1; i < 16; ++i) m = t[i] > m ? t[i] : m;
  return m;
}
inline F16 pow2_magic(const F16& tn) {
  const __m256i k = _mm256_set1_epi32(0x4B400000 - 127);
  auto one = [&](__m256 t) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_sub_epi32(_mm256_castps_si256(t), k), 23)); };
  return {{one(tn.v[0]), one(tn.v[1])}};
}
template <>
inline D16 dzero<D16>() {
  __m256d z = _mm256_setzero_pd();
  return {{z, z, z, z}};
}
inline __m256d lo4(__m256 a) { return _mm256_cvtps_pd(_mm256_castps256_ps128(a)); }
inline __m256d hi4(__m256 a) { return _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1)); }
inline void dacc(D16& acc, const F16& a) {
  for (int i = 0; i < 2; ++i) {
    acc.v[2 * i] = _mm256_add_pd(acc.v[2 * i], lo4(a.v[i]));
    acc.v[2 * i + 1] = _mm256_add_pd(acc.v[2 * i + 1], hi4(a.v[i]));
  }
}
inline void dacc_prod(D16& acc, const F16& a, const F16& b) {
  for (int i = 0; i < 2; ++i) {
    acc.v[2 * i] = _mm256_add_pd(acc.v[2 * i], _mm256_mul_pd(lo4(a.v[i]), lo4(b.v[i])));
    acc.v[2 * i + 1] = _mm256_add_pd(acc.v[2 * i + 1], _mm256_mul_pd(hi4(a.v[i]), hi4(b.v[i])));
  }
}
inline void dstore(double* p, const D16& a) {
  for (int i = 0; i < 4; ++i) _mm256_storeu_pd(p + 4 * i, a.v[i]);
}

// ---- float64 lanes: arithmetic for per-lane epilogues, conversions, log's range reduction
#define FUSELOSS_DOP(op, fn)                                 \
  inline D16 operator op(const D16& a, const D16& b) {       \
    D16 r;                                                   \
    for (int i = 0; i < 4; ++i) r.v[i] = fn(a.v[i], b.v[i]); \
    return r;                                                \
  }
FUSELOSS_DOP(+, _mm256_add_pd)
FUSELOSS_DOP(-, _mm256_sub_pd)
FUSELOSS_DOP(*, _mm256_mul_pd)
FUSELOSS_DOP(/, _mm256_div_pd)
#undef FUSELOSS_DOP
template <>
inline D16 dsplat<D16>(double a) {
  __m256d s = _mm256_set1_pd(a);
  return {{s, s, s, s}};
}
template <>
inline D16 dload<D16>(const double* p) {
  D16 r;
  for (int i = 0; i < 4; ++i) r.v[i] = _mm256_loadu_pd(p + 4 * i);
  return r;
}
template <>
inline D16 dload_f<D16>(const float* p) {
  const F16 f = load<F16>(p);
  return {{lo4(f.v[0]), hi4(f.v[0]), lo4(f.v[1]), hi4(f.v[1])}};
}
inline void dstore_f(float* p, const D16& a) {
  for (int i = 0; i < 4; ++i) _mm_storeu_ps(p + 4 * i, _mm256_cvtpd_ps(a.v[i]));
}
inline void log_reduce(const D16& x, D16* m, D16* k) {
  const __m256i bias = _mm256_set1_epi64x(int64_t(0x3ff00000 - 0x3fe6a09e) << 32);
  const __m256i mant = _mm256_set1_epi64x(0x000FFFFFFFFFFFFFLL), mbase = _mm256_set1_epi64x(int64_t(0x3fe6a09e) << 32);
  const __m256i magic = _mm256_set1_epi64x(0x4330000000000000LL);
  const __m256d kbias = _mm256_set1_pd(4503599627370496.0 + 1023.0);
  for (int i = 0; i < 4; ++i) {
    const __m256i bits = _mm256_add_epi64(_mm256_castpd_si256(x.v[i]), bias);
    k->v[i] = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(_mm256_srli_epi64(bits, 52), magic)), kbias);
    m->v[i] = _mm256_castsi256_pd(_mm256_add_epi64(_mm256_and_si256(bits, mant), mbase));
  }
}

// ---- more float ops for the elementwise losses: div, min, abs, compare-selects, log's range reduction
inline F16 div(const F16& a, const F16& b) { return {{_mm256_div_ps(a.v[0], b.v[0]), _mm256_div_ps(a.v[1], b.v[1])}}; }
inline F16 min(const F16& a, const F16& b) { return {{_mm256_min_ps(a.v[0], b.v[0]), _mm256_min_ps(a.v[1], b.v[1])}}; }
inline F16 abs(const F16& a) {
  const __m256 m = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  return {{_mm256_and_ps(a.v[0], m), _mm256_and_ps(a.v[1], m)}};
}
#define FUSELOSS_SELECT(name, pred)                                                   \
  inline F16 name(const F16& p, const F16& q, const F16& a, const F16& b) {           \
    return {{_mm256_blendv_ps(b.v[0], a.v[0], _mm256_cmp_ps(p.v[0], q.v[0], pred)),   \
             _mm256_blendv_ps(b.v[1], a.v[1], _mm256_cmp_ps(p.v[1], q.v[1], pred))}}; \
  }
FUSELOSS_SELECT(select_lt, _CMP_LT_OQ)
FUSELOSS_SELECT(select_le, _CMP_LE_OQ)
FUSELOSS_SELECT(select_eq, _CMP_EQ_OQ)
#undef FUSELOSS_SELECT
inline void logf_reduce(const F16& x, F16* m, F16* k) {
  const __m256i bias = _mm256_set1_epi32(0x3f800000 - 0x3f3504f3), mant = _mm256_set1_epi32(0x007fffff);
  const __m256i base = _mm256_set1_epi32(0x3f3504f3), k0 = _mm256_set1_epi32(0x7f);
  for (int i = 0; i < 2; ++i) {
    const __m256i ix = _mm256_add_epi32(_mm256_castps_si256(x.v[i]), bias);
    k->v[i] = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(ix, 23), k0));
    m->v[i] = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_and_si256(ix, mant), base));
  }
}

// ---- GEMM: fused multiply-add (a·b + c, one rounding) and the micro-kernel's shape (rows × packs of 16)
inline F16 fmadd(const F16& a, const F16& b, const F16& c) {
  return {{_mm256_fmadd_ps(a.v[0], b.v[0], c.v[0]), _mm256_fmadd_ps(a.v[1], b.v[1], c.v[1])}};
}
constexpr int kGemmMR = 6, kGemmNV = 1;
// acc += a·b for float64 lanes holding float32 values: the product is exact, so the fused form rounds
// exactly as mul + add would (same bits as the other levels).
inline void dacc_prod_exact(D16& acc, const D16& a, const D16& b) {
  for (int i = 0; i < 4; ++i) acc.v[i] = _mm256_fmadd_pd(a.v[i], b.v[i], acc.v[i]);
}  // One register of float64 lanes (a part of a D16), for kernels that keep many accumulators live: the same
// exact-product accumulation as dacc_prod_exact, kDPart lanes at a time.
struct DP {
  __m256d v;
};
constexpr int kDPart = 4;
// The native vector width in bytes, for kernels written with GCC vector types (GradDrop).
constexpr int kVecBytes = 32;
inline DP dp_zero() { return {_mm256_setzero_pd()}; }
inline DP dp_load(const double* p) { return {_mm256_loadu_pd(p)}; }
inline DP dp_load_f(const float* p) { return {_mm256_cvtps_pd(_mm_loadu_ps(p))}; }
inline void dp_store(double* p, const DP& a) { _mm256_storeu_pd(p, a.v); }
inline void dp_acc_prod_exact(DP& acc, const DP& a, const DP& b) { acc.v = _mm256_fmadd_pd(a.v, b.v, acc.v); }
