/* Weight layouts of the AVX2 kernels (runtime/avx2/ describes each), made
 * at compile time so the kernels stream their weights in reading order,
 * and the scratch sizes of the convs, which the memory plan reserves.
 * Each packer takes PyTorch's row-major layout; `out` is zeroed, so padding
 * rows, units and channels are zero. */
#include <string.h>

#include "reel.h"

int64_t round8(int64_t n) { return (n + 7) / 8 * 8; }

/* [rows][cols] -> panels [rows/8][cols][8]. */
void pack_panels8(float *out, const float *w, int rows, int cols) {
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < cols; j++)
      out[((int64_t)(r / 8) * cols + j) * 8 + r % 8] = w[(int64_t)r * cols + j];
}

/* Two matrices side by side ([a | b], rows each) as one panel layout of
 * na + nb columns. */
void pack_panels8_cat2(float *out, const float *a, int na, const float *b, int nb, int rows) {
  int n = na + nb;
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < n; j++)
      out[((int64_t)(r / 8) * n + j) * 8 + r % 8] =
          j < na ? a[(int64_t)r * na + j] : b[(int64_t)r * nb + j - na];
}

/* LSTM: per block of 8 units, column j holds [i f g o] x 8 units; the
 * gate g of unit k is row g*H + k of W_ih (columns < nx) or W_hh. */
void pack_lstm(float *w_out, float *b_out, const float *wih, const float *whh, const float *bih,
               const float *bhh, int nx, int hidden) {
  int n = nx + hidden;
  for (int k = 0; k < hidden; k++)
    for (int64_t g = 0; g < 4; g++) {
      int64_t row = g * hidden + k, blk = k / 8, lane = k % 8;
      for (int j = 0; j < n; j++)
        w_out[(blk * n + j) * 32 + g * 8 + lane] =
            j < nx ? wih[row * nx + j] : whh[row * hidden + j - nx];
      b_out[blk * 32 + g * 8 + lane] = bih[row] + bhh[row];
    }
}

/* GRU: per block of 8 units, x columns hold [r z n] x 8, then h columns
 * [r z n] x 8; bias [b_ir + b_hr, b_iz + b_hz, b_in, b_hn] x 8. */
void pack_gru(float *w_out, float *b_out, const float *wih, const float *whh, const float *bih,
              const float *bhh, int nx, int hidden) {
  int64_t block = 24 * (int64_t)(nx + hidden);
  for (int k = 0; k < hidden; k++) {
    int64_t blk = k / 8, lane = k % 8;
    for (int64_t g = 0; g < 3; g++) {
      int64_t row = g * hidden + k;
      for (int j = 0; j < nx; j++)
        w_out[blk * block + (int64_t)j * 24 + g * 8 + lane] = wih[row * nx + j];
      for (int j = 0; j < hidden; j++)
        w_out[blk * block + 24 * (int64_t)nx + (int64_t)j * 24 + g * 8 + lane] = whh[row * hidden + j];
    }
    b_out[blk * 32 + lane] = bih[k] + bhh[k];
    b_out[blk * 32 + 8 + lane] = bih[hidden + k] + bhh[hidden + k];
    b_out[blk * 32 + 16 + lane] = bih[2 * hidden + k];
    b_out[blk * 32 + 24 + lane] = bhh[2 * hidden + k];
  }
}

/* The AVX2 kernels read bfloat16 panels two vectors of 8 at a time: each 32-bit lane holds
 * a_i in its low half and b_i in its high half, so a is the lanes shifted up 16 bits and b
 * the lanes with the low half cleared (no shuffle: those would compete with nothing but
 * each other on one port).  So within each pair of vectors (a, b) of a run the 16 halves
 * are stored a0 b0 a1 b1 ... a7 b7.  An odd last vector stays as it is. */
void pair_bf16_vectors(float *v, int64_t nvec) {
  for (int64_t k = 0; k + 1 < nvec; k += 2) {
    float pair[16], *p = v + 8 * k;
    for (int64_t i = 0; i < 8; i++)
      pair[2 * i] = p[i], pair[2 * i + 1] = p[8 + i];
    memcpy(p, pair, sizeof pair);
  }
}

enum { B = REEL_CONV_AVX2_OC_BLOCK }; /* output channels per block of the AVX2 convs */

/* Conv weights (out_c, in_c, kh, kw) -> [out_c/block][in_c][kh][kw][block]; the
 * caller zeroes the padding channels of the last block. */
static void pack_conv_blocks(float *out, const float *w, int out_c, int in_c, int kh, int kw,
                             int block) {
  int64_t taps = (int64_t)in_c * kh * kw;
  for (int o = 0; o < out_c; o++)
    for (int64_t t = 0; t < taps; t++)
      out[((int64_t)(o / block) * taps + t) * block + o % block] = w[(int64_t)o * taps + t];
}

