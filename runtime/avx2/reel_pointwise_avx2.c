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
