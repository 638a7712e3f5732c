/* AVX2 grouped convolution, depthwise included: groups > 1, kernels up to
 * REEL_CONV_AVX2_MAX_K a side, any stride and dilation.  Weights stay in
 * PyTorch's layout, [out_c][in_c / groups][k_h][k_w]: a group's filters are
 * few, so there is nothing to block.
 *
 * Group by group, the group's input channels are copied into scratch with
 * their zero border, split into stride phases (phase p of a row holds its
 * columns p, p + s_w, p + 2 s_w, ...), so the taps of 8 neighbouring output
 * pixels read 8 consecutive floats at any stride.  The micro-kernel holds 2
 * output channels x up to 4 vectors of 8 pixels of one output row (up to 8
 * accumulators): per input channel and tap, up to 4 loads and 2 weight
 * broadcasts for up to 8 FMAs.  A depthwise conv with one output channel per
 * group computes its single channel (no pair to share the loads): 1 broadcast
 * and up to 4 loads for 4 FMAs.
 *
 * Scratch, in floats (reel_conv2d_grouped_scratch_avx2): one group's padded,
 * phase-split input, [in_c / groups][s_w][Hp][Wq], and its filters widened
 * from compressed weights, (out_c / groups) x (in_c / groups) x taps. */
#include <immintrin.h>
#include <string.h>

#include "reel_runtime.h"
#include "reel_vmath_avx2.h"

enum { MAXV = 4 }; /* vectors of 8 pixels per micro-tile */

/* Rows of the padded input that taps read. */
static int pad_rows(const reel_conv2d_desc *d) {
  return (d->out_h - 1) * d->stride_h + (d->k_h - 1) * d->dil_h + 1;
}

/* Floats per row of one phase: the output row rounded up to whole vectors,
 * plus the columns the furthest tap moves right. */
static int phase_cols(const reel_conv2d_desc *d) {
  return (d->out_w + 7) / 8 * 8 + (d->k_w - 1) * d->dil_w / d->stride_w;
}

long reel_conv2d_grouped_scratch_avx2(const reel_conv2d_desc *d) {
  long cin = (d->in_c0 + d->in_c1) / d->groups, cout = d->out_c / d->groups;
  return cin * d->stride_w * pad_rows(d) * phase_cols(d) + cout * cin * d->k_h * d->k_w;
}

/* Channel c of [x0; x1]. */
static const float *channel(const reel_conv2d_desc *d, const float *x0, const float *x1, int c) {
  long plane = (long)d->in_h * d->in_w;
  return c < d->in_c0 ? x0 + c * plane : x1 + (c - d->in_c0) * plane;
}

/* Input channel src into dst, [s_w][Hp][Wq]: zero border, phases.  One
 * memset, then each input row's columns to their phases (8 at a time at
 * stride 1): no call per row, whose cost would rival a depthwise conv's
 * few FMAs per pixel. */
