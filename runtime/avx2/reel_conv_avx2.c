/* AVX2 direct convolution for stride 1, dilation 1, one group (ConvLSTM and
 * ConvGRU gates, most of a ResNet); other shapes use the generic kernel.
 *
 * The input [x0; x1] is first copied into `scratch` with its zero border,
 * so the inner loop has no bounds tests.  Weights are packed in blocks of
 * 6 output channels, [oc/6][ic][kh][kw][6] (zero channels pad the last
 * block).  The micro-kernel holds 6 output channels x 16 output columns in
 * 12 accumulators: per tap it loads two input vectors and broadcasts six
 * weights for 12 FMAs.  Twelve independent chains cover the FMA latency
 * (two pipes x four cycles) with room to spare, and 8 loads per 12 FMAs
 * leave the load ports idle a third of the time (4 output channels and 8
 * accumulators measured 68 GFLOP/s on a 128->256 3x3 32x32 conv; 6 and 12:
 * 84).  The bias, accumulate and activation epilogue is vectorised and
 * writes NCHW directly: no layout conversion. */
#include <immintrin.h>
#include <string.h>

#include "reel_runtime.h"
#include "reel_vmath_avx2.h"

/* The first n lanes of 8 (0 <= n <= 8) as a maskload/maskstore mask. */
static __m256i lanes(int n) {
  static const int ones_then_zeros[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256((const __m256i *)(const void *)(ones_then_zeros + 8 - n));
}

/* y[0..n) = act(acc + (accumulate ? y : bias)) for n <= 8 columns. */
static void store8(const reel_conv2d_desc *d, float *y, const float *acc, float bias, int n) {
  __m256 v = _mm256_loadu_ps(acc);
  if (n == 8) {
    v = _mm256_add_ps(v, d->accumulate ? _mm256_loadu_ps(y) : _mm256_set1_ps(bias));
    _mm256_storeu_ps(y, reel_activate_avx2(d->act, d->slope, v));
  } else if (n > 0) {
    __m256i m = lanes(n);
    v = _mm256_add_ps(v, d->accumulate ? _mm256_maskload_ps(y, m) : _mm256_set1_ps(bias));
    _mm256_maskstore_ps(y, m, reel_activate_avx2(d->act, d->slope, v));
  }
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

/* 6 output channels x 16 columns starting at (oh, ow) of the padded input,
 * into out[6][16].  The twelve accumulators are plain locals so they stay in
 * registers across the whole reduction. */
static __inline void tile_kw(const reel_conv2d_desc *d, const float *pad, const float *w,
                            float out[6][16], int oh, int ow, int k_h, int k_w) {
  int ph = d->out_h + d->k_h - 1, pw = d->out_w + d->k_w - 1;
  int in_c = d->in_c0 + d->in_c1, c, kh, kw;
  __m256 a00 = _mm256_setzero_ps(), a01 = _mm256_setzero_ps(), a10 = _mm256_setzero_ps();
  __m256 a11 = _mm256_setzero_ps(), a20 = _mm256_setzero_ps(), a21 = _mm256_setzero_ps();
  __m256 a30 = _mm256_setzero_ps(), a31 = _mm256_setzero_ps();
  __m256 a40 = _mm256_setzero_ps(), a41 = _mm256_setzero_ps();
  __m256 a50 = _mm256_setzero_ps(), a51 = _mm256_setzero_ps();
  const float *plane = pad + (long)oh * pw + ow;
  for (c = 0; c < in_c; c++, plane += (long)ph * pw)
    for (kh = 0; kh < k_h; kh++) {
      const float *row = plane + (long)kh * pw;
      for (kw = 0; kw < k_w; kw++, w += 6) {
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
        wv = _mm256_broadcast_ss(w + 4);
        a40 = _mm256_fmadd_ps(wv, x0, a40);
        a41 = _mm256_fmadd_ps(wv, x1, a41);
        wv = _mm256_broadcast_ss(w + 5);
        a50 = _mm256_fmadd_ps(wv, x0, a50);
        a51 = _mm256_fmadd_ps(wv, x1, a51);
      }
    }
  _mm256_storeu_ps(out[0], a00), _mm256_storeu_ps(out[0] + 8, a01);
  _mm256_storeu_ps(out[1], a10), _mm256_storeu_ps(out[1] + 8, a11);
  _mm256_storeu_ps(out[2], a20), _mm256_storeu_ps(out[2] + 8, a21);
  _mm256_storeu_ps(out[3], a30), _mm256_storeu_ps(out[3] + 8, a31);
  _mm256_storeu_ps(out[4], a40), _mm256_storeu_ps(out[4] + 8, a41);
  _mm256_storeu_ps(out[5], a50), _mm256_storeu_ps(out[5] + 8, a51);
}

static void tile(const reel_conv2d_desc *d, const float *pad, const float *w, float out[6][16],
                 int oh, int ow) {
  if (d->k_w == 3)
    tile_kw(d, pad, w, out, oh, ow, d->k_h, 3);
  else
    tile_kw(d, pad, w, out, oh, ow, d->k_h, d->k_w);
}

void reel_f32_conv2d_avx2(const reel_conv2d_desc *d, float *y, const float *w, const float *b,
                          const float *x0, const float *x1, float *scratch) {
  int in_c = d->in_c0 + d->in_c1, plane = d->out_h * d->out_w;
  long wblock = 6L * in_c * d->k_h * d->k_w;
  int ocb, oh, ow, o;
  pad_input(d, x0, x1, scratch);
  for (ocb = 0; ocb < d->out_c; ocb += 6) {
    int nout = d->out_c - ocb < 6 ? d->out_c - ocb : 6;
    const float *wb = w + (long)(ocb / 6) * wblock;
    for (oh = 0; oh < d->out_h; oh++)
      for (ow = 0; ow < d->out_w; ow += 16) {
        float out[6][16];
        int ncol = d->out_w - ow < 16 ? d->out_w - ow : 16;
        tile(d, scratch, wb, out, oh, ow);
        for (o = 0; o < nout; o++) {
          float *yr = y + (long)(ocb + o) * plane + (long)oh * d->out_w + ow;
          float bias = b && !d->accumulate ? b[ocb + o] : 0.0f;
          store8(d, yr, out[o], bias, ncol < 8 ? ncol : 8);
          store8(d, yr + 8, out[o] + 8, bias, ncol - 8);
        }
      }
  }
}
