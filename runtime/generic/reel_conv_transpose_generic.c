/* nn.ConvTranspose2d: the gradient of a conv with respect to its input. */
#include <string.h>

#include "reel_runtime.h"

/* Over weights of any storage (int8: a scale per input channel, PyTorch's weight rows). */
static void conv_transpose2d(const reel_conv2d_desc *d, float *y, const reel_weights *w,
                             const float *b, const float *x) {
  int ipg = d->in_c0 / d->groups, opg = d->out_c / d->groups, plane = d->out_h * d->out_w;
  int oc, ic, i, j, u, v;
  for (oc = 0; oc < d->out_c; oc++)
    for (i = 0; i < plane; i++)
      y[(long)oc * plane + i] = b ? b[oc] : 0.0f;
  /* every input pixel, through every tap, into the output pixel it lands on */
  for (ic = 0; ic < d->in_c0; ic++) {
    int group = ic / ipg;
    for (i = 0; i < d->in_h; i++)
      for (j = 0; j < d->in_w; j++) {
        float xv = x[((long)ic * d->in_h + i) * d->in_w + j];
        for (oc = group * opg; oc < (group + 1) * opg; oc++) {
          long wk = ((long)ic * opg + oc % opg) * d->k_h * d->k_w;
          float *yo = y + (long)oc * plane;
          for (u = 0; u < d->k_h; u++) {
            int oy = i * d->stride_h - d->pad_top + u * d->dil_h;
            if (oy < 0 || oy >= d->out_h)
              continue;
            for (v = 0; v < d->k_w; v++) {
              int ox = j * d->stride_w - d->pad_left + v * d->dil_w;
              if (ox >= 0 && ox < d->out_w)
                yo[oy * d->out_w + ox] += xv * reel_weight_at(w, wk + (long)u * d->k_w + v, ic);
            }
          }
        }
      }
  }
  if (d->act != REEL_ACT_NONE)
    for (i = 0; i < d->out_c * plane; i++)
      y[i] = reel_f32_activate_generic(d->act, d->alpha, y[i]);
}

void reel_f32_conv_transpose2d_generic(const reel_conv2d_desc *d, float *y, const float *w,
                                       const float *b, const float *x) {
  reel_weights wt = {w, NULL, REEL_W_F32};
  conv_transpose2d(d, y, &wt, b, x);
}

void reel_f32_conv_transpose2d_bf16_generic(const reel_conv2d_desc *d, float *y,
                                            const uint16_t *w, const float *b, const float *x) {
  reel_weights wt = {w, NULL, REEL_W_BF16};
  conv_transpose2d(d, y, &wt, b, x);
}

void reel_f32_conv_transpose2d_i8_generic(const reel_conv2d_desc *d, float *y, const int8_t *w,
                                          const float *w_scale, const float *b, const float *x) {
  reel_weights wt = {w, w_scale, REEL_W_I8};
  conv_transpose2d(d, y, &wt, b, x);
}
