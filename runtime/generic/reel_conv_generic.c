/* Portable convolution, pooling and layout kernels on NCHW tensors. */
#include "reel_runtime.h"

/* The output columns [*lo, *hi) whose input column lies inside the row. */
static void valid_range(int out, int in, int stride, int pad, int offset, int *lo, int *hi) {
  int o;
  *lo = 0;
  while (*lo < out && *lo * stride - pad + offset < 0)
    ++*lo;
  *hi = *lo;
  for (o = *lo; o < out && o * stride - pad + offset < in; o++)
    *hi = o + 1;
}

/* The conv over weights of any storage (int8: a scale per output channel). */
static void conv2d(const reel_conv2d_desc *d, float *y, const reel_weights *w, const float *b,
                   const float *x0, const float *x1) {
  int in_c = d->in_c0 + d->in_c1, cpg = in_c / d->groups, opg = d->out_c / d->groups;
  int plane = d->out_h * d->out_w, in_plane = d->in_h * d->in_w;
  int oc, icg, kh, kw, oh, ow, i;
  for (oc = 0; oc < d->out_c; oc++) {
    float *yo = y + (long)oc * plane;
    int group = oc / opg;
    if (!d->accumulate)
      for (i = 0; i < plane; i++)
        yo[i] = b ? b[oc] : 0.0f;
    for (icg = 0; icg < cpg; icg++) {
      int ic = group * cpg + icg;
      const float *xc =
          ic < d->in_c0 ? x0 + (long)ic * in_plane : x1 + (long)(ic - d->in_c0) * in_plane;
      for (kh = 0; kh < d->k_h; kh++) {
        int oh_lo, oh_hi, ow_lo, ow_hi;
        valid_range(d->out_h, d->in_h, d->stride_h, d->pad_top, kh * d->dil_h, &oh_lo, &oh_hi);
        for (kw = 0; kw < d->k_w; kw++) {
          float wv = reel_weight_at(w, (((long)oc * cpg + icg) * d->k_h + kh) * d->k_w + kw, oc);
          valid_range(d->out_w, d->in_w, d->stride_w, d->pad_left, kw * d->dil_w, &ow_lo, &ow_hi);
          for (oh = oh_lo; oh < oh_hi; oh++) {
            const float *xr = xc + (long)(oh * d->stride_h - d->pad_top + kh * d->dil_h) * d->in_w;
            float *yr = yo + (long)oh * d->out_w;
            int x_off = kw * d->dil_w - d->pad_left;
            for (ow = ow_lo; ow < ow_hi; ow++)
              yr[ow] += wv * xr[ow * d->stride_w + x_off];
          }
        }
      }
    }
    if (d->act != REEL_ACT_NONE)
      for (i = 0; i < plane; i++)
        yo[i] = reel_f32_activate_generic(d->act, d->alpha, yo[i]);
  }
}

void reel_f32_conv2d_generic(const reel_conv2d_desc *d, float *y, const float *w, const float *b,
                             const float *x0, const float *x1) {
  reel_weights wt = {w, NULL, REEL_W_F32};
  conv2d(d, y, &wt, b, x0, x1);
}

void reel_f32_conv2d_bf16_generic(const reel_conv2d_desc *d, float *y, const uint16_t *w,
                                  const float *b, const float *x0, const float *x1) {
  reel_weights wt = {w, NULL, REEL_W_BF16};
  conv2d(d, y, &wt, b, x0, x1);
}

void reel_f32_conv2d_i8_generic(const reel_conv2d_desc *d, float *y, const int8_t *w,
                                const float *w_scale, const float *b, const float *x0,
                                const float *x1) {
  reel_weights wt = {w, w_scale, REEL_W_I8};
  conv2d(d, y, &wt, b, x0, x1);
}

