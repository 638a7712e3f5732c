/* AVX2 element-wise kernels: the generic ones' vector twins (y == x
 * allowed), with reel_vmath_avx2.h's vector math. */
#include <immintrin.h>

#include "reel_runtime.h"
#include "reel_vmath_avx2.h"

/* y = act(x), 8 floats at a time, a last partial vector through a lane
 * mask.  One loop per activation: the switch stays out of the loop. */
#define ACTIVATION_LOOP(code)                                                                     \
  case code:                                                                                      \
    for (i = 0; i + 8 <= n; i += 8)                                                               \
      _mm256_storeu_ps(y + i, reel_activate_avx2(code, alpha, _mm256_loadu_ps(x + i)));          \
    break

void reel_f32_activation_avx2(float *y, const float *x, int n, int act, float alpha) {
  int i = 0;
  switch (act) {
#define X(name) ACTIVATION_LOOP(REEL_ACT_##name);
    REEL_ACTIVATIONS(X)
#undef X
  default:
    break;
  }
  if (i < n) {
    __m256i m = reel_lanes_avx2(n - i);
    _mm256_maskstore_ps(y + i, m, reel_activate_avx2(act, alpha, _mm256_maskload_ps(x + i, m)));
  }
}

/* x > 0 ? x : w x, 8 lanes; a last partial vector through a lane mask. */
static __inline __m256 prelu8(__m256 x, __m256 w) {
  __m256 positive = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ);
  return _mm256_blendv_ps(_mm256_mul_ps(w, x), x, positive);
}

void reel_f32_prelu_avx2(float *y, const float *x, const float *w, int c, int hw) {
  int k, i;
  if (hw == 1) { /* a weight per element: the weights are a vector too */
    for (i = 0; i + 8 <= c; i += 8)
      _mm256_storeu_ps(y + i, prelu8(_mm256_loadu_ps(x + i), _mm256_loadu_ps(w + i)));
    if (i < c) {
      __m256i m = reel_lanes_avx2(c - i);
      __m256 v = prelu8(_mm256_maskload_ps(x + i, m), _mm256_maskload_ps(w + i, m));
      _mm256_maskstore_ps(y + i, m, v);
    }
    return;
  }
  for (k = 0; k < c; k++) {
    const float *xk = x + (long)k * hw;
    float *yk = y + (long)k * hw;
    __m256 wk = _mm256_set1_ps(w[k]);
    for (i = 0; i + 8 <= hw; i += 8)
      _mm256_storeu_ps(yk + i, prelu8(_mm256_loadu_ps(xk + i), wk));
    if (i < hw) {
      __m256i m = reel_lanes_avx2(hw - i);
      _mm256_maskstore_ps(yk + i, m, prelu8(_mm256_maskload_ps(xk + i, m), wk));
    }
  }
}

void reel_f32_mul2_avx2(float *y, const float *a, const float *b, int n) {
  int i;
  for (i = 0; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
  if (i < n) {
    __m256i m = reel_lanes_avx2(n - i);
    __m256 v = _mm256_mul_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m));
    _mm256_maskstore_ps(y + i, m, v);
  }
}
