/* AVX2 3x3 convolution (stride 1, dilation 1, one group) by Winograd's
 * minimal filtering F(2x2, 3x3): each 2x2 block of outputs ("tile") is
 *
 *   Y = A^T [ sum_c (G g G^T) (.) (B^T d B) ] A
 *
 * with d the tile's 4x4 input patch and g a 3x3 filter: 16 multiplies per
 * tile and channel pair where direct convolution takes 36, so 2.25x fewer
 * FMAs; the transforms are adds.  U = G g G^T is computed at compile time
 * (the compiler's pack.c) and stored [out_c/6][16][in_c][6].
 *
 * A call, in scratch:
 *  1. the input [x0; x1], zero-bordered, split into even and odd columns,
 *     so that the patches of consecutive tiles of a row are consecutive
 *     floats;
 *  then, per band of tile rows (about 64 tiles, so that the band's V stays
 *  in L2 while every output channel reads it):
 *  2. V = B^T d B for every channel and tile of the band, 8 tiles at a
 *     time, [16][tiles / 16][in_c][16] (the tiles padded to a multiple of
 *     16), so that step 3 reads each block of 16 tiles front to back;
 *  3. per block of 6 output channels, per element xi of the 4x4 transform
 *     and per 16 tiles, the product sum_c U[xi] V[xi] in 12 accumulators
 *     (the direct conv's micro-kernel: 2 loads and 6 broadcasts a channel);
 *  4. the output transform, bias and activation, stored to NCHW.
 * Results differ from direct convolution by float rounding only: the
 * transforms' coefficients are 0, +-1 and +-1/2.  tests/kernels.test holds
 * it to the generic direct conv.
 *
 * Special values: the transforms add and subtract neighbouring inputs, so
 * an infinite input would give its tile's outputs inf - inf = NaN where
 * direct convolution (and PyTorch) gives +-inf, and a NaN would reach
 * outputs whose window does not hold it.  A call whose input is not all
 * finite (checked in one pass, ~0.2% of a call) is therefore computed
 * directly, from filters recovered exactly from U. */
#include <immintrin.h>
#include <string.h>

#include "reel_runtime.h"
#include "reel_vmath_avx2.h"

/* The geometry of one call: tiles, and the padded input's two column planes. */
typedef struct {
  int in_c, tiles_h, tiles_w;
  int band, band_pad; /* tile rows per band; its tiles rounded up to 16 */
  long v_xi;          /* floats from one transform element's V to the next */
  int rows, half;     /* padded rows; columns per plane */
  long plane;         /* floats in one column plane */
} Wino;

static Wino geometry(const reel_conv2d_desc *d) {
  Wino g;
  g.in_c = d->in_c0 + d->in_c1;
  g.tiles_h = (d->out_h + 1) / 2;
  g.tiles_w = (d->out_w + 1) / 2;
  g.band = g.tiles_w < 64 ? 64 / g.tiles_w : 1;
  if (g.band > g.tiles_h)
    g.band = g.tiles_h;
  g.band_pad = (g.band * g.tiles_w + 15) / 16 * 16;
  /* + 16: step 2 stores to all 16 at once; a power-of-two distance would
   * put them in one L1 set, more than its ways */
  g.v_xi = (long)g.in_c * g.band_pad + 16;
  g.rows = 2 * g.tiles_h + 2;
  g.half = g.tiles_w + 1 + 8; /* + 8: a vector of 8 tiles may read past the row */
  g.plane = (long)g.rows * g.half;
  return g;
}

/* Floats of scratch: the split input, a band's V, and its products for 6
 * output channels. */
long reel_conv2d_winograd_scratch_avx2(const reel_conv2d_desc *d) {
  Wino g = geometry(d);
  return 2L * g.in_c * g.plane + 16L * g.v_xi + 16L * 6 * g.band_pad;
}

/* Step 1: padded column c of input channel ch goes to plane 2 ch + c % 2,
 * at column c / 2: 16 columns at a time, split into their even and odd
 * ones by two shuffles. */
