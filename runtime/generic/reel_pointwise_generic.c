/* Portable element-wise kernels and clip reductions. */
#include <math.h>

#include "reel_runtime.h"

/* One definition per activation, for the stand-alone kernel and the fused
 * epilogues, with PyTorch's special values: NaN stays NaN (a comparison
 * with NaN is false, so `v < 0 ? 0 : v` keeps it), relu(-0) is -0, and
 * -inf times a zero gives NaN where PyTorch's does. */
static float clamp06(float v) { return v < 0.0f ? 0.0f : v > 6.0f ? 6.0f : v; }

float reel_f32_activate_generic(int act, float alpha, float v) {
  switch (act) {
  case REEL_ACT_RELU: return v < 0.0f ? 0.0f : v;
  case REEL_ACT_RELU6: return clamp06(v);
  case REEL_ACT_LEAKY_RELU: return v >= 0.0f ? v : alpha * v;
  case REEL_ACT_SIGMOID: return 1.0f / (1.0f + expf(-v));
  case REEL_ACT_TANH: return tanhf(v);
  /* erfc(-z) is 1 + erf(z) without the cancellation for negative v */
  case REEL_ACT_GELU: return 0.5f * v * erfcf(-v * 0.70710678118654752f);
  case REEL_ACT_GELU_TANH:
    return 0.5f * v * (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
  case REEL_ACT_SILU: return v / (1.0f + expf(-v));
  case REEL_ACT_HARDSWISH: return v * clamp06(v + 3.0f) / 6.0f;
  case REEL_ACT_HARDSIGMOID: return clamp06(v + 3.0f) / 6.0f;
  case REEL_ACT_ELU: return v > 0.0f ? v : alpha * expm1f(v);
  default: return v;
  }
}

void reel_f32_activation_generic(float *y, const float *x, int n, int act, float alpha) {
  int i;
  for (i = 0; i < n; i++)
    y[i] = reel_f32_activate_generic(act, alpha, x[i]);
}

void reel_f32_prelu_generic(float *y, const float *x, const float *w, int c, int hw) {
  int k, i;
  for (k = 0; k < c; k++)
    for (i = 0; i < hw; i++) {
      long at = (long)k * hw + i;
      y[at] = x[at] > 0.0f ? x[at] : w[k] * x[at];
    }
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

/* Neumaier's compensated sum (Kahan's, with |y| > |sum| handled): comp keeps
 * what each addition rounded off, so a float sum of 10^6 frames keeps its
 * float precision.  A NaN or infinite sum is left to itself: comp stays
 * finite and sum + comp is that NaN or infinity, as an uncompensated sum. */
void reel_f32_sum_fold_generic(float *sum, float *comp, float a, const float *x, int n) {
  int i;
  for (i = 0; i < n; i++) {
    float s = sum[i], y = a * x[i], t = s + y;
    if (t - t == 0.0f) /* finite */
      comp[i] += fabsf(s) >= fabsf(y) ? (s - t) + y : (y - t) + s;
    sum[i] = t;
  }
}

void reel_f32_sum_read_generic(float *y, const float *sum, const float *comp, float s, int n) {
  int i;
  for (i = 0; i < n; i++)
    y[i] = s * (sum[i] + comp[i]);
}

void reel_f32_max_generic(float *acc, const float *x, int n) {
  int i;
  for (i = 0; i < n; i++)
    if (x[i] > acc[i] || x[i] != x[i]) /* NaN wins and stays, as in torch.max */
      acc[i] = x[i];
}

void reel_f32_add2_generic(float *y, const float *a, const float *b, int n) {
  int i;
  for (i = 0; i < n; i++)
    y[i] = a[i] + b[i];
}

void reel_f32_mul2_generic(float *y, const float *a, const float *b, int n) {
  int i;
  for (i = 0; i < n; i++)
    y[i] = a[i] * b[i];
}
