/* AVX2 matrix-vector products over weights packed in panels of 8 rows:
 * for each block of 8 rows (zero rows pad the last), the 8 weights of
 * column j are contiguous, so a step is one broadcast of x[j] and one
 * 32-byte load per block: the weights stream through once, in order.
 * Compressed weights (bf16, int8) are the same panels of 2- or 1-byte
 * elements, widened to floats as they are loaded; an int8 panel's sums are
 * scaled per row at the end, so a step costs one conversion per 8 weights
 * and reads a quarter of the bytes.  A bf16 panel's columns are stored in
 * pairs (pair_bf16_vectors): one 32-byte load, a shift and a mask give two
 * columns. */
#include <immintrin.h>

#include "reel_runtime.h"
#include "reel_vmath_avx2.h"

/* acc = panel(8 x n) x, with four independent FMA chains; LOAD widens 8
 * stored weights to floats. */
#define PANEL_DOT(NAME, T, LOAD)                                                                 \
  static __m256 NAME(const T *p, const float *x, int n) {                                        \
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();                                  \
    __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();                                  \
    int j = 0;                                                                                   \
    for (; j + 4 <= n; j += 4, p += 32) {                                                        \
      a0 = _mm256_fmadd_ps(LOAD(p), _mm256_broadcast_ss(x + j), a0);                             \
      a1 = _mm256_fmadd_ps(LOAD(p + 8), _mm256_broadcast_ss(x + j + 1), a1);                     \
      a2 = _mm256_fmadd_ps(LOAD(p + 16), _mm256_broadcast_ss(x + j + 2), a2);                    \
      a3 = _mm256_fmadd_ps(LOAD(p + 24), _mm256_broadcast_ss(x + j + 3), a3);                    \
    }                                                                                            \
    for (; j < n; j++, p += 8)                                                                   \
      a0 = _mm256_fmadd_ps(LOAD(p), _mm256_broadcast_ss(x + j), a0);                             \
    return _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));                          \
  }
PANEL_DOT(panel_dot_f32, float, _mm256_loadu_ps)
PANEL_DOT(panel_dot_i8, int8_t, reel_load_i8x8_avx2)

/* The same over bf16 columns stored in pairs (an odd last column as it is). */
static __m256 panel_dot_bf16(const uint16_t *p, const float *x, int n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  int j = 0;
  for (; j + 4 <= n; j += 4, p += 32) {
    __m256i w01 = reel_load_bf16_pair_avx2(p), w23 = reel_load_bf16_pair_avx2(p + 16);
    a0 = _mm256_fmadd_ps(reel_bf16_first_avx2(w01), _mm256_broadcast_ss(x + j), a0);
    a1 = _mm256_fmadd_ps(reel_bf16_second_avx2(w01), _mm256_broadcast_ss(x + j + 1), a1);
    a2 = _mm256_fmadd_ps(reel_bf16_first_avx2(w23), _mm256_broadcast_ss(x + j + 2), a2);
    a3 = _mm256_fmadd_ps(reel_bf16_second_avx2(w23), _mm256_broadcast_ss(x + j + 3), a3);
  }
  if (j + 2 <= n) {
    __m256i w01 = reel_load_bf16_pair_avx2(p);
    a0 = _mm256_fmadd_ps(reel_bf16_first_avx2(w01), _mm256_broadcast_ss(x + j), a0);
    a1 = _mm256_fmadd_ps(reel_bf16_second_avx2(w01), _mm256_broadcast_ss(x + j + 1), a1);
    j += 2, p += 16;
  }
  if (j < n)
    a2 = _mm256_fmadd_ps(reel_load_bf16x8_avx2(p), _mm256_broadcast_ss(x + j), a2);
  return _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
}

/* Panel columns [at, at + 8 n) of w, against x; int8 times the scales at s. */
static __m256 panel_dot(const reel_weights *w, long at, const float *x, int n, long s) {
  if (w->type == REEL_W_I8)
    return _mm256_mul_ps(panel_dot_i8((const int8_t *)w->w + at, x, n),
                         _mm256_loadu_ps(w->scale + s));
  if (w->type == REEL_W_BF16)
    return panel_dot_bf16((const uint16_t *)w->w + at, x, n);
  return panel_dot_f32((const float *)w->w + at, x, n);
}

