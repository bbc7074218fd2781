// Baseline x86-64 (SSE2): F16 = 4 x __m128, D16 = 8 x __m128d.
#include <emmintrin.h>

struct F16 {
  __m128 v[4];
};
struct D16 {
  __m128d v[8];
};

template <>
inline F16 load<F16>(const float* p) {
  F16 r;
  for (int i = 0; i < 4; ++i) r.v[i] = _mm_loadu_ps(p + 4 * i);
  return r;
}
inline void store(float* p, const F16& a) {
  for (int i = 0; i < 4; ++i) _mm_storeu_ps(p + 4 * i, a.v[i]);
}
template <>
inline F16 splat<F16>(float a) {
  F16 r;
  for (int i = 0; i < 4; ++i) r.v[i] = _mm_set1_ps(a);
  return r;
}
#define FUSELOSS_BINOP(name, op)                             \
  inline F16 name(const F16& a, const F16& b) {              \
    F16 r;                                                   \
    for (int i = 0; i < 4; ++i) r.v[i] = op(a.v[i], b.v[i]); \
    return r;                                                \
  }
FUSELOSS_BINOP(add, _mm_add_ps)
FUSELOSS_BINOP(sub, _mm_sub_ps)
FUSELOSS_BINOP(mul, _mm_mul_ps)
FUSELOSS_BINOP(max, _mm_max_ps)
#undef FUSELOSS_BINOP
inline float hmax(const F16& a) {
  alignas(16) float t[16];
  store(t, a);
  float m = t[0];
  for (int i = 1; i < 16; ++i) m = t[i] > m ? t[i] : m;
  return m;
}
inline F16 pow2_magic(const F16& tn) {
  const __m128i k = _mm_set1_epi32(0x4B400000 - 127);
  F16 r;
  for (int i = 0; i < 4; ++i) r.v[i] = _mm_castsi128_ps(_mm_slli_epi32(_mm_sub_epi32(_mm_castps_si128(tn.v[i]), k), 23));
  return r;
}
template <>
inline D16 dzero<D16>() {
  D16 r;
  for (int i = 0; i < 8; ++i) r.v[i] = _mm_setzero_pd();
  return r;
}
inline __m128d lo2(__m128 a) { return _mm_cvtps_pd(a); }
inline __m128d hi2(__m128 a) { return _mm_cvtps_pd(_mm_movehl_ps(a, a)); }
inline void dacc(D16& acc, const F16& a) {
  for (int i = 0; i < 4; ++i) {
    acc.v[2 * i] = _mm_add_pd(acc.v[2 * i], lo2(a.v[i]));
    acc.v[2 * i + 1] = _mm_add_pd(acc.v[2 * i + 1], hi2(a.v[i]));
  }
}
inline void dacc_prod(D16& acc, const F16& a, const F16& b) {
  for (int i = 0; i < 4; ++i) {
    acc.v[2 * i] = _mm_add_pd(acc.v[2 * i], _mm_mul_pd(lo2(a.v[i]), lo2(b.v[i])));
    acc.v[2 * i + 1] = _mm_add_pd(acc.v[2 * i + 1], _mm_mul_pd(hi2(a.v[i]), hi2(b.v[i])));
  }
}
inline void dstore(double* p, const D16& a) {
  for (int i = 0; i < 8; ++i) _mm_storeu_pd(p + 2 * i, a.v[i]);
}

// ---- float64 lanes: arithmetic for per-lane epilogues, conversions, log's range reduction
#define FUSELOSS_DOP(op, fn)                                 \
  inline D16 operator op(const D16& a, const D16& b) {       \
    D16 r;                                                   \
    for (int i = 0; i < 8; ++i) r.v[i] = fn(a.v[i], b.v[i]); \
    return r;                                                \
  }
FUSELOSS_DOP(+, _mm_add_pd)
FUSELOSS_DOP(-, _mm_sub_pd)
FUSELOSS_DOP(*, _mm_mul_pd)
FUSELOSS_DOP(/, _mm_div_pd)
#undef FUSELOSS_DOP
template <>
inline D16 dsplat<D16>(double a) {
  D16 r;
  for (int i = 0; i < 8; ++i) r.v[i] = _mm_set1_pd(a);
  return r;
}
template <>
inline D16 dload<D16>(const double* p) {
  D16 r;
  for (int i = 0; i < 8; ++i) r.v[i] = _mm_loadu_pd(p + 2 * i);
  return r;
}
template <>
inline D16 dload_f<D16>(const float* p) {
  D16 r;
  for (int i = 0; i < 4; ++i) {
    const __m128 f = _mm_loadu_ps(p + 4 * i);
    r.v[2 * i] = lo2(f), r.v[2 * i + 1] = hi2(f);
  }
  return r;
}
inline void dstore_f(float* p, const D16& a) {
  for (int i = 0; i < 4; ++i) _mm_storeu_ps(p + 4 * i, _mm_movelh_ps(_mm_cvtpd_ps(a.v[2 * i]), _mm_cvtpd_ps(a.v[2 * i + 1])));
}
// x = 2^k·m with m in [sqrt(1/2), sqrt(2)), for positive normal x (musl's log reduction on 64-bit lanes).
inline void log_reduce(const D16& x, D16* m, D16* k) {
  const __m128i bias = _mm_set1_epi64x(int64_t(0x3ff00000 - 0x3fe6a09e) << 32);
  const __m128i mant = _mm_set1_epi64x(0x000FFFFFFFFFFFFFLL), mbase = _mm_set1_epi64x(int64_t(0x3fe6a09e) << 32);
  const __m128i magic = _mm_set1_epi64x(0x4330000000000000LL);
  const __m128d kbias = _mm_set1_pd(4503599627370496.0 + 1023.0);
  for (int i = 0; i < 8; ++i) {
    const __m128i bits = _mm_add_epi64(_mm_castpd_si128(x.v[i]), bias);
    k->v[i] = _mm_sub_pd(_mm_castsi128_pd(_mm_or_si128(_mm_srli_epi64(bits, 52), magic)), kbias);
    m->v[i] = _mm_castsi128_pd(_mm_add_epi64(_mm_and_si128(bits, mant), mbase));
  }
}

