/* F.interpolate's nearest and bilinear upsampling of [C, H, W] maps, from the index and
 * weight tables the compiler computes (reel_runtime.h). */
#include "reel_runtime.h"

void reel_f32_upsample_nearest_generic(float *y, const float *x, const float *table, int c, int h,
                                       int w, int oh, int ow) {
  int k, i, j;
  for (k = 0; k < c; k++)
    for (i = 0; i < oh; i++) {
      const float *xr = x + ((long)k * h + (int)table[i]) * w;
      float *yr = y + ((long)k * oh + i) * ow;
      for (j = 0; j < ow; j++)
        yr[j] = xr[(int)table[oh + j]];
    }
}

/* PyTorch's order: each input row blended across columns, then the two rows. */
void reel_f32_upsample_bilinear_generic(float *y, const float *x, const float *table, int c, int h,
                                        int w, int oh, int ow) {
  const float *r0 = table, *r1 = table + oh, *rl = table + 2L * oh;
  const float *c0 = table + 3L * oh, *c1 = c0 + ow, *cl = c0 + 2L * ow;
  int k, i, j;
  for (k = 0; k < c; k++)
    for (i = 0; i < oh; i++) {
      const float *xa = x + ((long)k * h + (int)r0[i]) * w;
      const float *xb = x + ((long)k * h + (int)r1[i]) * w;
      float *yr = y + ((long)k * oh + i) * ow, l1 = rl[i], l0 = 1.0f - l1;
      for (j = 0; j < ow; j++) {
        int a = (int)c0[j], b = (int)c1[j];
        float m1 = cl[j], m0 = 1.0f - m1;
        yr[j] = l0 * (m0 * xa[a] + m1 * xa[b]) + l1 * (m0 * xb[a] + m1 * xb[b]);
      }
    }
}
