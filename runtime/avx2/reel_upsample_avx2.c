/* F.interpolate's nearest and bilinear upsampling, AVX2: the generic kernels' tables and
 * arithmetic (the same products and sums, no fused multiply-adds: equal values unless the C
 * compiler fuses the generic kernel's, as clang does), 8 output columns per step with their
 * input columns gathered; a nearest output row that repeats the row before is copied. */
#include <immintrin.h>
#include <string.h>

#include "reel_runtime.h"

/* The column table as int32 lanes: t[j] for j < n, 0 past it (a safe gather index). */
static __m256i columns(const float *t, int j, int n) {
  __m256i lane =
      _mm256_add_epi32(_mm256_set1_epi32(j), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  __m256 live = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane));
  __m256 v = _mm256_maskload_ps(t + j, _mm256_castps_si256(live));
  return _mm256_cvttps_epi32(v);
}

static __m256i tail_mask(int left) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

void reel_f32_upsample_nearest_avx2(float *y, const float *x, const float *table, int c, int h,
                                    int w, int oh, int ow) {
  int k, i, j;
  for (k = 0; k < c; k++)
    for (i = 0; i < oh; i++) {
      float *yr = y + ((long)k * oh + i) * ow;
      if (i > 0 && table[i] == table[i - 1]) { /* the same input row as the row before */
        memcpy(yr, yr - ow, (size_t)ow * sizeof *yr);
        continue;
      }
      const float *xr = x + ((long)k * h + (int)table[i]) * w;
      for (j = 0; j < ow; j += 8) {
        __m256i at = columns(table + oh, j, ow);
        __m256 v = _mm256_i32gather_ps(xr, at, 4);
        if (ow - j >= 8)
          _mm256_storeu_ps(yr + j, v);
        else
          _mm256_maskstore_ps(yr + j, tail_mask(ow - j), v);
      }
    }
}

void reel_f32_upsample_bilinear_avx2(float *y, const float *x, const float *table, int c, int h,
                                     int w, int oh, int ow) {
  const float *r0 = table, *r1 = table + oh, *rl = table + 2L * oh;
  const float *c0 = table + 3L * oh, *c1 = c0 + ow, *cl = c0 + 2L * ow;
  const __m256 one = _mm256_set1_ps(1.0f);
  int k, i, j;
  for (k = 0; k < c; k++)
    for (i = 0; i < oh; i++) {
      const float *xa = x + ((long)k * h + (int)r0[i]) * w;
      const float *xb = x + ((long)k * h + (int)r1[i]) * w;
      float *yr = y + ((long)k * oh + i) * ow;
      __m256 l1 = _mm256_set1_ps(rl[i]), l0 = _mm256_sub_ps(one, l1);
      for (j = 0; j < ow; j += 8) {
        __m256i a = columns(c0, j, ow), b = columns(c1, j, ow);
        __m256i live = tail_mask(ow - j);
        __m256 m1 = _mm256_maskload_ps(cl + j, live), m0 = _mm256_sub_ps(one, m1);
        /* l0 (m0 xa[a] + m1 xa[b]) + l1 (m0 xb[a] + m1 xb[b]), in the generic kernel's order
         * and without fused multiply-adds, so the values are the same */
        __m256 top = _mm256_add_ps(_mm256_mul_ps(m0, _mm256_i32gather_ps(xa, a, 4)),
                                   _mm256_mul_ps(m1, _mm256_i32gather_ps(xa, b, 4)));
        __m256 bottom = _mm256_add_ps(_mm256_mul_ps(m0, _mm256_i32gather_ps(xb, a, 4)),
                                      _mm256_mul_ps(m1, _mm256_i32gather_ps(xb, b, 4)));
        __m256 v = _mm256_add_ps(_mm256_mul_ps(l0, top), _mm256_mul_ps(l1, bottom));
        if (ow - j >= 8)
          _mm256_storeu_ps(yr + j, v);
        else
          _mm256_maskstore_ps(yr + j, live, v);
      }
    }
}
