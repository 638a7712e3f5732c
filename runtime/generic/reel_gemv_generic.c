/* Portable matrix-vector products: the reference for every faster twin.  One body per
 * product over any weight storage (reel_weights); the f32, bf16 and i8 kernels name it. */
#include "reel_runtime.h"

/* sum + sum_j w[at + j] x[j], j < n, of the stored values (int8 unscaled). */
static float dot(const reel_weights *w, long at, const float *x, int n, float sum) {
  int j;
  if (w->type == REEL_W_I8) {
    const int8_t *q = (const int8_t *)w->w + at;
    for (j = 0; j < n; j++)
      sum += (float)q[j] * x[j];
  } else if (w->type == REEL_W_BF16) {
    const uint16_t *h = (const uint16_t *)w->w + at;
    for (j = 0; j < n; j++)
      sum += reel_bf16_to_f32(h[j]) * x[j];
  } else {
    const float *f = (const float *)w->w + at;
    for (j = 0; j < n; j++)
      sum += f[j] * x[j];
  }
  return sum;
}

void reel_gemv_any_generic(float *y, const reel_weights *w, const float *b, const float *x,
                           int rows, int cols, int act, float alpha) {
  int r;
  for (r = 0; r < rows; r++) {
    float bias = b ? b[r] : 0.0f, sum;
    if (w->type == REEL_W_I8)
      sum = bias + dot(w, (long)r * cols, x, cols, 0.0f) * w->scale[r];
    else
      sum = dot(w, (long)r * cols, x, cols, bias);
    y[r] = reel_f32_activate_generic(act, alpha, sum);
  }
}

/* n streams through one matrix: y[k] = act(W x[k] + b), each stored weight read once for up
 * to MANY_TILE streams, each stream's sum in reel_gemv_any_generic's order (the same bits). */
enum { MANY_TILE = 8 };
void reel_gemv_many_any_generic(int n, float *const y[], const reel_weights *w, const float *b,
                                const float *const x[], int rows, int cols, int act,
                                float alpha) {
  int k0, k, r, j;
  for (k0 = 0; k0 < n; k0 += MANY_TILE) {
    int m = n - k0 < MANY_TILE ? n - k0 : MANY_TILE;
    const float *const *xs = x + k0;
    for (r = 0; r < rows; r++) {
      float bias = b ? b[r] : 0.0f, sum[MANY_TILE];
      for (k = 0; k < m; k++)
        sum[k] = w->type == REEL_W_I8 ? 0.0f : bias;
      for (j = 0; j < cols; j++) {
        float wj = reel_weight_raw(w, (long)r * cols + j);
        for (k = 0; k < m; k++)
          sum[k] += wj * xs[k][j];
      }
      for (k = 0; k < m; k++)
        y[k0 + k][r] = reel_f32_activate_generic(
            act, alpha, w->type == REEL_W_I8 ? bias + sum[k] * w->scale[r] : sum[k]);
    }
  }
}

void reel_gemv_cat2_any_generic(float *y, const reel_weights *w, const float *b,
                                const float *x0, int n0, const float *x1, int n1, int rows) {
  int r;
  for (r = 0; r < rows; r++) {
    long at = (long)r * (n0 + n1);
    float bias = b ? b[r] : 0.0f;
    if (w->type == REEL_W_I8)
      y[r] = bias + dot(w, at, x0, n0, 0.0f) * w->scale[r / 8 * 16 + r % 8] +
             dot(w, at + n0, x1, n1, 0.0f) * w->scale[r / 8 * 16 + 8 + r % 8];
    else
      y[r] = dot(w, at + n0, x1, n1, dot(w, at, x0, n0, bias));
  }
}

void reel_f32_gemv_generic(float *y, const float *w, const float *b, const float *x, int rows,
                           int cols, int act, float alpha) {
  reel_weights wt = {w, NULL, REEL_W_F32};
  reel_gemv_any_generic(y, &wt, b, x, rows, cols, act, alpha);
}