static void split_row(const float *s, int n, int c, float *even, float *odd) {
  int i = 0;
  for (; i < n && c % 2; i++, c++) /* to an even padded column */
    odd[c / 2] = s[i];
  for (; i + 16 <= n; i += 16, c += 16) {
    __m256 a = _mm256_loadu_ps(s + i), b = _mm256_loadu_ps(s + i + 8);
    _mm256_storeu_ps(even + c / 2, reel_evens_avx2(a, b));
    _mm256_storeu_ps(odd + c / 2, reel_odds_avx2(a, b));
  }
  for (; i < n; i++, c++)
    (c % 2 ? odd : even)[c / 2] = s[i];
}

static void split_input(const reel_conv2d_desc *d, const Wino *g, const float *x0,
                        const float *x1, float *pad) {
  int ch, r;
  memset(pad, 0, (size_t)(2L * g->in_c * g->plane) * sizeof *pad);
  for (ch = 0; ch < g->in_c; ch++) {
    const float *src = ch < d->in_c0 ? x0 + (long)ch * d->in_h * d->in_w
                                     : x1 + (long)(ch - d->in_c0) * d->in_h * d->in_w;
    float *even = pad + 2L * ch * g->plane, *odd = even + g->plane;
    /* padded columns from 2 (tiles_w + 1) on are never read */
    int used = 2 * (g->tiles_w + 1) - d->pad_left, n = d->in_w < used ? d->in_w : used;
    for (r = 0; r < d->in_h && r + d->pad_top < g->rows; r++) {
      long row = (long)(r + d->pad_top) * g->half;
      split_row(src + (long)r * d->in_w, n, d->pad_left, even + row, odd + row);
    }
  }
}

/* The first n lanes of x to tiles t.. of xi's V (whose blocks of 16 tiles
 * are block floats apart), split where the run crosses into the next block. */
static void store_tiles(float *v_xi, long block, int t, int n, __m256 x) {
  int first = 16 - t % 16 < n ? 16 - t % 16 : n;
  if (first == 8) { /* the common case: 8 tiles, half a block */
    _mm256_storeu_ps(v_xi + t / 16 * block + t % 16, x);
    return;
  }
  _mm256_maskstore_ps(v_xi + t / 16 * block + t % 16, reel_lanes_avx2(first), x);
  if (n > first) { /* lanes first.. to the start of the next block */
    __m256i shift =
        _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(first));
    t += first;
    _mm256_maskstore_ps(v_xi + t / 16 * block, reel_lanes_avx2(n - first),
                        _mm256_permutevar8x32_ps(x, shift));
  }
}

/* Step 2: V[xi][ch][t] = (B^T d B)[xi] for the n tiles t of the band
 * from tile row ty0, 8 at a time.  B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0;
 * 0 1 0 -1]. */
static void transform_input(const Wino *g, const float *pad, int ty0, int n, float *v) {
  long block = 16L * g->in_c, xi_stride = g->v_xi;
  int ch, ty, tx, i, j;
  if (n % 16) /* the padding tiles: computed, never stored */
    for (i = 0; i < 16; i++)
      for (ch = 0; ch < g->in_c; ch++)
        memset(v + i * xi_stride + n / 16 * block + 16L * ch + n % 16, 0,
               (size_t)(16 - n % 16) * sizeof *v);
  for (ch = 0; ch < g->in_c; ch++) {
    const float *even = pad + 2L * ch * g->plane, *odd = even + g->plane;
    float *vc = v + 16L * ch;
    for (ty = ty0; ty < ty0 + n / g->tiles_w; ty++)
      for (tx = 0; tx < g->tiles_w; tx += 8) {
        __m256 dd[4][4], r[4][4];
        int cnt = g->tiles_w - tx < 8 ? g->tiles_w - tx : 8, t = (ty - ty0) * g->tiles_w + tx;
        for (i = 0; i < 4; i++) { /* patch columns 2 tx + j: even/odd plane, column tx + j / 2 */
          long row = (long)(2 * ty + i) * g->half + tx;
          dd[i][0] = _mm256_loadu_ps(even + row);
          dd[i][1] = _mm256_loadu_ps(odd + row);
          dd[i][2] = _mm256_loadu_ps(even + row + 1);
          dd[i][3] = _mm256_loadu_ps(odd + row + 1);
        }
        for (j = 0; j < 4; j++) { /* B^T d */
          r[0][j] = _mm256_sub_ps(dd[0][j], dd[2][j]);
          r[1][j] = _mm256_add_ps(dd[1][j], dd[2][j]);
          r[2][j] = _mm256_sub_ps(dd[2][j], dd[1][j]);
          r[3][j] = _mm256_sub_ps(dd[1][j], dd[3][j]);
        }
        for (i = 0; i < 4; i++) { /* (B^T d) B */
          float *o = vc + 4L * i * xi_stride;
          store_tiles(o, block, t, cnt, _mm256_sub_ps(r[i][0], r[i][2]));
          store_tiles(o + xi_stride, block, t, cnt, _mm256_add_ps(r[i][1], r[i][2]));
          store_tiles(o + 2 * xi_stride, block, t, cnt, _mm256_sub_ps(r[i][2], r[i][1]));
          store_tiles(o + 3 * xi_stride, block, t, cnt, _mm256_sub_ps(r[i][1], r[i][3]));
        }
      }
  }
}

