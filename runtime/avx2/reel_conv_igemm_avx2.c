/* AVX2 direct convolution as an implicit GEMM vectorised over output
 * channels: any stride and dilation, one group.  The conv is the product
 * of a (pixels x in_c taps) matrix, never built, whose row for output pixel
 * (oh, ow) reads the zero-bordered input at oh sh Wp + ow sw plus each
 * tap's offset, and the packed filters, [out_c/32][in_c][k_h][k_w][32].
 *
 * The micro-kernel holds 3 output pixels x 32 output channels in 12
 * accumulators: per input channel and tap it broadcasts one input float
 * per pixel and loads four weight vectors, 7 loads for 12 FMAs (oneDNN's
 * AVX2 direct conv has the same shape).  Pixels are taken three at a
 * time in flat order, each with its own input address, so a tile never
 * straddles an unused border column and stride 2 costs no more than
 * stride 1: the kernel for small maps (7x7, 4x4), strided convs and 1x1
 * convs, where the pixel-vectorised kernel (reel_conv_avx2.c) wastes
 * lanes.
 *
 * Input channels are taken in chunks whose filters (32 x chunk x taps
 * floats, at most 24 KiB) stay in L1 while every pixel tile reads them;
 * the partial sums wait in scratch as [pixel][32].  The epilogue
 * transposes them 8 x 8 into NCHW, adds the bias (or the old output when
 * accumulating) and applies the activation.  Compressed filters are widened
 * one chunk at a time into scratch.
 *
 * Scratch, in floats (reel_conv2d_igemm_scratch_avx2): the zero-bordered
 * input [in_c][Hp][Wp] (only the rows and columns some tap reads), the
 * partial sums [pixels rounded up to 24][32] and one chunk of widened
 * filters. */
#include <immintrin.h>
#include <string.h>

#include "reel_runtime.h"
#include "reel_vmath_avx2.h"

enum { NR = REEL_CONV_IGEMM_AVX2_OC_BLOCK, MR = 3, CHUNK_TAPS = 192 /* 32 x 192 floats: 24 KiB */ };

static int pad_rows(const reel_conv2d_desc *d) {
  return (d->out_h - 1) * d->stride_h + (d->k_h - 1) * d->dil_h + 1;
}

static int pad_cols(const reel_conv2d_desc *d) {
  return (d->out_w - 1) * d->stride_w + (d->k_w - 1) * d->dil_w + 1;
}

static long pixels_padded(const reel_conv2d_desc *d) {
  return ((long)d->out_h * d->out_w + 23) / 24 * 24;
}

/* Input channels per chunk: as many as keep the chunk's filters in L1. */
static int chunk_channels(const reel_conv2d_desc *d) {
  int taps = d->k_h * d->k_w, cc = CHUNK_TAPS / taps;
  return cc < 1 ? 1 : cc;
}

long reel_conv2d_igemm_scratch_avx2(const reel_conv2d_desc *d) {
  long in_c = d->in_c0 + d->in_c1, taps = (long)d->k_h * d->k_w;
  return in_c * pad_rows(d) * pad_cols(d) + pixels_padded(d) * NR + chunk_channels(d) * taps * NR;
}

/* [x0; x1] into pad with its zero border, rows and columns that no tap reads left out. */
static void pad_input(const reel_conv2d_desc *d, const float *x0, const float *x1, float *pad) {
  int Hp = pad_rows(d), Wp = pad_cols(d), c, r;
  int c0 = d->pad_left, n = d->in_w < Wp - c0 ? d->in_w : Wp - c0;
  memset(pad, 0, (size_t)(d->in_c0 + d->in_c1) * Hp * Wp * sizeof *pad);
  for (c = 0; c < d->in_c0 + d->in_c1; c++) {
    const float *src = c < d->in_c0 ? x0 + (long)c * d->in_h * d->in_w
                                    : x1 + (long)(c - d->in_c0) * d->in_h * d->in_w;
    float *dst = pad + (long)c * Hp * Wp;
    for (r = 0; r < d->in_h && r + d->pad_top < Hp; r++)
      if (r + d->pad_top >= 0 && n > 0)
        memcpy(dst + (long)(r + d->pad_top) * Wp + c0, src + (long)r * d->in_w,
               (size_t)n * sizeof *src);
  }
}

/* acc[3][32] (+)= the chunk's product for the pixels whose input starts
 * at x + o0, o1, o2; w the chunk's filters, [nc][taps][32]. */
