/* nn.ConvTranspose2d, AVX2.  Each output channel is accumulated in stride phases: output
 * pixel (oy, ox) lives in phase (oy % s_h, ox % s_w) at (oy / s_h, ox / s_w), so every tap
 * adds a weighted input row to a contiguous run of a phase row, 8 columns per FMA; the phases
 * are then interleaved into the output.  scratch: reel_conv_transpose2d_scratch_avx2(d). */
#include <immintrin.h>
#include <string.h>

#include "reel_runtime.h"
#include "reel_vmath_avx2.h"

/* Rows and columns of one phase plane: the most output rows (columns) any phase has. */
static int phase_len(int out, int stride) { return (out + stride - 1) / stride; }

long reel_conv_transpose2d_scratch_avx2(const reel_conv2d_desc *d) {
  return (long)d->stride_h * d->stride_w * phase_len(d->out_h, d->stride_h) *
         phase_len(d->out_w, d->stride_w);
}

/* p = act(p), n floats, the tail masked */
static void activate(float *p, long n, int act, float alpha) {
  long k = 0;
  for (; k + 8 <= n; k += 8)
    _mm256_storeu_ps(p + k, reel_activate_avx2(act, alpha, _mm256_loadu_ps(p + k)));
  if (k < n) {
    __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - k)),
                                   _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    _mm256_maskstore_ps(p + k, m, reel_activate_avx2(act, alpha, _mm256_maskload_ps(p + k, m)));
  }
}

/* dst[k] += a src[k], k < n */
static void axpy(float *dst, const float *src, float a, int n) {
  __m256 va = _mm256_set1_ps(a);
  int k = 0;
  for (; k + 8 <= n; k += 8)
    _mm256_storeu_ps(dst + k, _mm256_fmadd_ps(va, _mm256_loadu_ps(src + k),
                                               _mm256_loadu_ps(dst + k)));
  for (; k < n; k++)
    dst[k] += a * src[k];
}

/* The first input index i >= 0 whose output i s + o0 is >= 0, and the end below `out`. */
static void input_span(int in, int out, int stride, int o0, int *lo, int *hi) {
  *lo = o0 >= 0 ? 0 : (-o0 + stride - 1) / stride;
  *hi = o0 >= out ? 0 : (out - 1 - o0) / stride + 1;
  if (*hi > in)
    *hi = in;
}

/* Over weights of any storage (int8: a scale per input channel). */
static void conv_transpose2d(const reel_conv2d_desc *d, float *y, const reel_weights *w,
                             const float *b, const float *x, float *scratch) {
  int sh = d->stride_h, sw = d->stride_w;
  int ph = phase_len(d->out_h, sh), pw = phase_len(d->out_w, sw);
  int ipg = d->in_c0 / d->groups, opg = d->out_c / d->groups;
  long phase = (long)ph * pw;
  int oc, ic, u, v, i, oy, ox;
  for (oc = 0; oc < d->out_c; oc++) {
    int group = oc / opg;
    float bias = b ? b[oc] : 0.0f;
    for (i = 0; i < (long)sh * sw * phase; i++)
      scratch[i] = bias;
    for (ic = group * ipg; ic < (group + 1) * ipg; ic++) {
      const float *xc = x + (long)ic * d->in_h * d->in_w;
      long wk = ((long)ic * opg + oc % opg) * d->k_h * d->k_w;
      for (u = 0; u < d->k_h; u++) {
        int oy0 = -d->pad_top + u * d->dil_h, i_lo, i_hi;
        input_span(d->in_h, d->out_h, sh, oy0, &i_lo, &i_hi);
        int py = ((oy0 % sh) + sh) % sh, ry = (oy0 - py) / sh; /* phase row of input row 0 */
        for (v = 0; v < d->k_w; v++) {
          int ox0 = -d->pad_left + v * d->dil_w, j_lo, j_hi;
          input_span(d->in_w, d->out_w, sw, ox0, &j_lo, &j_hi);
          if (j_hi <= j_lo)
            continue;
          int px = ((ox0 % sw) + sw) % sw, rx = (ox0 - px) / sw;
          float *plane = scratch + (py * sw + px) * phase;
          float wv = reel_weight_at(w, wk + (long)u * d->k_w + v, ic);
          for (i = i_lo; i < i_hi; i++)
            axpy(plane + (long)(ry + i) * pw + rx + j_lo, xc + (long)i * d->in_w + j_lo, wv,
                 j_hi - j_lo);
        }
      }
    }
    float *yo = y + (long)oc * d->out_h * d->out_w;
    for (oy = 0; oy < d->out_h; oy++)
      for (ox = 0; ox < d->out_w; ox++)
        yo[oy * d->out_w + ox] =
            scratch[((oy % sh) * sw + ox % sw) * phase + (long)(oy / sh) * pw + ox / sw];
    if (d->act != REEL_ACT_NONE)
      activate(yo, (long)d->out_h * d->out_w, d->act, d->alpha);
  }
}

void reel_f32_conv_transpose2d_avx2(const reel_conv2d_desc *d, float *y, const float *w,
                                    const float *b, const float *x, float *scratch) {
  reel_weights wt = {w, NULL, REEL_W_F32};
  conv_transpose2d(d, y, &wt, b, x, scratch);
}

void reel_f32_conv_transpose2d_bf16_avx2(const reel_conv2d_desc *d, float *y, const uint16_t *w,
                                         const float *b, const float *x, float *scratch) {
  reel_weights wt = {w, NULL, REEL_W_BF16};
  conv_transpose2d(d, y, &wt, b, x, scratch);
}

void reel_f32_conv_transpose2d_i8_avx2(const reel_conv2d_desc *d, float *y, const int8_t *w,
                                       const float *w_scale, const float *b, const float *x,
                                       float *scratch) {
  reel_weights wt = {w, w_scale, REEL_W_I8};
  conv_transpose2d(d, y, &wt, b, x, scratch);
}