/* Step 3 for one xi: m[o][0..16) = sum_ch u[ch][o] v[ch][0..16), o < 6,
 * m's rows m_stride apart. */
static void multiply(const float *u, const float *v, int in_c, long v_stride, float *m,
                     long m_stride) {
  __m256 a00 = _mm256_setzero_ps(), a01 = _mm256_setzero_ps(), a10 = _mm256_setzero_ps();
  __m256 a11 = _mm256_setzero_ps(), a20 = _mm256_setzero_ps(), a21 = _mm256_setzero_ps();
  __m256 a30 = _mm256_setzero_ps(), a31 = _mm256_setzero_ps();
  __m256 a40 = _mm256_setzero_ps(), a41 = _mm256_setzero_ps();
  __m256 a50 = _mm256_setzero_ps(), a51 = _mm256_setzero_ps();
  int ch;
  for (ch = 0; ch < in_c; ch++, u += 6, v += v_stride) {
    __m256 x0 = _mm256_loadu_ps(v), x1 = _mm256_loadu_ps(v + 8), wv;
    wv = _mm256_broadcast_ss(u);
    a00 = _mm256_fmadd_ps(wv, x0, a00);
    a01 = _mm256_fmadd_ps(wv, x1, a01);
    wv = _mm256_broadcast_ss(u + 1);
    a10 = _mm256_fmadd_ps(wv, x0, a10);
    a11 = _mm256_fmadd_ps(wv, x1, a11);
    wv = _mm256_broadcast_ss(u + 2);
    a20 = _mm256_fmadd_ps(wv, x0, a20);
    a21 = _mm256_fmadd_ps(wv, x1, a21);
    wv = _mm256_broadcast_ss(u + 3);
    a30 = _mm256_fmadd_ps(wv, x0, a30);
    a31 = _mm256_fmadd_ps(wv, x1, a31);
    wv = _mm256_broadcast_ss(u + 4);
    a40 = _mm256_fmadd_ps(wv, x0, a40);
    a41 = _mm256_fmadd_ps(wv, x1, a41);
    wv = _mm256_broadcast_ss(u + 5);
    a50 = _mm256_fmadd_ps(wv, x0, a50);
    a51 = _mm256_fmadd_ps(wv, x1, a51);
  }
  _mm256_storeu_ps(m, a00), _mm256_storeu_ps(m + 8, a01), m += m_stride;
  _mm256_storeu_ps(m, a10), _mm256_storeu_ps(m + 8, a11), m += m_stride;
  _mm256_storeu_ps(m, a20), _mm256_storeu_ps(m + 8, a21), m += m_stride;
  _mm256_storeu_ps(m, a30), _mm256_storeu_ps(m + 8, a31), m += m_stride;
  _mm256_storeu_ps(m, a40), _mm256_storeu_ps(m + 8, a41), m += m_stride;
  _mm256_storeu_ps(m, a50), _mm256_storeu_ps(m + 8, a51);
}

/* The 2x2 output blocks of the n <= 8 tiles from tile t, lane by lane in
 * out[row][column]: where all 8 lie in one tile row and inside the output,
 * each output row is two interleaved vectors (16 floats) stored as is. */