static void pad_channel(const reel_conv2d_desc *d, const float *src, float *dst) {
  int Hp = pad_rows(d), Wq = phase_cols(d), sw = d->stride_w, r, p;
  memset(dst, 0, (size_t)sw * Hp * Wq * sizeof *dst);
  for (r = 0; r < d->in_h; r++) {
    const float *in = src + (long)r * d->in_w;
    int pr = r + d->pad_top;
    if (pr >= Hp)
      break;
    if (sw == 1) {
      float *row = dst + (long)pr * Wq + d->pad_left;
      int n = d->in_w < Wq - d->pad_left ? d->in_w : Wq - d->pad_left, j;
      for (j = 0; j + 8 <= n; j += 8)
        _mm256_storeu_ps(row + j, _mm256_loadu_ps(in + j));
      if (j < n)
        _mm256_maskstore_ps(row + j, reel_lanes_avx2(n - j),
                            _mm256_maskload_ps(in + j, reel_lanes_avx2(n - j)));
      continue;
    }
    if (sw == 2) { /* 16 columns at a time: their even and odd padded columns */
      int ic = (d->pad_left & 1), j = (ic + d->pad_left) / 2;
      float *even = dst + (long)pr * Wq, *odd = even + (long)Hp * Wq;
      if (ic && j - 1 < Wq) /* an odd pad_left: input column 0 is the odd phase's j - 1 */
        odd[j - 1] = in[0];
      for (; ic + 16 <= d->in_w && j + 8 <= Wq; ic += 16, j += 8) {
        __m256 lo = _mm256_loadu_ps(in + ic), hi = _mm256_loadu_ps(in + ic + 8);
        _mm256_storeu_ps(even + j, reel_evens_avx2(lo, hi));
        _mm256_storeu_ps(odd + j, reel_odds_avx2(lo, hi));
      }
      for (; ic < d->in_w && j < Wq; ic += 2, j++) {
        even[j] = in[ic];
        if (ic + 1 < d->in_w)
          odd[j] = in[ic + 1];
      }
      continue;
    }
    for (p = 0; p < sw; p++) { /* phase p, column j: input column j s_w + p - pad_left */
      float *row = dst + ((long)p * Hp + pr) * Wq;
      int j = d->pad_left > p ? (d->pad_left - p + sw - 1) / sw : 0, ic = j * sw + p - d->pad_left;
      for (; j < Wq && ic < d->in_w; j++, ic += sw)
        row[j] = in[ic];
    }
  }
}

/* The micro-tile: NV vectors of output row pixels, for output channel w0
 * (and w1 with PAIR), summed over cin input channels (x: the group's padded
 * input at the tile's first output pixel, tap 0; cs floats per channel),
 * each channel's filter taps consecutive in w0 / w1.  Sums to acc[0..NV)
 * and, with PAIR, acc[MAXV..MAXV + NV).  The accumulators are named, not an
 * array: gcc -O2 kept an array's in memory, a store and a load per FMA. */
#define ACC(V, NV, PAIR)                                                                         \
  if ((NV) > (V)) {                                                                              \
    __m256 xv = _mm256_loadu_ps(p + 8L * (V));                                                   \
    a##V = _mm256_fmadd_ps(xv, u0, a##V);                                                        \
    if (PAIR)                                                                                    \
      b##V = _mm256_fmadd_ps(xv, u1, b##V);                                                      \
  }
#define TILE(NAME, NV, PAIR)                                                                     \
  static void NAME(const float *x, long cs, int cin, const int *toff, int taps, const float *w0, \
                   const float *w1, __m256 *acc) {                                               \
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0;       \
    __m256 b3 = a0;                                                                              \
    int c, t;                                                                                    \
    for (c = 0; c < cin; c++, x += cs, w0 += taps, w1 += taps)                                   \
      for (t = 0; t < taps; t++) {                                                               \
        const float *p = x + toff[t];                                                            \
        __m256 u0 = _mm256_broadcast_ss(w0 + t), u1 = (PAIR) ? _mm256_broadcast_ss(w1 + t) : u0; \
        ACC(0, NV, PAIR) ACC(1, NV, PAIR) ACC(2, NV, PAIR) ACC(3, NV, PAIR)                      \
      }                                                                                          \
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;                                          \
    acc[MAXV] = b0, acc[MAXV + 1] = b1, acc[MAXV + 2] = b2, acc[MAXV + 3] = b3;                  \
  }
TILE(one1, 1, 0)
TILE(one2, 2, 0)
TILE(one3, 3, 0)
TILE(one4, 4, 0)
TILE(pair1, 1, 1)
TILE(pair2, 2, 1)
TILE(pair3, 3, 1)
TILE(pair4, 4, 1)

typedef void Tile(const float *, long, int, const int *, int, const float *, const float *,
                  __m256 *);
static Tile *const tiles[2][MAXV] = {{one1, one2, one3, one4}, {pair1, pair2, pair3, pair4}};

/* y[o][row][ow0 ...] for nv vectors of sums, n valid pixels: bias (or the old
 * y when accumulating), activation. */