/* Two streams' panel sums (a0 for x0, a1 for x1) in panel_dot's order: each weight vector
 * loaded once for both. */
#define PANEL_DOT2(NAME, T, LOAD)                                                                \
  static void NAME(__m256 *a, const T *p, const float *x0, const float *x1, int n) {             \
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                                 \
    __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;                                                   \
    int j = 0;                                                                                   \
    for (; j + 4 <= n; j += 4, p += 32) {                                                        \
      __m256 w0 = LOAD(p), w1 = LOAD(p + 8), w2 = LOAD(p + 16), w3 = LOAD(p + 24);               \
      a0 = _mm256_fmadd_ps(w0, _mm256_broadcast_ss(x0 + j), a0);                                 \
      b0 = _mm256_fmadd_ps(w0, _mm256_broadcast_ss(x1 + j), b0);                                 \
      a1 = _mm256_fmadd_ps(w1, _mm256_broadcast_ss(x0 + j + 1), a1);                             \
      b1 = _mm256_fmadd_ps(w1, _mm256_broadcast_ss(x1 + j + 1), b1);                             \
      a2 = _mm256_fmadd_ps(w2, _mm256_broadcast_ss(x0 + j + 2), a2);                             \
      b2 = _mm256_fmadd_ps(w2, _mm256_broadcast_ss(x1 + j + 2), b2);                             \
      a3 = _mm256_fmadd_ps(w3, _mm256_broadcast_ss(x0 + j + 3), a3);                             \
      b3 = _mm256_fmadd_ps(w3, _mm256_broadcast_ss(x1 + j + 3), b3);                             \
    }                                                                                            \
    for (; j < n; j++, p += 8) {                                                                 \
      __m256 w0 = LOAD(p);                                                                       \
      a0 = _mm256_fmadd_ps(w0, _mm256_broadcast_ss(x0 + j), a0);                                 \
      b0 = _mm256_fmadd_ps(w0, _mm256_broadcast_ss(x1 + j), b0);                                 \
    }                                                                                            \
    a[0] = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));                          \
    a[1] = _mm256_add_ps(_mm256_add_ps(b0, b1), _mm256_add_ps(b2, b3));                          \
  }
PANEL_DOT2(panel_dot2_f32, float, _mm256_loadu_ps)
PANEL_DOT2(panel_dot2_i8, int8_t, reel_load_i8x8_avx2)

static void panel_dot2_bf16(__m256 *a, const uint16_t *p, const float *x0, const float *x1,
                            int n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  int j = 0;
  for (; j + 4 <= n; j += 4, p += 32) {
    __m256i w01 = reel_load_bf16_pair_avx2(p), w23 = reel_load_bf16_pair_avx2(p + 16);
    __m256 w0 = reel_bf16_first_avx2(w01), w1 = reel_bf16_second_avx2(w01);
    __m256 w2 = reel_bf16_first_avx2(w23), w3 = reel_bf16_second_avx2(w23);
    a0 = _mm256_fmadd_ps(w0, _mm256_broadcast_ss(x0 + j), a0);
    b0 = _mm256_fmadd_ps(w0, _mm256_broadcast_ss(x1 + j), b0);
    a1 = _mm256_fmadd_ps(w1, _mm256_broadcast_ss(x0 + j + 1), a1);
    b1 = _mm256_fmadd_ps(w1, _mm256_broadcast_ss(x1 + j + 1), b1);
    a2 = _mm256_fmadd_ps(w2, _mm256_broadcast_ss(x0 + j + 2), a2);
    b2 = _mm256_fmadd_ps(w2, _mm256_broadcast_ss(x1 + j + 2), b2);
    a3 = _mm256_fmadd_ps(w3, _mm256_broadcast_ss(x0 + j + 3), a3);
    b3 = _mm256_fmadd_ps(w3, _mm256_broadcast_ss(x1 + j + 3), b3);
  }
  if (j + 2 <= n) {
    __m256i w01 = reel_load_bf16_pair_avx2(p);
    __m256 w0 = reel_bf16_first_avx2(w01), w1 = reel_bf16_second_avx2(w01);
    a0 = _mm256_fmadd_ps(w0, _mm256_broadcast_ss(x0 + j), a0);
    b0 = _mm256_fmadd_ps(w0, _mm256_broadcast_ss(x1 + j), b0);
    a1 = _mm256_fmadd_ps(w1, _mm256_broadcast_ss(x0 + j + 1), a1);
    b1 = _mm256_fmadd_ps(w1, _mm256_broadcast_ss(x1 + j + 1), b1);
    j += 2, p += 16;
  }
  if (j < n) {
    __m256 w2 = reel_load_bf16x8_avx2(p);
    a2 = _mm256_fmadd_ps(w2, _mm256_broadcast_ss(x0 + j), a2);
    b2 = _mm256_fmadd_ps(w2, _mm256_broadcast_ss(x1 + j), b2);
  }
  a[0] = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
  a[1] = _mm256_add_ps(_mm256_add_ps(b0, b1), _mm256_add_ps(b2, b3));
}

