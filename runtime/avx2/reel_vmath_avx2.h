/* Helpers shared by the AVX2 kernels: loads and stores of a last, partial
 * vector and its lane mask, even/odd deinterleaving, and vector exp,
 * sigmoid and tanh (8 floats at a time).
 *
 * Special values: max_ps and min_ps return their second operand when either
 * is NaN, so every clamp below puts the bound first and lets NaN through;
 * -inf times a zero gives NaN, as PyTorch's float math does.
 *
 * exp: Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2, then a
 * degree-6 polynomial for e^r (Cephes' expf coefficients) times 2^n, built
 * as 2^(n-1) in the exponent bits times 2: inputs are clamped to
 * [-86.64, 89] so that n - 1 stays a normal exponent, and from 88.73 up the
 * product overflows to +inf as e^x does in float.  Relative error <= 2 ulp
 * for x >= -86.64; below, e^-86.64 = 2.4e-38 (absolute error < 3e-38).
 * sigmoid(x) = 1 / (1 + exp(-x)), with an exact division: absolute error
 * <= 1.2e-7 for all x (saturates to 0 and 1 where float does).
 * tanh(x) = 2 sigmoid(2x) - 1: absolute error <= 2.4e-7 for all x.
 * gelu(x) = x Phi(x), Phi(x) = erfc(-x / sqrt 2) / 2, with erfc(z) =
 * e^(-z^2) R(t) for z >= 0, R a degree-9 polynomial in t = 1 / (1 + z / 2)
 * fitted to erfc(z) e^(z^2) on [0, 9.5] (relative error 4.3e-8), and
 * erfc(-z) = 2 - erfc(z): absolute error <= 1.5e-7 max(1, |x|).
 * tests/kernels.test checks these bounds against the C library on a dense
 * sweep of [-30, 30] and at the extremes. */
#ifndef REEL_VMATH_AVX2_H
#define REEL_VMATH_AVX2_H

#include <immintrin.h>
#include <string.h>

/* Inlined even where the compiler would rather not: an epilogue helper
 * that stores a conv's output applies the activation to every vector, and
 * a call per vector there costs more than the code inlining adds. */
#if defined(__GNUC__)
#define REEL_INLINE_ALWAYS __attribute__((always_inline)) __inline
#else
#define REEL_INLINE_ALWAYS __inline
#endif

/* n <= 8 floats into a vector (the rest zero), and back. */
/* 8 compressed weights as floats: bfloat16 (a float's upper half) exactly; int8 unscaled. */
static REEL_INLINE_ALWAYS __m256 reel_load_bf16x8_avx2(const uint16_t *p) {
  __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

/* Two vectors of 8 bfloat16 stored paired (a0 b0 a1 b1 ... a7 b7, the compiler's
 * pair_bf16_vectors) as floats: a is each 32-bit lane shifted up 16 bits, b the lane with
 * its low half cleared. */
static REEL_INLINE_ALWAYS __m256i reel_load_bf16_pair_avx2(const uint16_t *p) {
  return _mm256_loadu_si256((const __m256i *)(const void *)p);
}
static REEL_INLINE_ALWAYS __m256 reel_bf16_first_avx2(__m256i pair) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(pair, 16));
}
static REEL_INLINE_ALWAYS __m256 reel_bf16_second_avx2(__m256i pair) {
  return _mm256_and_ps(_mm256_castsi256_ps(pair),
                       _mm256_castsi256_ps(_mm256_set1_epi32((int)0xffff0000u)));
}

static REEL_INLINE_ALWAYS __m256 reel_load_i8x8_avx2(const int8_t *p) {
  __m256i w = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)p));
  return _mm256_cvtepi32_ps(w);
}

static __inline __m256 reel_load_part_avx2(const float *p, int n) {
  float tmp[8] = {0};
  if (n >= 8)
    return _mm256_loadu_ps(p);
  memcpy(tmp, p, (size_t)n * sizeof *p);
  return _mm256_loadu_ps(tmp);
}

static __inline void reel_store_part_avx2(float *p, __m256 v, int n) {
  float tmp[8];
  if (n >= 8) {
    _mm256_storeu_ps(p, v);
    return;
  }
  _mm256_storeu_ps(tmp, v);
  memcpy(p, tmp, (size_t)n * sizeof *p);
}

/* The first n lanes of 8 (0 <= n <= 8) as a maskload/maskstore mask. */
static __inline __m256i reel_lanes_avx2(int n) {
  static const int ones_then_zeros[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256((const __m256i *)(const void *)(ones_then_zeros + 8 - n));
}

/* The even-indexed and the odd-indexed floats of the 16 in a, b (a0 a2 ...
 * b6 and a1 a3 ... b7): the shuffle gives [a0 a2 b0 b2 | a4 a6 b4 b6], the
 * permute orders its 64-bit pairs. */
static __inline __m256 reel_evens_avx2(__m256 a, __m256 b) {
  return _mm256_castpd_ps(
      _mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xd8));
}

static __inline __m256 reel_odds_avx2(__m256 a, __m256 b) {
  return _mm256_castpd_ps(
      _mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xdd)), 0xd8));
}