static void store_blocks(const reel_conv2d_desc *d, const Wino *g, __m256 out[2][2], float *y,
                         int t, int n) {
  int ty = t / g->tiles_w, tx = t % g->tiles_w, lane, i, j;
  float block[2][2][8];
  if (n == 8 && tx + 8 <= g->tiles_w && 2 * tx + 16 <= d->out_w && 2 * ty + 2 <= d->out_h) {
    for (i = 0; i < 2; i++) {
      float *row = y + (long)(2 * ty + i) * d->out_w + 2L * tx;
      __m256 lo = _mm256_unpacklo_ps(out[i][0], out[i][1]);
      __m256 hi = _mm256_unpackhi_ps(out[i][0], out[i][1]);
      _mm256_storeu_ps(row, _mm256_permute2f128_ps(lo, hi, 0x20));
      _mm256_storeu_ps(row + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
    }
    return;
  }
  for (i = 0; i < 2; i++)
    for (j = 0; j < 2; j++)
      _mm256_storeu_ps(block[i][j], out[i][j]);
  for (lane = 0; lane < n; lane++, tx++) {
    if (tx == g->tiles_w)
      tx = 0, ty++;
    for (i = 0; i < 2 && 2 * ty + i < d->out_h; i++)
      for (j = 0; j < 2 && 2 * tx + j < d->out_w; j++)
        y[(long)(2 * ty + i) * d->out_w + 2L * tx + j] = block[i][j][lane];
  }
}

/* Step 4 for output channel o and the band's n tiles from tile t0 (m[xi]
 * holds 6 rows of band_pad products): y = act(A^T m A + b), A^T = [1 1 1
 * 0; 0 1 -1 -1], 8 tiles at a time. */
static REEL_INLINE_ALWAYS void transform_output(const reel_conv2d_desc *d, const Wino *g,
                                                const float *m, int o, float bias, float *y,
                                                int t0, int n) {
  long row = g->band_pad, xi_stride = 6L * g->band_pad;
  int half, i, j;
  for (half = 0; half < n; half += 8) {
    __m256 s[2][4], out[2][2];
    for (j = 0; j < 4; j++) { /* A^T m */
      const float *mj = m + j * xi_stride + o * row + half;
      __m256 m0 = _mm256_loadu_ps(mj), m1 = _mm256_loadu_ps(mj + 4 * xi_stride);
      __m256 m2 = _mm256_loadu_ps(mj + 8 * xi_stride), m3 = _mm256_loadu_ps(mj + 12 * xi_stride);
      s[0][j] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
      s[1][j] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
    }
    for (i = 0; i < 2; i++) { /* (A^T m) A, + bias, activation */
      out[i][0] = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s[i][0], s[i][1]), s[i][2]),
                                _mm256_set1_ps(bias));
      out[i][1] = _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(s[i][1], s[i][2]), s[i][3]),
                                _mm256_set1_ps(bias));
      out[i][0] = reel_activate_avx2(d->act, d->alpha, out[i][0]);
      out[i][1] = reel_activate_avx2(d->act, d->alpha, out[i][1]);
    }
    store_blocks(d, g, out, y, t0 + half, n - half < 8 ? n - half : 8);
  }
}

/* Whether all n floats of x are finite (x - x is NaN for +-inf and NaN). */
static int all_finite(const float *x, long n) {
  __m256 bad = _mm256_setzero_ps();
  long i;
  for (i = 0; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    bad = _mm256_or_ps(bad, _mm256_cmp_ps(_mm256_sub_ps(v, v), _mm256_setzero_ps(), _CMP_UNORD_Q));
  }
  for (; i < n; i++)
    if (x[i] - x[i] != 0.0f)
      return 0;
  return _mm256_movemask_ps(bad) == 0;
}

/* The 3x3 filter g of output o and input c, recovered from U = G g G^T:
 * with G's rows e0, (1 1 1)/2, (1 -1 1)/2, e2, rows 0 and 3 of G g are
 * g's rows 0 and 2 and row 1 minus row 2 is g's row 1; likewise columns. */
static void filter(const float *u, int in_c, int o, int c, float g[3][3]) {
  const float *base = u + ((long)(o / 6) * 16 * in_c + c) * 6 + o % 6;
  float h[4][3];
  int i, j;
  for (i = 0; i < 4; i++) {
    float r[4];
    for (j = 0; j < 4; j++)
      r[j] = base[(long)(4 * i + j) * in_c * 6];
    h[i][0] = r[0], h[i][1] = r[1] - r[2], h[i][2] = r[3];
  }
  for (j = 0; j < 3; j++)
    g[0][j] = h[0][j], g[1][j] = h[1][j] - h[2][j], g[2][j] = h[3][j];
}