// ---- more float ops for the elementwise losses: div, min, abs, compare-selects, log's range reduction
inline F16 div(const F16& a, const F16& b) {
  F16 r;
  for (int i = 0; i < 4; ++i) r.v[i] = _mm_div_ps(a.v[i], b.v[i]);
  return r;
}
inline F16 min(const F16& a, const F16& b) {
  F16 r;
  for (int i = 0; i < 4; ++i) r.v[i] = _mm_min_ps(a.v[i], b.v[i]);
  return r;
}
inline F16 abs(const F16& a) {
  const __m128 m = _mm_castsi128_ps(_mm_set1_epi32(0x7fffffff));
  F16 r;
  for (int i = 0; i < 4; ++i) r.v[i] = _mm_and_ps(a.v[i], m);
  return r;
}
inline __m128 blend4(__m128 mask, __m128 a, __m128 b) { return _mm_or_ps(_mm_and_ps(mask, a), _mm_andnot_ps(mask, b)); }
#define FUSELOSS_SELECT(name, cmp)                                                    \
  inline F16 name(const F16& p, const F16& q, const F16& a, const F16& b) {           \
    F16 r;                                                                            \
    for (int i = 0; i < 4; ++i) r.v[i] = blend4(cmp(p.v[i], q.v[i]), a.v[i], b.v[i]); \
    return r;                                                                         \
  }
FUSELOSS_SELECT(select_lt, _mm_cmplt_ps)
FUSELOSS_SELECT(select_le, _mm_cmple_ps)
FUSELOSS_SELECT(select_eq, _mm_cmpeq_ps)
#undef FUSELOSS_SELECT
// x = 2^k·m with m in [sqrt(1/2), sqrt(2)) for positive normal float x (musl's logf reduction).
inline void logf_reduce(const F16& x, F16* m, F16* k) {
  const __m128i bias = _mm_set1_epi32(0x3f800000 - 0x3f3504f3), mant = _mm_set1_epi32(0x007fffff), base = _mm_set1_epi32(0x3f3504f3);
  const __m128i k0 = _mm_set1_epi32(0x7f);
  for (int i = 0; i < 4; ++i) {
    const __m128i ix = _mm_add_epi32(_mm_castps_si128(x.v[i]), bias);
    k->v[i] = _mm_cvtepi32_ps(_mm_sub_epi32(_mm_srli_epi32(ix, 23), k0));
    m->v[i] = _mm_castsi128_ps(_mm_add_epi32(_mm_and_si128(ix, mant), base));
  }
}

// ---- GEMM: SSE2 has no fused multiply-add: a·b + c with two roundings (so baseline GEMM results differ
// from AVX2/AVX-512 in the last bits; those two agree). The micro-kernel's shape (rows × packs of 16).
inline F16 fmadd(const F16& a, const F16& b, const F16& c) { return add(mul(a, b), c); }
constexpr int kGemmMR = 3, kGemmNV = 1;
// acc += a·b for float64 lanes holding float32 values (exact product, then one rounding in the add).
inline void dacc_prod_exact(D16& acc, const D16& a, const D16& b) { acc = acc + a * b; }
// One register of float64 lanes (a part of a D16), for kernels that keep many accumulators live: the same
// exact-product accumulation as dacc_prod_exact, kDPart lanes at a time.
struct DP {
  __m128d v;
};
constexpr int kDPart = 2;
// The native vector width in bytes, for kernels written with GCC vector types (GradDrop).
constexpr int kVecBytes = 16;
inline DP dp_zero() { return {_mm_setzero_pd()}; }
inline DP dp_load(const double* p) { return {_mm_loadu_pd(p)}; }
inline DP dp_load_f(const float* p) { return {_mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))))}; }
inline void dp_store(double* p, const DP& a) { _mm_storeu_pd(p, a.v); }
inline void dp_acc_prod_exact(DP& acc, const DP& a, const DP& b) { acc.v = _mm_add_pd(acc.v, _mm_mul_pd(a.v, b.v)); }
