/* AVX2 element-wise kernels: the generic ones' vector twins (y == x
 * allowed).  sigmoid and tanh use reel_vmath_avx2.h's approximations. */
#include <immintrin.h>

#include "reel_runtime.h"
#include "reel_vmath_avx2.h"

#define POINTWISE(name, expr)                                  \
  void name(float *y, const float *x, int n) {                 \
    int i;                                                     \
    for (i = 0; i + 8 <= n; i += 8) {                          \
      __m256 v = _mm256_loadu_ps(x + i);                       \
      _mm256_storeu_ps(y + i, expr);                           \
    }                                                          \
    if (i < n) {                                               \
      __m256 v = reel_load_part_avx2(x + i, n - i);            \
      reel_store_part_avx2(y + i, expr, n - i);                \
    }                                                          \
  }

POINTWISE(reel_f32_relu_avx2, _mm256_max_ps(v, _mm256_setzero_ps()))
POINTWISE(reel_f32_sigmoid_avx2, reel_sigmoid_avx2(v))
POINTWISE(reel_f32_tanh_avx2, reel_tanh_avx2(v))
