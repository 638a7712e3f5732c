/* AVX2 direct convolution for stride 1, dilation 1, one group (ConvLSTM and
 * ConvGRU gates, most of a ResNet); other shapes use the generic kernel.
 *
 * The input [x0; x1] is first copied into `scratch` with its zero border,
 * so the inner loop has no bounds tests.  Weights are packed in blocks of
 * 4 output channels, [oc/4][ic][kh][kw][4] (zero channels pad the last
 * block).  The micro-kernel holds 4 output channels x 16 output columns in
 * 8 accumulators: per tap it loads two input vectors and broadcasts four
 * weights for 8 FMAs, and it writes NCHW directly: no layout conversion. */
#include <immintrin.h>
#include <string.h>

#include "reel_runtime.h"

static float act1(int act, float slope, float v) {
  if (act == REEL_ACT_RELU)
    return v > 0.0f ? v : 0.0f;
  if (act == REEL_ACT_RELU6)
    return v < 0.0f ? 0.0f : v > 6.0f ? 6.0f : v;
  if (act == REEL_ACT_LEAKY_RELU)
    return v >= 0.0f ? v : slope * v;
  return v;
}

/* Floats of scratch the kernel needs: the padded input and one vector of slack. */
long reel_conv2d_scratch_avx2(const reel_conv2d_desc *d) {
  return (long)(d->in_c0 + d->in_c1) * (d->out_h + d->k_h - 1) * (d->out_w + d->k_w - 1) + 16;
}

static void pad_input(const reel_conv2d_desc *d, const float *x0, const float *x1, float *pad) {
  int ph = d->out_h + d->k_h - 1, pw = d->out_w + d->k_w - 1, c, r;
  memset(pad, 0, (size_t)reel_conv2d_scratch_avx2(d) * sizeof *pad);
  for (c = 0; c < d->in_c0 + d->in_c1; c++) {
    const float *src = c < d->in_c0 ? x0 + (long)c * d->in_h * d->in_w
                                    : x1 + (long)(c - d->in_c0) * d->in_h * d->in_w;
    for (r = 0; r < d->in_h; r++) {
      int pr = r + d->pad_top;
      if (pr >= ph)
        break;
      memcpy(pad + ((long)c * ph + pr) * pw + d->pad_left, src + (long)r * d->in_w,
             (size_t)(d->in_w < pw - d->pad_left ? d->in_w : pw - d->pad_left) * sizeof *pad);
    }
  }
}

/* 4 output channels x 16 columns starting at (oh, ow) of the padded input,
 * into out[4][16].  The eight accumulators are plain locals so they stay in
 * registers across the whole reduction. */
static __inline void tile_kw(const reel_conv2d_desc *d, const float *pad, const float *w,
                            float out[4][16], int oh, int ow, int k_h, int k_w) {
  int ph = d->out_h + d->k_h - 1, pw = d->out_w + d->k_w - 1;
  int in_c = d->in_c0 + d->in_c1, c, kh, kw;
  __m256 a00 = _mm256_setzero_ps(), a01 = _mm256_setzero_ps(), a10 = _mm256_setzero_ps();
  __m256 a11 = _mm256_setzero_ps(), a20 = _mm256_setzero_ps(), a21 = _mm256_setzero_ps();
  __m256 a30 = _mm256_setzero_ps(), a31 = _mm256_setzero_ps();
  const float *plane = pad + (long)oh * pw + ow;
  for (c = 0; c < in_c; c++, plane += (long)ph * pw)
    for (kh = 0; kh < k_h; kh++) {
      const float *row = plane + (long)kh * pw;
      for (kw = 0; kw < k_w; kw++, w += 4) {
        __m256 x0 = _mm256_loadu_ps(row + kw), x1 = _mm256_loadu_ps(row + kw + 8), wv;
        wv = _mm256_broadcast_ss(w);
        a00 = _mm256_fmadd_ps(wv, x0, a00);
        a01 = _mm256_fmadd_ps(wv, x1, a01);
        wv = _mm256_broadcast_ss(w + 1);
        a10 = _mm256_fmadd_ps(wv, x0, a10);
        a11 = _mm256_fmadd_ps(wv, x1, a11);
        wv = _mm256_broadcast_ss(w + 2);
        a20 = _mm256_fmadd_ps(wv, x0, a20);
        a21 = _mm256_fmadd_ps(wv, x1, a21);
        wv = _mm256_broadcast_ss(w + 3);
        a30 = _mm256_fmadd_ps(wv, x0, a30);
        a31 = _mm256_fmadd_ps(wv, x1, a31);
      }
    }
  _mm256_storeu_ps(out[0], a00), _mm256_storeu_ps(out[0] + 8, a01);
  _mm256_storeu_ps(out[1], a10), _mm256_storeu_ps(out[1] + 8, a11);
  _mm256_storeu_ps(out[2], a20), _mm256_storeu_ps(out[2] + 8, a21);
  _mm256_storeu_ps(out[3], a30), _mm256_storeu_ps(out[3] + 8, a31);
}

/* 3-wide kernels (most of ConvLSTM, ConvGRU and ResNet) get a copy with the
 * tap loop unrolled (unrolling the rows as well measured slower). */
static void tile(const reel_conv2d_desc *d, const float *pad, const float *w, float out[4][16],
                 int oh, int ow) {
  if (d->k_w == 3)
    tile_kw(d, pad, w, out, oh, ow, d->k_h, 3);
  else
    tile_kw(d, pad, w, out, oh, ow, d->k_h, d->k_w);
}

void reel_f32_conv2d_avx2(const reel_conv2d_desc *d, float *y, const float *w, const float *b,
                          const float *x0, const float *x1, float *scratch) {
  int in_c = d->in_c0 + d->in_c1, plane = d->out_h * d->out_w;
  long wblock = 4L * in_c * d->k_h * d->k_w;
  int ocb, oh, ow, o, i;
  pad_input(d, x0, x1, scratch);
  for (ocb = 0; ocb < d->out_c; ocb += 4) {
    int nout = d->out_c - ocb < 4 ? d->out_c - ocb : 4;
    const float *wb = w + (long)(ocb / 4) * wblock;
    for (oh = 0; oh < d->out_h; oh++)
      for (ow = 0; ow < d->out_w; ow += 16) {
        float out[4][16];
        int ncol = d->out_w - ow < 16 ? d->out_w - ow : 16;
        tile(d, scratch, wb, out, oh, ow);
        for (o = 0; o < nout; o++) {
          float *yr = y + (long)(ocb + o) * plane + (long)oh * d->out_w + ow;
          float bias = b && !d->accumulate ? b[ocb + o] : 0.0f;
          for (i = 0; i < ncol; i++) {
            float s = out[o][i] + (d->accumulate ? yr[i] : bias);
            yr[i] = act1(d->act, d->slope, s);
          }
        }
      }
  }
}
