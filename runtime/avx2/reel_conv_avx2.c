/* AVX2 direct convolution, any stride and dilation, one group (ConvLSTM
 * and ConvGRU gates, ResNet and most CNN stems); grouped convs use the
 * generic kernel.
 *
 * The input [x0; x1] is first copied into `scratch` with its zero border,
 * split into stride phases: for each channel and each (row phase, column
 * phase) pair, the plane of padded pixels (i sh + rp, j sw + cp).  Every
 * tap (kh, kw) then reads, for consecutive output pixels, consecutive
 * floats of one phase plane, at a fixed offset; with stride 1 there is one
 * phase and this is the plain zero-bordered input.  Output pixel (oh, ow)
 * sits at q = oh P + ow of the phase-plane grid (P columns a row), so a run
 * of 16 consecutive q is one vector pair of loads per tap whatever the
 * stride.  Rows narrower than 16 are tiled over the flat q range (the
 * P - out_w border columns computed and dropped), wider ones row by row.
 *
 * Weights are packed in blocks of 6 output channels, [oc/6][ic][kh][kw][6]
 * (zero channels pad the last block).  The micro-kernel holds 6 output
 * channels x 16 pixels in 12 accumulators: per tap it loads two input
 * vectors and broadcasts six weights for 12 FMAs.  Twelve independent
 * chains cover the FMA latency (two pipes x four cycles) with room to
 * spare, and 8 loads per 12 FMAs leave the load ports idle a third of the
 * time (4 output channels and 8 accumulators measured 68 GFLOP/s on a
 * 128->256 3x3 32x32 conv; 6 and 12: 84).  The bias, accumulate and
 * activation epilogue is vectorised and writes NCHW directly.  Compressed
 * filters (bf16, int8 with a scale per output channel) are widened one block
 * at a time into floats after the padded input in `scratch` (6 x the taps
 * more floats), once per block for the whole output plane.
 *
 * Max pooling, the other windowed kernel with an AVX2 twin, ends the file. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "reel_runtime.h"
#include "reel_vmath_avx2.h"

/* The phase-plane grid: R rows of P columns per (channel, phase). */
static int grid_rows(const reel_conv2d_desc *d) {
  return d->out_h + (d->k_h - 1) * d->dil_h / d->stride_h;
}

static int grid_cols(const reel_conv2d_desc *d) {
  return d->out_w + (d->k_w - 1) * d->dil_w / d->stride_w;
}

/* Floats of scratch: the phase planes and one tile of slack (a tile may
 * read 15 floats past the last plane). */
long reel_conv2d_scratch_avx2(const reel_conv2d_desc *d) {
  return (long)(d->in_c0 + d->in_c1) * d->stride_h * d->stride_w * grid_rows(d) * grid_cols(d) + 16;
}

/* Whether some tap k < taps reads phase p: (k dil) % stride == p. */
static int phase_read(int taps, int dil, int stride, int p) {
  int k;
  for (k = 0; k < taps; k++)
    if (k * dil % stride == p)
      return 1;
  return 0;
}

static void pad_input(const reel_conv2d_desc *d, const float *x0, const float *x1, float *pad) {
  int R = grid_rows(d), P = grid_cols(d), sh = d->stride_h, sw = d->stride_w, c, pr, cp, j;
  long plane = (long)R * P;
  memset(pad, 0, (size_t)reel_conv2d_scratch_avx2(d) * sizeof *pad);
  for (c = 0; c < d->in_c0 + d->in_c1; c++) {
    const float *src = c < d->in_c0 ? x0 + (long)c * d->in_h * d->in_w
                                    : x1 + (long)(c - d->in_c0) * d->in_h * d->in_w;
    float *dst = pad + (long)c * sh * sw * plane;
    for (pr = d->pad_top; pr < d->pad_top + d->in_h && pr < R * sh; pr++) {
      const float *s = src + (long)(pr - d->pad_top) * d->in_w;
      float *row = dst + (long)(pr % sh) * sw * plane + (long)(pr / sh) * P;
      if (sh > 1 && !phase_read(d->k_h, d->dil_h, sh, pr % sh))
        continue; /* e.g. the odd rows of a 1x1 conv with stride 2 */
      if (sw == 1) {
        int n = d->in_w < P - d->pad_left ? d->in_w : P - d->pad_left;
        memcpy(row + d->pad_left, s, (size_t)n * sizeof *s);
        continue;
      }
      for (cp = 0; cp < sw; cp++, row += plane) { /* padded column j sw + cp */
        /* the j whose column is an input one: 0 <= j sw + cp - pad_left < in_w */
        int off = cp - d->pad_left, j0 = off < 0 ? (-off + sw - 1) / sw : 0;
        int j1 = (d->in_w - off + sw - 1) / sw;
        if (!phase_read(d->k_w, d->dil_w, sw, cp))
          continue;
        if (j1 > P)
          j1 = P;
        j = j0;
        if (sw == 2) /* 8 at a time, by a deinterleave, where 16 floats of the row are there */
          for (; j + 8 <= j1 && 2 * j + off + 16 <= d->in_w; j += 8)
            _mm256_storeu_ps(row + j, reel_evens_avx2(_mm256_loadu_ps(s + (2L * j + off)),
                                                      _mm256_loadu_ps(s + (2L * j + off + 8))));
        for (; j < j1; j++)
          row[j] = s[j * sw + off];
      }
    }
  }
}