static void tile(const float *x, long cs, int nc, const int *toff, int taps, const float *w,
                 long o0, long o1, long o2, float *acc, int load) {
  __m256 a00, a01, a02, a10, a11, a12, a20, a21, a22, a30, a31, a32;
  int c, t;
  if (load) {
    a00 = _mm256_loadu_ps(acc), a10 = _mm256_loadu_ps(acc + 8);
    a20 = _mm256_loadu_ps(acc + 16), a30 = _mm256_loadu_ps(acc + 24);
    a01 = _mm256_loadu_ps(acc + 32), a11 = _mm256_loadu_ps(acc + 40);
    a21 = _mm256_loadu_ps(acc + 48), a31 = _mm256_loadu_ps(acc + 56);
    a02 = _mm256_loadu_ps(acc + 64), a12 = _mm256_loadu_ps(acc + 72);
    a22 = _mm256_loadu_ps(acc + 80), a32 = _mm256_loadu_ps(acc + 88);
  } else {
    a00 = a01 = a02 = a10 = a11 = a12 = _mm256_setzero_ps();
    a20 = a21 = a22 = a30 = a31 = a32 = _mm256_setzero_ps();
  }
  for (c = 0; c < nc; c++, x += cs)
    for (t = 0; t < taps; t++, w += NR) {
      const float *p = x + toff[t];
      __m256 b0 = _mm256_broadcast_ss(p + o0), b1 = _mm256_broadcast_ss(p + o1);
      __m256 b2 = _mm256_broadcast_ss(p + o2), wv;
      wv = _mm256_loadu_ps(w);
      a00 = _mm256_fmadd_ps(wv, b0, a00), a01 = _mm256_fmadd_ps(wv, b1, a01);
      a02 = _mm256_fmadd_ps(wv, b2, a02);
      wv = _mm256_loadu_ps(w + 8);
      a10 = _mm256_fmadd_ps(wv, b0, a10), a11 = _mm256_fmadd_ps(wv, b1, a11);
      a12 = _mm256_fmadd_ps(wv, b2, a12);
      wv = _mm256_loadu_ps(w + 16);
      a20 = _mm256_fmadd_ps(wv, b0, a20), a21 = _mm256_fmadd_ps(wv, b1, a21);
      a22 = _mm256_fmadd_ps(wv, b2, a22);
      wv = _mm256_loadu_ps(w + 24);
      a30 = _mm256_fmadd_ps(wv, b0, a30), a31 = _mm256_fmadd_ps(wv, b1, a31);
      a32 = _mm256_fmadd_ps(wv, b2, a32);
    }
  _mm256_storeu_ps(acc, a00), _mm256_storeu_ps(acc + 8, a10);
  _mm256_storeu_ps(acc + 16, a20), _mm256_storeu_ps(acc + 24, a30);
  _mm256_storeu_ps(acc + 32, a01), _mm256_storeu_ps(acc + 40, a11);
  _mm256_storeu_ps(acc + 48, a21), _mm256_storeu_ps(acc + 56, a31);
  _mm256_storeu_ps(acc + 64, a02), _mm256_storeu_ps(acc + 72, a12);
  _mm256_storeu_ps(acc + 80, a22), _mm256_storeu_ps(acc + 88, a32);
}

/* The same for one pixel, the last of a map whose pixel count leaves one over (16, 49,
 * 196, 784 and 3136 all do): 4 accumulators, load-bound, but a third of a full tile's time
 * where a full tile would compute two unused pixels. */
static void tile1(const float *x, long cs, int nc, const int *toff, int taps, const float *w,
                  long o0, float *acc, int load) {
  __m256 a0, a1, a2, a3;
  int c, t;
  if (load) {
    a0 = _mm256_loadu_ps(acc), a1 = _mm256_loadu_ps(acc + 8);
    a2 = _mm256_loadu_ps(acc + 16), a3 = _mm256_loadu_ps(acc + 24);
  } else {
    a0 = a1 = a2 = a3 = _mm256_setzero_ps();
  }
  for (c = 0; c < nc; c++, x += cs)
    for (t = 0; t < taps; t++, w += NR) {
      __m256 b0 = _mm256_broadcast_ss(x + toff[t] + o0);
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w), b0, a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + 8), b0, a1);
      a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + 16), b0, a2);
      a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + 24), b0, a3);
    }
  _mm256_storeu_ps(acc, a0), _mm256_storeu_ps(acc + 8, a1);
  _mm256_storeu_ps(acc + 16, a2), _mm256_storeu_ps(acc + 24, a3);
}

/* The input offset of output pixel q (flat), in the padded input. */
static long pixel_offset(const reel_conv2d_desc *d, long q, int row_stride) {
  long oh = q / d->out_w, ow = q % d->out_w;
  return oh * d->stride_h * row_stride + ow * d->stride_w;
}

/* The 8 x 8 transpose of r[0..7]: r[j] lane i becomes lane j of the i-th result. */
static void transpose8(__m256 r[8]) {
  __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xee);
  __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xee);
  __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xee);
  __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xee);
  r[0] = _mm256_permute2f128_ps(s0, s4, 0x20), r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  r[2] = _mm256_permute2f128_ps(s2, s6, 0x20), r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  r[4] = _mm256_permute2f128_ps(s0, s4, 0x31), r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  r[6] = _mm256_permute2f128_ps(s2, s6, 0x31), r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/* y[ocb + o][q] = act(sums[q][o] + (accumulate ? y : bias)) for the block's nout channels. */