/* n streams through one matrix, two at a time (an odd last one alone): the same bits as n
 * calls of reel_gemv_any_avx2, each weight vector loaded once per pair. */
void reel_gemv_many_any_avx2(int n, float *const y[], const reel_weights *w, const float *b,
                             const float *const x[], int rows, int cols, int act, float alpha) {
  int r, k, t;
  for (r = 0; r < rows; r += 8) {
    long at = (long)r * cols;
    for (k = 0; k < n; k += 2) {
      __m256 acc[2];
      int pair = n - k >= 2 ? 2 : 1;
      if (pair == 1)
        acc[0] = panel_dot(w, at, x[k], cols, r);
      else if (w->type == REEL_W_I8)
        panel_dot2_i8(acc, (const int8_t *)w->w + at, x[k], x[k + 1], cols);
      else if (w->type == REEL_W_BF16)
        panel_dot2_bf16(acc, (const uint16_t *)w->w + at, x[k], x[k + 1], cols);
      else
        panel_dot2_f32(acc, (const float *)w->w + at, x[k], x[k + 1], cols);
      for (t = 0; t < pair; t++) {
        if (pair == 2 && w->type == REEL_W_I8)
          acc[t] = _mm256_mul_ps(acc[t], _mm256_loadu_ps(w->scale + r));
        if (b)
          acc[t] = _mm256_add_ps(acc[t], _mm256_loadu_ps(b + r));
        reel_store_part_avx2(y[k + t] + r, reel_activate_avx2(act, alpha, acc[t]), rows - r);
      }
    }
  }
}

void reel_gemv_any_avx2(float *y, const reel_weights *w, const float *b, const float *x, int rows,
                        int cols, int act, float alpha) {
  int r;
  for (r = 0; r < rows; r += 8) {
    __m256 acc = panel_dot(w, (long)r * cols, x, cols, r);
    if (b)
      acc = _mm256_add_ps(acc, _mm256_loadu_ps(b + r));
    reel_store_part_avx2(y + r, reel_activate_avx2(act, alpha, acc), rows - r);
  }
}

void reel_gemv_cat2_any_avx2(float *y, const reel_weights *w, const float *b, const float *x0,
                             int n0, const float *x1, int n1, int rows) {
  int r;
  for (r = 0; r < rows; r += 8) {
    long at = (long)r * (n0 + n1);
    __m256 acc = _mm256_add_ps(panel_dot(w, at, x0, n0, 2L * r),
                               panel_dot(w, at + 8L * n0, x1, n1, 2L * r + 8));
    if (b)
      acc = _mm256_add_ps(acc, _mm256_loadu_ps(b + r));
    reel_store_part_avx2(y + r, acc, rows - r);
  }
}

static void gemv_rows(float *y, const reel_weights *w, const float *b, const float *x, int rows,
                      int cols, int n, int act, float alpha) {
  int r;
  for (r = 0; r < n; r++)
    reel_gemv_any_avx2(y + (long)r * rows, w, b, x + (long)r * cols, rows, cols, act, alpha);
}

