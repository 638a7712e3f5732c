/* The AVX2 twins of reel_rnn_seq_generic.c: the same loops over the AVX2 matrix-vector
 * products (weights in panels of 8 rows, biases padded to them) and the AVX2 lstm cell (the
 * gru cell is the generic one: H elementwise operations next to 6 H (nx + H) for the gates). */
#include <string.h>

#include "reel_runtime.h"

static int valid_frames(unsigned long long frames, int n) {
  return frames < (unsigned long long)n ? (int)frames : n;
}

static void zero_rows(float *y, int from, int n, int hidden, int reverse) {
  int t;
  for (t = from; t < n; t++)
    memset(y + (long)t * 2 * hidden + (long)reverse * hidden, 0, sizeof(float) * (size_t)hidden);
}

static void lstm_seq(float *y, const reel_weights *w, const float *b, const float *x,
                     float *scratch, int nx, int hidden, int n, int reverse,
                     unsigned long long frames) {
  int s, valid = valid_frames(frames, n), rows = (4 * hidden + 7) / 8 * 8;
  float *gates = scratch, *h = scratch + rows, *c = h + hidden;
  memset(h, 0, sizeof(float) * 2 * (size_t)hidden);
  for (s = 0; s < valid; s++) {
    int t = reverse ? valid - 1 - s : s;
    reel_gemv_cat2_any_avx2(gates, w, b, x + (long)t * nx, nx, h, hidden, 4 * hidden);
    reel_lstm_cell_avx2(h, c, gates, hidden);
    memcpy(y + (long)t * 2 * hidden + (long)reverse * hidden, h, sizeof(float) * (size_t)hidden);
  }
  zero_rows(y, valid, n, hidden, reverse);
}

static void gru_seq(float *y, const reel_weights *wi, const float *bi, const reel_weights *wh,
                    const float *bh, const float *x, float *scratch, int nx, int hidden, int n,
                    int reverse, unsigned long long frames) {
  int s, valid = valid_frames(frames, n), rows = (3 * hidden + 7) / 8 * 8;
  float *gi = scratch, *gh = scratch + rows, *h = gh + rows;
  memset(h, 0, sizeof(float) * (size_t)hidden);
  for (s = 0; s < valid; s++) {
    int t = reverse ? valid - 1 - s : s;
    reel_gemv_any_avx2(gi, wi, bi, x + (long)t * nx, 3 * hidden, nx, REEL_ACT_NONE, 0.0f);
    reel_gemv_any_avx2(gh, wh, bh, h, 3 * hidden, hidden, REEL_ACT_NONE, 0.0f);
    reel_gru_cell_generic(h, gi, gh, hidden);
    memcpy(y + (long)t * 2 * hidden + (long)reverse * hidden, h, sizeof(float) * (size_t)hidden);
  }
  zero_rows(y, valid, n, hidden, reverse);
}

void reel_lstm_seq_avx2(float *y, const float *w, const float *b, const float *x, float *scratch,
                        int nx, int hidden, int n, int reverse, unsigned long long frames) {
  reel_weights wt = {w, NULL, REEL_W_F32};
  lstm_seq(y, &wt, b, x, scratch, nx, hidden, n, reverse, frames);
}

void reel_lstm_seq_bf16_avx2(float *y, const uint16_t *w, const float *b, const float *x,
                             float *scratch, int nx, int hidden, int n, int reverse,
                             unsigned long long frames) {
  reel_weights wt = {w, NULL, REEL_W_BF16};
  lstm_seq(y, &wt, b, x, scratch, nx, hidden, n, reverse, frames);
}

void reel_lstm_seq_i8_avx2(float *y, const int8_t *w, const float *w_scale, const float *b,
                           const float *x, float *scratch, int nx, int hidden, int n, int reverse,
                           unsigned long long frames) {
  reel_weights wt = {w, w_scale, REEL_W_I8};
  lstm_seq(y, &wt, b, x, scratch, nx, hidden, n, reverse, frames);
}

void reel_gru_seq_avx2(float *y, const float *wi, const float *bi, const float *wh,
                       const float *bh, const float *x, float *scratch, int nx, int hidden, int n,
                       int reverse, unsigned long long frames) {
  reel_weights wti = {wi, NULL, REEL_W_F32}, wth = {wh, NULL, REEL_W_F32};
  gru_seq(y, &wti, bi, &wth, bh, x, scratch, nx, hidden, n, reverse, frames);
}

void reel_gru_seq_bf16_avx2(float *y, const uint16_t *wi, const float *bi, const uint16_t *wh,
                            const float *bh, const float *x, float *scratch, int nx, int hidden,
                            int n, int reverse, unsigned long long frames) {
  reel_weights wti = {wi, NULL, REEL_W_BF16}, wth = {wh, NULL, REEL_W_BF16};
  gru_seq(y, &wti, bi, &wth, bh, x, scratch, nx, hidden, n, reverse, frames);
}

void reel_gru_seq_i8_avx2(float *y, const int8_t *wi, const float *wi_scale, const float *bi,
                          const int8_t *wh, const float *wh_scale, const float *bh, const float *x,
                          float *scratch, int nx, int hidden, int n, int reverse,
                          unsigned long long frames) {
  reel_weights wti = {wi, wi_scale, REEL_W_I8}, wth = {wh, wh_scale, REEL_W_I8};
  gru_seq(y, &wti, bi, &wth, bh, x, scratch, nx, hidden, n, reverse, frames);
}