/* The direct convolution, for inputs that are not all finite. */
static void direct(const reel_conv2d_desc *d, float *y, const float *u, const float *b,
                   const float *x0, const float *x1) {
  int in_c = d->in_c0 + d->in_c1, o, c, r, kh, kw, q;
  long plane = (long)d->out_h * d->out_w;
  for (o = 0; o < d->out_c; o++) {
    float *yo = y + o * plane;
    for (q = 0; q < plane; q++)
      yo[q] = b ? b[o] : 0.0f;
    for (c = 0; c < in_c; c++) {
      const float *xc = c < d->in_c0 ? x0 + (long)c * d->in_h * d->in_w
                                     : x1 + (long)(c - d->in_c0) * d->in_h * d->in_w;
      float g[3][3];
      filter(u, in_c, o, c, g);
      for (r = 0; r < d->out_h; r++)
        for (kh = 0; kh < 3; kh++) {
          int ir = r + kh - d->pad_top;
          if (ir < 0 || ir >= d->in_h)
            continue;
          for (kw = 0; kw < 3; kw++) { /* columns q with 0 <= q + kw - pad_left < in_w */
            int shift = kw - d->pad_left, lo = shift < 0 ? -shift : 0;
            int hi = d->in_w - shift < d->out_w ? d->in_w - shift : d->out_w;
            const float *xr = xc + (long)ir * d->in_w + shift;
            float *yr = yo + (long)r * d->out_w;
            __m256 w = _mm256_set1_ps(g[kh][kw]);
            for (q = lo; q + 8 <= hi; q += 8)
              _mm256_storeu_ps(yr + q, _mm256_fmadd_ps(w, _mm256_loadu_ps(xr + q),
                                                       _mm256_loadu_ps(yr + q)));
            for (; q < hi; q++)
              yr[q] += g[kh][kw] * xr[q];
          }
        }
    }
    for (q = 0; q + 8 <= plane; q += 8)
      _mm256_storeu_ps(yo + q, reel_activate_avx2(d->act, d->alpha, _mm256_loadu_ps(yo + q)));
    if (q < plane) {
      __m256i m = reel_lanes_avx2((int)(plane - q));
      _mm256_maskstore_ps(yo + q, m,
                          reel_activate_avx2(d->act, d->alpha, _mm256_maskload_ps(yo + q, m)));
    }
  }
}

void reel_f32_conv2d_winograd_avx2(const reel_conv2d_desc *d, float *y, const float *u,
                                   const float *b, const float *x0, const float *x1,
                                   float *scratch) {
  Wino g = geometry(d);
  long in_plane = (long)d->in_h * d->in_w;
  if (!all_finite(x0, d->in_c0 * in_plane) || (d->in_c1 && !all_finite(x1, d->in_c1 * in_plane))) {
    direct(d, y, u, b, x0, x1);
    return;
  }
  float *pad = scratch, *v = pad + 2L * g.in_c * g.plane, *m = v + 16L * g.v_xi;
  long ublock = 16L * 6 * g.in_c, plane = (long)d->out_h * d->out_w;
  int ty0, ocb, xi, t, o;
  split_input(d, &g, x0, x1, pad);
  for (ty0 = 0; ty0 < g.tiles_h; ty0 += g.band) {
    int n = (g.tiles_h - ty0 < g.band ? g.tiles_h - ty0 : g.band) * g.tiles_w;
    transform_input(&g, pad, ty0, n, v);
    for (ocb = 0; ocb < d->out_c; ocb += 6) {
      int nout = d->out_c - ocb < 6 ? d->out_c - ocb : 6;
      const float *ub = u + (long)(ocb / 6) * ublock;
      for (xi = 0; xi < 16; xi++)
        for (t = 0; t < n; t += 16)
          multiply(ub + (long)xi * 6 * g.in_c, v + xi * g.v_xi + (long)t * g.in_c,
                   g.in_c, 16, m + (long)xi * 6 * g.band_pad + t, g.band_pad);
      for (o = 0; o < nout; o++)
        transform_output(d, &g, m, o, b ? b[ocb + o] : 0.0f, y + (long)(ocb + o) * plane,
                         ty0 * g.tiles_w, n);
    }
  }
}
