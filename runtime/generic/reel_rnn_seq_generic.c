/* One direction of a bidirectional lstm or gru over a window of frames (nn.LSTM and nn.GRU
 * with bidirectional=True run on that window alone): from a zero state, through the window's
 * frames in time order or backwards, each frame's h into its row of the output.  The gate
 * matrix-vector products and the cells are the single-step kernels'. */
#include <string.h>

#include "reel_runtime.h"

static int valid_frames(unsigned long long frames, int n) {
  return frames < (unsigned long long)n ? (int)frames : n;
}

/* Rows past the valid frames are zeros, in this direction's half of each row. */
static void zero_rows(float *y, int from, int n, int hidden, int reverse) {
  int t;
  for (t = from; t < n; t++)
    memset(y + (long)t * 2 * hidden + (long)reverse * hidden, 0, sizeof(float) * (size_t)hidden);
}

static void lstm_seq(float *y, const reel_weights *w, const float *b, const float *x,
                     float *scratch, int nx, int hidden, int n, int reverse,
                     unsigned long long frames) {
  int s, valid = valid_frames(frames, n);
  float *gates = scratch, *h = scratch + 4L * hidden, *c = h + hidden;
  memset(h, 0, sizeof(float) * 2 * (size_t)hidden);
  for (s = 0; s < valid; s++) {
    int t = reverse ? valid - 1 - s : s;
    reel_gemv_cat2_any_generic(gates, w, b, x + (long)t * nx, nx, h, hidden, 4 * hidden);
    reel_lstm_cell_generic(h, c, gates, hidden);
    memcpy(y + (long)t * 2 * hidden + (long)reverse * hidden, h, sizeof(float) * (size_t)hidden);
  }
  zero_rows(y, valid, n, hidden, reverse);
}

static void gru_seq(float *y, const reel_weights *wi, const float *bi, const reel_weights *wh,
                    const float *bh, const float *x, float *scratch, int nx, int hidden, int n,
                    int reverse, unsigned long long frames) {
  int s, valid = valid_frames(frames, n);
  float *gi = scratch, *gh = scratch + 3L * hidden, *h = gh + 3L * hidden;
  memset(h, 0, sizeof(float) * (size_t)hidden);
  for (s = 0; s < valid; s++) {
    int t = reverse ? valid - 1 - s : s;
    reel_gemv_any_generic(gi, wi, bi, x + (long)t * nx, 3 * hidden, nx, REEL_ACT_NONE, 0.0f);
    reel_gemv_any_generic(gh, wh, bh, h, 3 * hidden, hidden, REEL_ACT_NONE, 0.0f);
    reel_gru_cell_generic(h, gi, gh, hidden);
    memcpy(y + (long)t * 2 * hidden + (long)reverse * hidden, h, sizeof(float) * (size_t)hidden);
  }
  zero_rows(y, valid, n, hidden, reverse);
}

void reel_lstm_seq_generic(float *y, const float *w, const float *b, const float *x,
                           float *scratch, int nx, int hidden, int n, int reverse,
                           unsigned long long frames) {
  reel_weights wt = {w, NULL, REEL_W_F32};
  lstm_seq(y, &wt, b, x, scratch, nx, hidden, n, reverse, frames);
}

void reel_lstm_seq_bf16_generic(float *y, const uint16_t *w, const float *b, const float *x,
                                float *scratch, int nx, int hidden, int n, int reverse,
                                unsigned long long frames) {
  reel_weights wt = {w, NULL, REEL_W_BF16};
  lstm_seq(y, &wt, b, x, scratch, nx, hidden, n, reverse, frames);
}

void reel_lstm_seq_i8_generic(float *y, const int8_t *w, const float *w_scale, const float *b,
                              const float *x, float *scratch, int nx, int hidden, int n,
                              int reverse, unsigned long long frames) {
  reel_weights wt = {w, w_scale, REEL_W_I8};
  lstm_seq(y, &wt, b, x, scratch, nx, hidden, n, reverse, frames);
}

void reel_gru_seq_generic(float *y, const float *wi, const float *bi, const float *wh,
                          const float *bh, const float *x, float *scratch, int nx, int hidden,
                          int n, int reverse, unsigned long long frames) {
  reel_weights wti = {wi, NULL, REEL_W_F32}, wth = {wh, NULL, REEL_W_F32};
  gru_seq(y, &wti, bi, &wth, bh, x, scratch, nx, hidden, n, reverse, frames);
}

void reel_gru_seq_bf16_generic(float *y, const uint16_t *wi, const float *bi,
                               const uint16_t *wh, const float *bh, const float *x,
                               float *scratch, int nx, int hidden, int n, int reverse,
                               unsigned long long frames) {
  reel_weights wti = {wi, NULL, REEL_W_BF16}, wth = {wh, NULL, REEL_W_BF16};
  gru_seq(y, &wti, bi, &wth, bh, x, scratch, nx, hidden, n, reverse, frames);
}

void reel_gru_seq_i8_generic(float *y, const int8_t *wi, const float *wi_scale, const float *bi,
                             const int8_t *wh, const float *wh_scale, const float *bh,
                             const float *x, float *scratch, int nx, int hidden, int n,
                             int reverse, unsigned long long frames) {
  reel_weights wti = {wi, wi_scale, REEL_W_I8}, wth = {wh, wh_scale, REEL_W_I8};
  gru_seq(y, &wti, bi, &wth, bh, x, scratch, nx, hidden, n, reverse, frames);
}
