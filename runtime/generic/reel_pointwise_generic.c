/* Portable element-wise kernels and clip reductions. */
#include <math.h>

#include "reel_runtime.h"

void reel_f32_relu_generic(float *y, const float *x, int n) {
  int i;
  for (i = 0; i < n; i++)
    y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void reel_f32_sigmoid_generic(float *y, const float *x, int n) {
  int i;
  for (i = 0; i < n; i++)
    y[i] = 1.0f / (1.0f + expf(-x[i]));
}

void reel_f32_tanh_generic(float *y, const float *x, int n) {
  int i;
  for (i = 0; i < n; i++)
    y[i] = tanhf(x[i]);
}

/* Subtracting the max keeps expf finite for any input. */
void reel_f32_softmax_generic(float *y, const float *x, int n) {
  int i;
  float max = x[0], sum = 0.0f;
  for (i = 1; i < n; i++)
    if (x[i] > max)
      max = x[i];
  for (i = 0; i < n; i++) {
    y[i] = expf(x[i] - max);
    sum += y[i];
  }
  for (i = 0; i < n; i++)
    y[i] /= sum;
}

void reel_f32_add_generic(float *acc, const float *x, int n) {
  int i;
  for (i = 0; i < n; i++)
    acc[i] += x[i];
}

void reel_f32_axpy_generic(float *acc, float a, const float *x, int n) {
  int i;
  for (i = 0; i < n; i++)
    acc[i] += a * x[i];
}

void reel_f32_max_generic(float *acc, const float *x, int n) {
  int i;
  for (i = 0; i < n; i++)
    if (x[i] > acc[i])
      acc[i] = x[i];
}

void reel_f32_scale_generic(float *y, const float *x, float s, int n) {
  int i;
  for (i = 0; i < n; i++)
    y[i] = s * x[i];
}

void reel_f32_relu6_generic(float *y, const float *x, int n) {
  int i;
  for (i = 0; i < n; i++)
    y[i] = x[i] < 0.0f ? 0.0f : x[i] > 6.0f ? 6.0f : x[i];
}

void reel_f32_leaky_relu_generic(float *y, const float *x, float slope, int n) {
  int i;
  for (i = 0; i < n; i++)
    y[i] = x[i] >= 0.0f ? x[i] : slope * x[i];
}

void reel_f32_add2_generic(float *y, const float *a, const float *b, int n) {
  int i;
  for (i = 0; i < n; i++)
    y[i] = a[i] + b[i];
}