void pack_conv_avx2(float *out, const float *w, int out_c, int in_c, int kh, int kw) {
  pack_conv_blocks(out, w, out_c, in_c, kh, kw, B);
}

void pack_conv_igemm(float *out, const float *w, int out_c, int in_c, int kh, int kw) {
  pack_conv_blocks(out, w, out_c, in_c, kh, kw, REEL_CONV_IGEMM_AVX2_OC_BLOCK);
}

/* Conv weights (out_c, in_c, 3, 3) -> Winograd F(2x2, 3x3)'s U = G g G^T
 * per filter, [out_c/B][16][in_c][B], computed in double;
 * G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].  The caller zeroes the
 * padding channels of the last block. */
void pack_conv_winograd(float *out, const float *w, int out_c, int in_c) {
  static const double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  for (int o = 0; o < out_c; o++)
    for (int c = 0; c < in_c; c++) {
      const float *g = w + ((int64_t)o * in_c + c) * 9;
      double gg[4][3]; /* G g */
      for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++)
          gg[i][j] = G[i][0] * g[j] + G[i][1] * g[3 + j] + G[i][2] * g[6 + j];
      for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) { /* (G g) G^T, element xi of 16 */
          double u = gg[i][0] * G[j][0] + gg[i][1] * G[j][1] + gg[i][2] * G[j][2];
          int xi = 4 * i + j;
          out[(((int64_t)(o / B) * 16 + xi) * in_c + c) * B + o % B] = (float)u;
        }
    }
}

/* Floats of the AVX2 conv's scratch, as reel_conv2d_scratch_avx2 counts
 * them: per input channel, stride_h x stride_w phase planes of the grid
 * of output rows and columns plus the taps' reach, and one tile of slack. */
int64_t conv_scratch_avx2(const Geom *g) {
  const Window *w = &g->win;
  int64_t rows = g->out_h + (int64_t)(w->kh - 1) * w->dh / w->sh;
  int64_t cols = g->out_w + (int64_t)(w->kw - 1) * w->dw / w->sw;
  return (int64_t)(g->in_c0 + g->in_c1) * w->sh * w->sw * rows * cols + 16;
}

/* Floats of the implicit-GEMM conv's scratch, as reel_conv2d_igemm_scratch_avx2 counts
 * them: the zero-bordered input's rows and columns that taps read, the partial sums of the
 * pixels (rounded up to 24) for 32 output channels, and one chunk of widened filters (as many
 * input channels as 192 taps hold, at least one). */
int64_t conv_scratch_igemm(const Geom *g) {
  const Window *w = &g->win;
  int64_t rows = (int64_t)(g->out_h - 1) * w->sh + (int64_t)(w->kh - 1) * w->dh + 1;
  int64_t cols = (int64_t)(g->out_w - 1) * w->sw + (int64_t)(w->kw - 1) * w->dw + 1;
  int64_t taps = (int64_t)w->kh * w->kw, chunk = 192 / taps ? 192 / taps : 1;
  int64_t pixels = ((int64_t)g->out_h * g->out_w + 23) / 24 * 24;
  return (g->in_c0 + g->in_c1) * rows * cols + (pixels + chunk * taps) * REEL_CONV_IGEMM_AVX2_OC_BLOCK;
}

/* Floats of the grouped conv's scratch, as reel_conv2d_grouped_scratch_avx2 counts them:
 * one group's input channels with their zero border, split into stride phases whose rows
 * hold the output row rounded up to 8 plus the furthest tap's reach, and one group's
 * filters widened from compressed weights. */
int64_t conv_scratch_grouped(const Geom *g) {
  const Window *w = &g->win;
  int64_t cin = (g->in_c0 + g->in_c1) / g->groups, cout = g->out_c / g->groups;
  int64_t rows = (int64_t)(g->out_h - 1) * w->sh + (int64_t)(w->kh - 1) * w->dh + 1;
  int64_t cols = ((int64_t)g->out_w + 7) / 8 * 8 + (int64_t)(w->kw - 1) * w->dw / w->sw;
  return cin * w->sw * rows * cols + cout * cin * w->kh * w->kw;
}

/* Floats of the Winograd conv's scratch, as reel_conv2d_winograd_scratch_avx2
 * counts them: the input split into even and odd columns, one band of
 * tile rows' transformed input, and its products for 6 output channels. */
int64_t conv_scratch_winograd(const Geom *g) {
  int64_t in_c = g->in_c0 + g->in_c1, tiles_h = (g->out_h + 1) / 2, tiles_w = (g->out_w + 1) / 2;
  int64_t band = tiles_w < 64 ? 64 / tiles_w : 1;
  if (band > tiles_h)
    band = tiles_h;
  int64_t band_pad = (band * tiles_w + 15) / 16 * 16;
  return 2 * in_c * (2 * tiles_h + 2) * (tiles_w + 9) + 16 * (in_c * band_pad + 16) + 96 * band_pad;
}