void reel_f32_gemv_bf16_generic(float *y, const uint16_t *w, const float *b, const float *x,
                                int rows, int cols, int act, float alpha) {
  reel_weights wt = {w, NULL, REEL_W_BF16};
  reel_gemv_any_generic(y, &wt, b, x, rows, cols, act, alpha);
}

void reel_f32_gemv_i8_generic(float *y, const int8_t *w, const float *w_scale, const float *b,
                              const float *x, int rows, int cols, int act, float alpha) {
  reel_weights wt = {w, w_scale, REEL_W_I8};
  reel_gemv_any_generic(y, &wt, b, x, rows, cols, act, alpha);
}

void reel_f32_gemv_cat2_generic(float *y, const float *w, const float *b, const float *x0, int n0,
                                const float *x1, int n1, int rows) {
  reel_weights wt = {w, NULL, REEL_W_F32};
  reel_gemv_cat2_any_generic(y, &wt, b, x0, n0, x1, n1, rows);
}

void reel_f32_gemv_cat2_bf16_generic(float *y, const uint16_t *w, const float *b,
                                     const float *x0, int n0, const float *x1, int n1, int rows) {
  reel_weights wt = {w, NULL, REEL_W_BF16};
  reel_gemv_cat2_any_generic(y, &wt, b, x0, n0, x1, n1, rows);
}

void reel_f32_gemv_cat2_i8_generic(float *y, const int8_t *w, const float *w_scale,
                                   const float *b, const float *x0, int n0, const float *x1,
                                   int n1, int rows) {
  reel_weights wt = {w, w_scale, REEL_W_I8};
  reel_gemv_cat2_any_generic(y, &wt, b, x0, n0, x1, n1, rows);
}

/* nn.Linear over each of n rows of x. */
void reel_f32_gemv_rows_generic(float *y, const float *w, const float *b, const float *x, int rows,
                                int cols, int n, int act, float alpha) {
  reel_weights wt = {w, NULL, REEL_W_F32};
  int r;
  for (r = 0; r < n; r++)
    reel_gemv_any_generic(y + (long)r * rows, &wt, b, x + (long)r * cols, rows, cols, act, alpha);
}

void reel_f32_gemv_rows_bf16_generic(float *y, const uint16_t *w, const float *b,
                                     const float *x, int rows, int cols, int n, int act,
                                     float alpha) {
  reel_weights wt = {w, NULL, REEL_W_BF16};
  int r;
  for (r = 0; r < n; r++)
    reel_gemv_any_generic(y + (long)r * rows, &wt, b, x + (long)r * cols, rows, cols, act, alpha);
}

void reel_f32_gemv_rows_i8_generic(float *y, const int8_t *w, const float *w_scale,
                                   const float *b, const float *x, int rows, int cols, int n,
                                   int act, float alpha) {
  reel_weights wt = {w, w_scale, REEL_W_I8};
  int r;
  for (r = 0; r < n; r++)
    reel_gemv_any_generic(y + (long)r * rows, &wt, b, x + (long)r * cols, rows, cols, act, alpha);
}

void reel_f32_gemv_many_generic(int n, float *const y[], const float *w, const float *b,
                                const float *const x[], int rows, int cols, int act,
                                float alpha) {
  reel_weights wt = {w, NULL, REEL_W_F32};
  reel_gemv_many_any_generic(n, y, &wt, b, x, rows, cols, act, alpha);
}

void reel_f32_gemv_many_bf16_generic(int n, float *const y[], const uint16_t *w, const float *b,
                                     const float *const x[], int rows, int cols, int act,
                                     float alpha) {
  reel_weights wt = {w, NULL, REEL_W_BF16};
  reel_gemv_many_any_generic(n, y, &wt, b, x, rows, cols, act, alpha);
}

void reel_f32_gemv_many_i8_generic(int n, float *const y[], const int8_t *w, const float *w_scale,
                                   const float *b, const float *const x[], int rows, int cols,
                                   int act, float alpha) {
  reel_weights wt = {w, w_scale, REEL_W_I8};
  reel_gemv_many_any_generic(n, y, &wt, b, x, rows, cols, act, alpha);
}