static void store(const reel_conv2d_desc *d, float *yrow, const float *b, int o,
                  const __m256 *sum, int nv, int n) {
  int v;
  for (v = 0; v < nv; v++) {
    int m = n - 8 * v < 8 ? n - 8 * v : 8;
    __m256i lanes = reel_lanes_avx2(m);
    __m256 add = d->accumulate ? _mm256_maskload_ps(yrow + 8L * v, lanes)
                               : _mm256_set1_ps(b ? b[o] : 0.0f);
    _mm256_maskstore_ps(yrow + 8L * v, lanes,
                        reel_activate_avx2(d->act, d->alpha, _mm256_add_ps(sum[v], add)));
  }
}

static void conv2d(const reel_conv2d_desc *d, float *y, const reel_weights *w, const float *b,
                   const float *x0, const float *x1, float *scratch) {
  int cin = (d->in_c0 + d->in_c1) / d->groups, cout = d->out_c / d->groups;
  int taps = d->k_h * d->k_w, Hp = pad_rows(d), Wq = phase_cols(d), sw = d->stride_w;
  long cs = (long)sw * Hp * Wq, plane = (long)d->out_h * d->out_w, per = (long)cin * taps;
  int toff[REEL_CONV_AVX2_MAX_K * REEL_CONV_AVX2_MAX_K]; /* int: the stack bound */
  float *widened = scratch + cin * cs;
  int g, c, o, kh, kw, oh, ow;
  for (kh = 0; kh < d->k_h; kh++)
    for (kw = 0; kw < d->k_w; kw++) { /* phase, row and column of the tap's first pixel */
      int col = kw * d->dil_w;
      toff[kh * d->k_w + kw] = (col % sw) * Hp * Wq + kh * d->dil_h * Wq + col / sw;
    }
  for (g = 0; g < d->groups; g++) {
    const float *wg = (const float *)w->w + (long)g * cout * per;
    for (c = 0; c < cin; c++)
      pad_channel(d, channel(d, x0, x1, g * cin + c), scratch + c * cs);
    if (w->type != REEL_W_F32) {
      long k;
      for (k = 0; k < cout * per; k++)
        widened[k] = reel_weight_at(w, (long)g * cout * per + k, (long)g * cout + k / per);
      wg = widened;
    }
    for (o = 0; o < cout; o += 2) {
      int pair = o + 1 < cout, oc = g * cout + o;
      const float *w0 = wg + o * per, *w1 = pair ? w0 + per : w0;
      for (oh = 0; oh < d->out_h; oh++) {
        const float *xr = scratch + (long)oh * d->stride_h * Wq;
        float *y0 = y + oc * plane + (long)oh * d->out_w;
        for (ow = 0; ow < d->out_w; ow += 8 * MAXV) {
          __m256 acc[2 * MAXV];
          int n = d->out_w - ow < 8 * MAXV ? d->out_w - ow : 8 * MAXV, nv = (n + 7) / 8;
          tiles[pair][nv - 1](xr + ow, cs, cin, toff, taps, w0, w1, acc);
          store(d, y0 + ow, b, oc, acc, nv, n);
          if (pair)
            store(d, y0 + plane + ow, b, oc + 1, acc + MAXV, nv, n);
        }
      }
    }
  }
}

void reel_f32_conv2d_grouped_avx2(const reel_conv2d_desc *d, float *y, const float *w,
                                  const float *b, const float *x0, const float *x1,
                                  float *scratch) {
  reel_weights wt = {w, NULL, REEL_W_F32};
  conv2d(d, y, &wt, b, x0, x1, scratch);
}

void reel_f32_conv2d_grouped_bf16_avx2(const reel_conv2d_desc *d, float *y, const uint16_t *w,
                                       const float *b, const float *x0, const float *x1,
                                       float *scratch) {
  reel_weights wt = {w, NULL, REEL_W_BF16};
  conv2d(d, y, &wt, b, x0, x1, scratch);
}

void reel_f32_conv2d_grouped_i8_avx2(const reel_conv2d_desc *d, float *y, const int8_t *w,
                                     const float *w_scale, const float *b, const float *x0,
                                     const float *x1, float *scratch) {
  reel_weights wt = {w, w_scale, REEL_W_I8};
  conv2d(d, y, &wt, b, x0, x1, scratch);
}