static void epilogue(const reel_conv2d_desc *d, float *y, const float *b, int ocb, int nout,
                     const float *sums) {
  long plane = (long)d->out_h * d->out_w, q;
  int v, j;
  for (q = 0; q < plane; q += 8) {
    int n = plane - q < 8 ? (int)(plane - q) : 8;
    __m256i m = reel_lanes_avx2(n);
    for (v = 0; v * 8 < nout; v++) {
      __m256 r[8];
      for (j = 0; j < 8; j++)
        r[j] = _mm256_loadu_ps(sums + (q + j) * NR + (long)v * 8);
      transpose8(r);
      for (j = 0; j < 8 && v * 8 + j < nout; j++) {
        float *yr = y + (long)(ocb + v * 8 + j) * plane + q;
        __m256 add = d->accumulate ? _mm256_maskload_ps(yr, m)
                                   : _mm256_set1_ps(b ? b[ocb + v * 8 + j] : 0.0f);
        _mm256_maskstore_ps(yr, m, reel_activate_avx2(d->act, d->alpha, _mm256_add_ps(r[j], add)));
      }
    }
  }
}

static void conv2d(const reel_conv2d_desc *d, float *y, const reel_weights *w, const float *b,
                   const float *x0, const float *x1, float *scratch) {
  int in_c = d->in_c0 + d->in_c1, taps = d->k_h * d->k_w, cc = chunk_channels(d);
  int Wp = pad_cols(d), ocb, c0, kh, kw;
  long cs = (long)pad_rows(d) * Wp, pixels = (long)d->out_h * d->out_w, q;
  /* A conv of one input that reads no border (most 1x1s) reads it in place. */
  int in_place = !x1 && !d->pad_top && !d->pad_left && pad_rows(d) <= d->in_h && Wp <= d->in_w;
  int rs = in_place ? d->in_w : Wp;
  long xs = in_place ? (long)d->in_h * d->in_w : cs;
  const float *xin = in_place ? x0 : scratch;
  long block = (long)in_c * taps * NR;
  int toff[REEL_CONV_AVX2_MAX_K * REEL_CONV_AVX2_MAX_K]; /* int: the stack bound */
  float *sums = scratch + in_c * cs, *widened = sums + pixels_padded(d) * NR;
  if (!in_place)
    pad_input(d, x0, x1, scratch);
  for (kh = 0; kh < d->k_h; kh++)
    for (kw = 0; kw < d->k_w; kw++)
      toff[kh * d->k_w + kw] = kh * d->dil_h * rs + kw * d->dil_w;
  for (ocb = 0; ocb < d->out_c; ocb += NR) {
    int nout = d->out_c - ocb < NR ? d->out_c - ocb : NR;
    for (c0 = 0; c0 < in_c; c0 += cc) {
      int nc = in_c - c0 < cc ? in_c - c0 : cc;
      long at = (long)(ocb / NR) * block + (long)c0 * taps * NR, k;
      const float *wc = (const float *)w->w + at;
      if (w->type != REEL_W_F32) {
        for (k = 0; k < (long)nc * taps * NR; k++)
          widened[k] = reel_weight_at(w, at + k, ocb + k % NR);
        wc = widened;
      }
      for (q = 0; q + 1 < pixels; q += MR) { /* a last pair computes a duplicate third */
        long o0 = pixel_offset(d, q, rs), o1 = pixel_offset(d, q + 1, rs);
        long o2 = q + 2 < pixels ? pixel_offset(d, q + 2, rs) : o0;
        tile(xin + c0 * xs, xs, nc, toff, taps, wc, o0, o1, o2, sums + q * NR, c0 > 0);
      }
      if (q < pixels)
        tile1(xin + c0 * xs, xs, nc, toff, taps, wc, pixel_offset(d, q, rs), sums + q * NR,
              c0 > 0);
    }
    epilogue(d, y, b, ocb, nout, sums);
  }
}

void reel_f32_conv2d_igemm_avx2(const reel_conv2d_desc *d, float *y, const float *w,
                                const float *b, const float *x0, const float *x1, float *scratch) {
  reel_weights wt = {w, NULL, REEL_W_F32};
  conv2d(d, y, &wt, b, x0, x1, scratch);
}

void reel_f32_conv2d_igemm_bf16_avx2(const reel_conv2d_desc *d, float *y, const uint16_t *w,
                                     const float *b, const float *x0, const float *x1,
                                     float *scratch) {
  reel_weights wt = {w, NULL, REEL_W_BF16};
  conv2d(d, y, &wt, b, x0, x1, scratch);
}

void reel_f32_conv2d_igemm_i8_avx2(const reel_conv2d_desc *d, float *y, const int8_t *w,
                                   const float *w_scale, const float *b, const float *x0,
                                   const float *x1, float *scratch) {
  reel_weights wt = {w, w_scale, REEL_W_I8};
  conv2d(d, y, &wt, b, x0, x1, scratch);
}