void reel_f32_gemv_avx2(float *y, const float *w, const float *b, const float *x, int rows,
                        int cols, int act, float alpha) {
  reel_weights wt = {w, NULL, REEL_W_F32};
  reel_gemv_any_avx2(y, &wt, b, x, rows, cols, act, alpha);
}

void reel_f32_gemv_bf16_avx2(float *y, const uint16_t *w, const float *b, const float *x,
                             int rows, int cols, int act, float alpha) {
  reel_weights wt = {w, NULL, REEL_W_BF16};
  reel_gemv_any_avx2(y, &wt, b, x, rows, cols, act, alpha);
}

void reel_f32_gemv_i8_avx2(float *y, const int8_t *w, const float *w_scale, const float *b,
                           const float *x, int rows, int cols, int act, float alpha) {
  reel_weights wt = {w, w_scale, REEL_W_I8};
  reel_gemv_any_avx2(y, &wt, b, x, rows, cols, act, alpha);
}

void reel_f32_gemv_cat2_avx2(float *y, const float *w, const float *b, const float *x0, int n0,
                             const float *x1, int n1, int rows) {
  reel_weights wt = {w, NULL, REEL_W_F32};
  reel_gemv_cat2_any_avx2(y, &wt, b, x0, n0, x1, n1, rows);
}

void reel_f32_gemv_cat2_bf16_avx2(float *y, const uint16_t *w, const float *b, const float *x0,
                                  int n0, const float *x1, int n1, int rows) {
  reel_weights wt = {w, NULL, REEL_W_BF16};
  reel_gemv_cat2_any_avx2(y, &wt, b, x0, n0, x1, n1, rows);
}

void reel_f32_gemv_cat2_i8_avx2(float *y, const int8_t *w, const float *w_scale, const float *b,
                                const float *x0, int n0, const float *x1, int n1, int rows) {
  reel_weights wt = {w, w_scale, REEL_W_I8};
  reel_gemv_cat2_any_avx2(y, &wt, b, x0, n0, x1, n1, rows);
}

void reel_f32_gemv_rows_avx2(float *y, const float *w, const float *b, const float *x, int rows,
                             int cols, int n, int act, float alpha) {
  reel_weights wt = {w, NULL, REEL_W_F32};
  gemv_rows(y, &wt, b, x, rows, cols, n, act, alpha);
}

void reel_f32_gemv_rows_bf16_avx2(float *y, const uint16_t *w, const float *b, const float *x,
                                  int rows, int cols, int n, int act, float alpha) {
  reel_weights wt = {w, NULL, REEL_W_BF16};
  gemv_rows(y, &wt, b, x, rows, cols, n, act, alpha);
}

void reel_f32_gemv_rows_i8_avx2(float *y, const int8_t *w, const float *w_scale, const float *b,
                                const float *x, int rows, int cols, int n, int act, float alpha) {
  reel_weights wt = {w, w_scale, REEL_W_I8};
  gemv_rows(y, &wt, b, x, rows, cols, n, act, alpha);
}

void reel_f32_gemv_many_avx2(int n, float *const y[], const float *w, const float *b,
                             const float *const x[], int rows, int cols, int act, float alpha) {
  reel_weights wt = {w, NULL, REEL_W_F32};
  reel_gemv_many_any_avx2(n, y, &wt, b, x, rows, cols, act, alpha);
}

void reel_f32_gemv_many_bf16_avx2(int n, float *const y[], const uint16_t *w, const float *b,
                                  const float *const x[], int rows, int cols, int act,
                                  float alpha) {
  reel_weights wt = {w, NULL, REEL_W_BF16};
  reel_gemv_many_any_avx2(n, y, &wt, b, x, rows, cols, act, alpha);
}

void reel_f32_gemv_many_i8_avx2(int n, float *const y[], const int8_t *w, const float *w_scale,
                                const float *b, const float *const x[], int rows, int cols,
                                int act, float alpha) {
  reel_weights wt = {w, w_scale, REEL_W_I8};
  reel_gemv_many_any_avx2(n, y, &wt, b, x, rows, cols, act, alpha);
}