static __inline __m256 reel_exp_avx2(__m256 x) {
  const __m256 ln2_hi = _mm256_set1_ps(0.693359375f), ln2_lo = _mm256_set1_ps(-2.12194440e-4f);
  __m256 n, r, p;
  __m256i e;
  x = _mm256_min_ps(_mm256_set1_ps(89.0f), _mm256_max_ps(_mm256_set1_ps(-86.64f), x));
  n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                      _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  r = _mm256_fnmadd_ps(n, ln2_hi, x);
  r = _mm256_fnmadd_ps(n, ln2_lo, r);
  p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(126)), 23);
  return _mm256_mul_ps(_mm256_add_ps(p, p), _mm256_castsi256_ps(e));
}

static __inline __m256 reel_sigmoid_avx2(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(one,
                       _mm256_add_ps(one, reel_exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

static __inline __m256 reel_tanh_avx2(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f);
  return _mm256_fmsub_ps(two, reel_sigmoid_avx2(_mm256_mul_ps(two, x)), one);
}

/* x Phi(x), the exact GELU. */
static __inline __m256 reel_gelu_avx2(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f);
  __m256 z = _mm256_mul_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), x),
                           _mm256_set1_ps(0.70710678118654752f)); /* |x| / sqrt 2 */
  __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(half, z, one)), r;
  r = _mm256_set1_ps(-0.058890113970550065f);
  r = _mm256_fmadd_ps(r, t, _mm256_set1_ps(0.28369890827199357f));
  r = _mm256_fmadd_ps(r, t, _mm256_set1_ps(-0.48537770869438196f));
  r = _mm256_fmadd_ps(r, t, _mm256_set1_ps(0.27597165389125344f));
  r = _mm256_fmadd_ps(r, t, _mm256_set1_ps(-0.025173437837511622f));
  r = _mm256_fmadd_ps(r, t, _mm256_set1_ps(0.20206812971355734f));
  r = _mm256_fmadd_ps(r, t, _mm256_set1_ps(0.24326141653331784f));
  r = _mm256_fmadd_ps(r, t, _mm256_set1_ps(0.28235343064030827f));
  r = _mm256_fmadd_ps(r, t, _mm256_set1_ps(0.28208767929574485f));
  r = _mm256_mul_ps(r, t);
  /* h = erfc(z) / 2 = Phi(-|x|) */
  __m256 h = _mm256_mul_ps(_mm256_mul_ps(half, r),
                           reel_exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(z, z))));
  __m256 negative = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
  __m256 phi = _mm256_blendv_ps(_mm256_sub_ps(one, h), h, negative);
  return _mm256_mul_ps(x, phi);
}

/* x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) / 2, GELU's tanh form. */
static __inline __m256 reel_gelu_tanh_avx2(__m256 x) {
  __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
  __m256 u = _mm256_mul_ps(_mm256_set1_ps(0.79788456080286536f),
                           _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), x3, x));
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x),
                       _mm256_add_ps(_mm256_set1_ps(1.0f), reel_tanh_avx2(u)));
}

/* An activation (REEL_ACT_*) with parameter alpha, as the generic twin
 * computes it: relu and relu6 keep NaN and -0 (max_ps(0, v) returns v for
 * both), as `v < 0 ? 0 : v` does. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static __inline __m256 reel_activate_avx2(int act, float alpha, __m256 v) {
  const __m256 zero = _mm256_setzero_ps();
  switch (act) {
  case REEL_ACT_RELU: return _mm256_max_ps(zero, v);
  case REEL_ACT_RELU6: return _mm256_min_ps(_mm256_set1_ps(6.0f), _mm256_max_ps(zero, v));
  case REEL_ACT_LEAKY_RELU:
    return _mm256_blendv_ps(_mm256_mul_ps(v, _mm256_set1_ps(alpha)), v,
                            _mm256_cmp_ps(v, zero, _CMP_GE_OQ));
  case REEL_ACT_SIGMOID: return reel_sigmoid_avx2(v);
  case REEL_ACT_TANH: return reel_tanh_avx2(v);
  case REEL_ACT_GELU: return reel_gelu_avx2(v);
  case REEL_ACT_GELU_TANH: return reel_gelu_tanh_avx2(v);
  case REEL_ACT_SILU: return _mm256_mul_ps(v, reel_sigmoid_avx2(v));
  case REEL_ACT_HARDSWISH: { /* v min(max(v + 3, 0), 6) / 6, in PyTorch's order */
    __m256 six = _mm256_set1_ps(6.0f);
    __m256 r = _mm256_min_ps(six, _mm256_max_ps(zero, _mm256_add_ps(v, _mm256_set1_ps(3.0f))));
    return _mm256_div_ps(_mm256_mul_ps(v, r), six);
  }
  case REEL_ACT_HARDSIGMOID: { /* min(max(v + 3, 0), 6) / 6 */
    __m256 six = _mm256_set1_ps(6.0f);
    __m256 r = _mm256_min_ps(six, _mm256_max_ps(zero, _mm256_add_ps(v, _mm256_set1_ps(3.0f))));
    return _mm256_div_ps(r, six);
  }
  case REEL_ACT_ELU: /* e^v - 1 without expm1: within 2.4e-7 alpha of it near 0 */
    return _mm256_blendv_ps(
        _mm256_mul_ps(_mm256_set1_ps(alpha), _mm256_sub_ps(reel_exp_avx2(v), _mm256_set1_ps(1.0f))),
        v, _mm256_cmp_ps(v, zero, _CMP_GT_OQ));
  default: return v;
  }
}

#endif