void reel_f32_maxpool2d_generic(const reel_pool2d_desc *d, float *y, const float *x) {
  int c, oh, ow, ih, iw;
  for (c = 0; c < d->c; c++) {
    const float *xc = x + (long)c * d->in_h * d->in_w;
    for (oh = 0; oh < d->out_h; oh++)
      for (ow = 0; ow < d->out_w; ow++) {
        int h0 = oh * d->stride_h - d->pad_top, w0 = ow * d->stride_w - d->pad_left;
        int h1 = h0 + d->k_h < d->in_h ? h0 + d->k_h : d->in_h;
        int w1 = w0 + d->k_w < d->in_w ? w0 + d->k_w : d->in_w;
        float best = -3.402823466e38f;
        int first = 1;
        for (ih = h0 < 0 ? 0 : h0; ih < h1; ih++)
          for (iw = w0 < 0 ? 0 : w0; iw < w1; iw++) {
            float v = xc[ih * d->in_w + iw];
            if (first || v > best || v != v) /* NaN propagates, as in PyTorch */
              best = v;
            first = 0;
          }
        y[((long)c * d->out_h + oh) * d->out_w + ow] = best;
      }
  }
}

/* PyTorch's divisor: the window clipped to the padded input when padding
 * counts, else to the input itself. */
void reel_f32_avgpool2d_generic(const reel_pool2d_desc *d, float *y, const float *x) {
  int c, oh, ow, ih, iw;
  for (c = 0; c < d->c; c++) {
    const float *xc = x + (long)c * d->in_h * d->in_w;
    for (oh = 0; oh < d->out_h; oh++)
      for (ow = 0; ow < d->out_w; ow++) {
        int h0 = oh * d->stride_h - d->pad_top, w0 = ow * d->stride_w - d->pad_left;
        int h1 = h0 + d->k_h, w1 = w0 + d->k_w, count;
        float sum = 0.0f;
        if (h1 > d->in_h + d->pad_top)
          h1 = d->in_h + d->pad_top;
        if (w1 > d->in_w + d->pad_left)
          w1 = d->in_w + d->pad_left;
        count = (h1 - h0) * (w1 - w0);
        if (h0 < 0)
          h0 = 0;
        if (w0 < 0)
          w0 = 0;
        if (h1 > d->in_h)
          h1 = d->in_h;
        if (w1 > d->in_w)
          w1 = d->in_w;
        if (!d->count_include_pad)
          count = (h1 - h0) * (w1 - w0);
        for (ih = h0; ih < h1; ih++)
          for (iw = w0; iw < w1; iw++)
            sum += xc[ih * d->in_w + iw];
        y[((long)c * d->out_h + oh) * d->out_w + ow] = sum / (float)count;
      }
  }
}

void reel_f32_global_avgpool_generic(float *y, const float *x, int c, int hw) {
  int i, k;
  for (k = 0; k < c; k++) {
    float sum = 0.0f;
    for (i = 0; i < hw; i++)
      sum += x[(long)k * hw + i];
    y[k] = sum / (float)hw;
  }
}

void reel_f32_channel_affine_generic(float *y, const float *x, const float *scale,
                                     const float *shift, int c, int hw) {
  int i, k;
  for (k = 0; k < c; k++)
    for (i = 0; i < hw; i++)
      y[(long)k * hw + i] = scale[k] * x[(long)k * hw + i] + shift[k];
}

/* y[c][h r + i][w r + j] = x[c r^2 + i r + j][h][w]; c counts output channels. */
void reel_f32_pixel_shuffle_generic(float *y, const float *x, int c, int h, int w, int r) {
  int k, i, j, row, col;
  for (k = 0; k < c; k++)
    for (i = 0; i < r; i++)
      for (j = 0; j < r; j++)
        for (row = 0; row < h; row++)
          for (col = 0; col < w; col++)
            y[((long)k * h * r + (long)row * r + i) * w * r + (long)col * r + j] =
                x[(((long)k * r + i) * r + j) * h * w + (long)row * w + col];
}

/* The inverse: h and w are the output's (the input is h r x w r). */
void reel_f32_pixel_unshuffle_generic(float *y, const float *x, int c, int h, int w, int r) {
  int k, i, j, row, col;
  for (k = 0; k < c; k++)
    for (i = 0; i < r; i++)
      for (j = 0; j < r; j++)
        for (row = 0; row < h; row++)
          for (col = 0; col < w; col++)
            y[(((long)k * r + i) * r + j) * h * w + (long)row * w + col] =
                x[((long)k * h * r + (long)row * r + i) * w * r + (long)col * r + j];
}