/* The offset of tap (kh, kw) in a channel's phase planes, split into a row
 * part and a column part (each at most REEL_CONV_AVX2_MAX_K taps). */
static void tap_offsets(const reel_conv2d_desc *d, long *row_off, long *col_off) {
  long plane = (long)grid_rows(d) * grid_cols(d);
  int k;
  for (k = 0; k < d->k_h; k++) {
    int r = k * d->dil_h;
    row_off[k] =
        (long)(r % d->stride_h) * d->stride_w * plane + (long)(r / d->stride_h) * grid_cols(d);
  }
  for (k = 0; k < d->k_w; k++) {
    int s = k * d->dil_w;
    col_off[k] = (long)(s % d->stride_w) * plane + s / d->stride_w;
  }
}

/* 6 output channels x the 16 pixels at q..q+15 of the grid, into
 * out[6][16].  The twelve accumulators are plain locals so they stay in
 * registers across the whole reduction. */
static __inline void tile_kw(const reel_conv2d_desc *d, const float *pad, const float *w,
                            const long *row_off, const long *col_off, float out[6][16], long q,
                            int k_w, int unit) {
  long P = grid_cols(d), cstride = (long)d->stride_h * d->stride_w * grid_rows(d) * P;
  int in_c = d->in_c0 + d->in_c1, k_h = d->k_h, c, kh, kw;
  __m256 a00 = _mm256_setzero_ps(), a01 = _mm256_setzero_ps(), a10 = _mm256_setzero_ps();
  __m256 a11 = _mm256_setzero_ps(), a20 = _mm256_setzero_ps(), a21 = _mm256_setzero_ps();
  __m256 a30 = _mm256_setzero_ps(), a31 = _mm256_setzero_ps();
  __m256 a40 = _mm256_setzero_ps(), a41 = _mm256_setzero_ps();
  __m256 a50 = _mm256_setzero_ps(), a51 = _mm256_setzero_ps();
  const float *chan = pad + q;
  for (c = 0; c < in_c; c++, chan += cstride)
    for (kh = 0; kh < k_h; kh++) {
      const float *row = chan + (unit ? kh * P : row_off[kh]);
      for (kw = 0; kw < k_w; kw++, w += 6) {
        const float *x = row + (unit ? kw : col_off[kw]);
        __m256 x0 = _mm256_loadu_ps(x), x1 = _mm256_loadu_ps(x + 8), wv;
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

/* 3-wide kernels (most of ConvLSTM, ConvGRU and ResNet) get a copy with the
 * tap loop unrolled (unrolling the rows as well measured slower). */
static void tile(const reel_conv2d_desc *d, const float *pad, const float *w, const long *row_off,
                 const long *col_off, float out[6][16], long q) {
  int unit = d->stride_h == 1 && d->stride_w == 1 && d->dil_h == 1 && d->dil_w == 1;
  if (d->k_w == 3 && unit)
    tile_kw(d, pad, w, row_off, col_off, out, q, 3, 1);
  else if (d->k_w == 3)
    tile_kw(d, pad, w, row_off, col_off, out, q, 3, 0);
  else
    tile_kw(d, pad, w, row_off, col_off, out, q, d->k_w, 0);
}

/* y[0..n) = act(acc + (accumulate ? y : bias)) for n <= 8 columns; reads
 * acc[0..n) only. */
static REEL_INLINE_ALWAYS void store8(const reel_conv2d_desc *d, float *y, const float *acc,
                                      float bias, int n) {
  if (n == 8) {
    __m256 v = _mm256_loadu_ps(acc);
    v = _mm256_add_ps(v, d->accumulate ? _mm256_loadu_ps(y) : _mm256_set1_ps(bias));
    _mm256_storeu_ps(y, reel_activate_avx2(d->act, d->alpha, v));
  } else if (n > 0) {
    __m256i m = reel_lanes_avx2(n);
    __m256 v = _mm256_maskload_ps(acc, m);
    v = _mm256_add_ps(v, d->accumulate ? _mm256_maskload_ps(y, m) : _mm256_set1_ps(bias));
    _mm256_maskstore_ps(y, m, reel_activate_avx2(d->act, d->alpha, v));
  }
}

/* Writes the pixels q0..q0+n-1 of the tile that are output pixels (column
 * < out_w of a row < out_h) for the block's nout channels. */
static void store_tile(const reel_conv2d_desc *d, float *y, const float *b, int ocb, int nout,
                       float out[6][16], long q0, int n) {
  long plane = (long)d->out_h * d->out_w, q = q0;
  int P = grid_cols(d), o;
  while (q < q0 + n) {
    int oh = (int)(q / P), ow = (int)(q % P), lane = (int)(q - q0), cols = d->out_w - ow;
    if (oh >= d->out_h)
      break;
    if (cols > q0 + n - q)
      cols = (int)(q0 + n - q);
    for (o = 0; cols > 0 && o < nout; o++) {
      float *yr = y + (long)(ocb + o) * plane + (long)oh * d->out_w + ow;
      float bias = b && !d->accumulate ? b[ocb + o] : 0.0f;
      store8(d, yr, out[o] + lane, bias, cols < 8 ? cols : 8);
      store8(d, yr + 8, out[o] + lane + 8, bias, cols - 8);
    }
    q += P - ow; /* the next row's first column */
  }
}

/* Block `ocb / 6` of compressed filters as floats in out: weight [tap][o] times the scale
 * of output channel ocb + o for int8. */
static const float *widen_block(const reel_weights *w, int ocb, long wblock, float *out) {
  long at = (long)(ocb / 6) * wblock, t;
  for (t = 0; t < wblock; t++)
    out[t] = reel_weight_at(w, at + t, ocb + t % 6);
  return out;
}

static void conv2d(const reel_conv2d_desc *d, float *y, const reel_weights *w, const float *b,
                   const float *x0, const float *x1, float *scratch) {
  int in_c = d->in_c0 + d->in_c1, P = grid_cols(d), ocb, oh, ow;
  long wblock = 6L * in_c * d->k_h * d->k_w, last = (long)(d->out_h - 1) * P + d->out_w, q;
  long row_tiles = (long)d->out_h * ((d->out_w + 15) / 16), flat_tiles = (last + 15) / 16;
  long row_off[REEL_CONV_AVX2_MAX_K], col_off[REEL_CONV_AVX2_MAX_K];
  float out[6][16];
  pad_input(d, x0, x1, scratch);
  tap_offsets(d, row_off, col_off);
  for (ocb = 0; ocb < d->out_c; ocb += 6) {
    int nout = d->out_c - ocb < 6 ? d->out_c - ocb : 6;
    const float *wb = w->type == REEL_W_F32
                          ? (const float *)w->w + (long)(ocb / 6) * wblock
                          : widen_block(w, ocb, wblock, scratch + reel_conv2d_scratch_avx2(d));
    if (flat_tiles < row_tiles)
      for (q = 0; q < last; q += 16) {
        tile(d, scratch, wb, row_off, col_off, out, q);
        store_tile(d, y, b, ocb, nout, out, q, 16);
      }
    else
      for (oh = 0; oh < d->out_h; oh++)
        for (ow = 0; ow < d->out_w; ow += 16) {
          tile(d, scratch, wb, row_off, col_off, out, (long)oh * P + ow);
          store_tile(d, y, b, ocb, nout, out, (long)oh * P + ow,
                     d->out_w - ow < 16 ? d->out_w - ow : 16);
        }
  }
}

void reel_f32_conv2d_avx2(const reel_conv2d_desc *d, float *y, const float *w, const float *b,
                          const float *x0, const float *x1, float *scratch) {
  reel_weights wt = {w, NULL, REEL_W_F32};
  conv2d(d, y, &wt, b, x0, x1, scratch);
}

void reel_f32_conv2d_bf16_avx2(const reel_conv2d_desc *d, float *y, const uint16_t *w,
                               const float *b, const float *x0, const float *x1, float *scratch) {
  reel_weights wt = {w, NULL, REEL_W_BF16};
  conv2d(d, y, &wt, b, x0, x1, scratch);
}

void reel_f32_conv2d_i8_avx2(const reel_conv2d_desc *d, float *y, const int8_t *w,
                             const float *w_scale, const float *b, const float *x0,
                             const float *x1, float *scratch) {
  reel_weights wt = {w, w_scale, REEL_W_I8};
  conv2d(d, y, &wt, b, x0, x1, scratch);
}

/* ---- max pooling ----
 * Per output row: the max over the window's rows, vector by vector along
 * the input columns into `col`, then the max over each window's columns
 * from `col`, 8 outputs at a time (strided loads: plain for stride 1, a
 * deinterleave for 2, a gather beyond).  Columns a window hangs over the
 * border with are -inf in `col`, which no maximum takes, so border windows
 * run as vectors too (ResNet's 3x3/2 pool on 56 columns: 4 windows of 28
 * were scalar).  A chunk of output columns at a time keeps `col` on the
 * stack whatever the width.  Every comparison is the generic kernel's (take
 * v if v > best or v is NaN): the same values, NaN propagating; only which
 * of a +0/-0 tie, or of two NaNs, comes out may differ, as the window is
 * scanned by columns rather than rows. */
#define POOL_CHUNK 256 /* floats of `col`: 1 KiB of stack */
enum { POOL_COL = POOL_CHUNK + 8 };

static __m256 max_nan_avx2(__m256 best, __m256 v) {
  __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  return _mm256_blendv_ps(best, v, take);
}

/* p[0], p[s], ..., p[7 s]; with s = 2 it reads p[15] too. */
static __m256 load_strided(const float *p, int s) {
  if (s == 1)
    return _mm256_loadu_ps(p);
  if (s == 2)
    return reel_evens_avx2(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8));
  return _mm256_i32gather_ps(p, _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                                   _mm256_set1_epi32(s)), 4);
}

/* Floats past p that 8 windows from p read. */
static int strided_reach(const reel_pool2d_desc *d) {
  int s = d->stride_w;
  return d->k_w - 1 + (s == 1 ? 8 : s == 2 ? 16 : 7 * s + 1);
}

/* One window of k_w columns from p, one by one. */
static float pool_one(const reel_pool2d_desc *d, const float *p) {
  float best = p[0];
  int j;
  for (j = 1; j < d->k_w; j++)
    best = p[j] > best || p[j] != p[j] ? p[j] : best; /* NaN propagates, as in PyTorch */
  return best;
}

/* Output columns [ow0, ow1) of one row from input rows [r0, r1); col holds
 * POOL_COL floats: col[k] is input column ow0 s_w - pad_left + k. */
static void pool_chunk(const reel_pool2d_desc *d, const float *xc, float *y, int r0, int r1,
                       int ow0, int ow1, float *col) {
  int sw = d->stride_w, v0 = ow0 * sw - d->pad_left, v1 = (ow1 - 1) * sw - d->pad_left + d->k_w;
  int c0 = v0 < 0 ? 0 : v0, c1 = v1 > d->in_w ? d->in_w : v1;
  int end = ((ow1 - ow0 - 1) / 8 * 8) * sw + strided_reach(d); /* what the last vector reads */
  int i, r, ow, j, k;
  if (end > POOL_COL)
    end = POOL_COL;
  for (k = 0; k < c0 - v0 && k < end; k++) /* (padding at most half a window: never all) */
    col[k] = -INFINITY;
  for (k = c1 - v0 > 0 ? c1 - v0 : 0; k < end; k++)
    col[k] = -INFINITY;
  for (i = c0; i < c1; i += 8) {
    int n = c1 - i < 8 ? c1 - i : 8;
    __m256 best = reel_load_part_avx2(xc + (long)r0 * d->in_w + i, n);
    for (r = r0 + 1; r < r1; r++)
      best = max_nan_avx2(best, reel_load_part_avx2(xc + (long)r * d->in_w + i, n));
    reel_store_part_avx2(col + (i - v0), best, n);
  }
  for (ow = ow0; ow < ow1; ow += 8) {
    const float *p = col + (long)(ow - ow0) * sw;
    int n = ow1 - ow < 8 ? ow1 - ow : 8;
    if ((ow - ow0) * sw + strided_reach(d) > POOL_COL) /* past col: the rest one by one */
      break;
    __m256 v = load_strided(p, sw);
    for (j = 1; j < d->k_w; j++)
      v = max_nan_avx2(v, load_strided(p + j, sw));
    _mm256_maskstore_ps(y + ow, reel_lanes_avx2(n), v);
  }
  for (; ow < ow1; ow++)
    y[ow] = pool_one(d, col + (long)(ow - ow0) * sw);
}

void reel_f32_maxpool2d_avx2(const reel_pool2d_desc *d, float *y, const float *x) {
  float col[POOL_COL];
  int chunk = (POOL_CHUNK - d->k_w) / d->stride_w + 1, c, oh, ow;
  for (c = 0; c < d->c; c++) {
    const float *xc = x + (long)c * d->in_h * d->in_w;
    for (oh = 0; oh < d->out_h; oh++) {
      int r0 = oh * d->stride_h - d->pad_top, r1 = r0 + d->k_h < d->in_h ? r0 + d->k_h : d->in_h;
      float *yr = y + ((long)c * d->out_h + oh) * d->out_w;
      for (ow = 0; ow < d->out_w; ow += chunk)
        pool_chunk(d, xc, yr, r0 < 0 ? 0 : r0, r1, ow,
                   d->out_w - ow < chunk ? d->out_w : ow + chunk, col);
    }
  }
}
