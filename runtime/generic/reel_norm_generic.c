/* Layer and group normalisation (nn.LayerNorm, nn.GroupNorm) over blocks of floats. */
#include <math.h>

#include "reel_runtime.h"

/* The sums of (x[i] - shift) and of its squares, in runs of 64: the rounding error grows with
 * 64 + n / 64 terms rather than n, so a large block keeps float precision. */
static void run_sums(const float *x, int n, float shift, float *sum, float *squares) {
  float s = 0.0f, q = 0.0f;
  int i = 0;
  while (i < n) {
    float rs = 0.0f, rq = 0.0f;
    int end = n - i > 64 ? i + 64 : n;
    for (; i < end; i++) {
      float d = x[i] - shift;
      rs += d;
      rq += d * d;
    }
    s += rs;
    q += rq;
  }
  *sum = s;
  *squares = q;
}

void reel_f32_norm_generic(float *y, const float *x, const float *w, const float *b, int blocks,
                           int n, int per, int nw, float eps) {
  int blk, i;
  for (blk = 0; blk < blocks; blk++) {
    const float *xb = x + (long)blk * n;
    float *yb = y + (long)blk * n;
    float sum, squares, dev, var;
    run_sums(xb, n, 0.0f, &sum, &squares);
    float mean = sum / (float)n;
    /* the biased variance, from the deviations (exact where PyTorch's E[x^2] - mean^2
     * cancels); once the squares overflow, PyTorch's is inf - inf: NaN, and so is this */
    run_sums(xb, n, mean, &dev, &var);
    var = squares - squares == 0.0f ? var / (float)n : squares / (float)n - mean * mean;
    float inv = 1.0f / sqrtf(var + eps);
    for (i = 0; i < n; i++) {
      long at = ((long)blk * n + i) / per % nw;
      float v = (xb[i] - mean) * inv;
      yb[i] = w ? v * w[at] + b[at] : v;
    }
  }
}
