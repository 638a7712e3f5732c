/* Portable matrix-vector products: the reference for every faster twin. */
#include "reel_runtime.h"

void reel_f32_gemv_generic(float *y, const float *w, const float *b, const float *x, int rows,
                           int cols, int act, float alpha) {
  int r, j;
  for (r = 0; r < rows; r++) {
    const float *row = w + (long)r * cols;
    float sum = b ? b[r] : 0.0f;
    for (j = 0; j < cols; j++)
      sum += row[j] * x[j];
    y[r] = reel_f32_activate_generic(act, alpha, sum);
  }
}

void reel_f32_gemv_cat2_generic(float *y, const float *w, const float *b, const float *x0, int n0,
                                const float *x1, int n1, int rows) {
  int r, j;
  for (r = 0; r < rows; r++) {
    const float *row = w + (long)r * (n0 + n1);
    float sum = b ? b[r] : 0.0f;
    for (j = 0; j < n0; j++)
      sum += row[j] * x0[j];
    for (j = 0; j < n1; j++)
      sum += row[n0 + j] * x1[j];
    y[r] = sum;
  }
}

void reel_f32_gemv_rows_generic(float *y, const float *w, const float *b, const float *x, int rows,
                                int cols, int n, int act, float alpha) {
  int r;
  for (r = 0; r < n; r++)
    reel_f32_gemv_generic(y + (long)r * rows, w, b, x + (long)r * cols, rows, cols, act, alpha);
}
