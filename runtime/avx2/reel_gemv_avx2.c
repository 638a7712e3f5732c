/* AVX2 matrix-vector products over weights packed in panels of 8 rows:
 * for each block of 8 rows (zero rows pad the last), the 8 weights of
 * column j are contiguous, so a step is one broadcast of x[j] and one
 * 32-byte load per block: the weights stream through once, in order. */
#include <immintrin.h>

#include "reel_runtime.h"
#include "reel_vmath_avx2.h"

/* acc += panel(8 x n) x, with four independent FMA chains. */
static __m256 panel_dot(const float *p, const float *x, int n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  int j = 0;
  for (; j + 4 <= n; j += 4, p += 32) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(p), _mm256_broadcast_ss(x + j), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(p + 8), _mm256_broadcast_ss(x + j + 1), a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(p + 16), _mm256_broadcast_ss(x + j + 2), a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(p + 24), _mm256_broadcast_ss(x + j + 3), a3);
  }
  for (; j < n; j++, p += 8)
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(p), _mm256_broadcast_ss(x + j), a0);
  return _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
}

void reel_f32_gemv_avx2(float *y, const float *w, const float *b, const float *x, int rows,
                        int cols, int act, float alpha) {
  int r;
  for (r = 0; r < rows; r += 8) {
    __m256 acc = panel_dot(w + (long)r * cols, x, cols);
    if (b)
      acc = _mm256_add_ps(acc, _mm256_loadu_ps(b + r));
    reel_store_part_avx2(y + r, reel_activate_avx2(act, alpha, acc), rows - r);
  }
}

void reel_f32_gemv_cat2_avx2(float *y, const float *w, const float *b, const float *x0, int n0,
                             const float *x1, int n1, int rows) {
  int r;
  for (r = 0; r < rows; r += 8) {
    const float *p = w + (long)r * (n0 + n1);
    __m256 acc = _mm256_add_ps(panel_dot(p, x0, n0), panel_dot(p + 8L * n0, x1, n1));
    if (b)
      acc = _mm256_add_ps(acc, _mm256_loadu_ps(b + r));
    reel_store_part_avx2(y + r, acc, rows - r);
  }
}

void reel_f32_gemv_rows_avx2(float *y, const float *w, const float *b, const float *x, int rows,
                             int cols, int n, int act, float alpha) {
  int r;
  for (r = 0; r < n; r++)
    reel_f32_gemv_avx2(y + (long)r * rows, w, b, x + (long)r * cols, rows, cols, act, alpha);
}
