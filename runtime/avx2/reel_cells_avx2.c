/* AVX2 recurrent cells.
 *
 * reel_lstm_step_avx2 and reel_gru_step_avx2 are a whole dense cell step in
 * one pass over the weights: the gate matmul over [x; h] with the gate math
 * as its epilogue.  Weights are packed per block of 8 hidden units (zero
 * units pad the last block) so one sweep over the columns yields all gates
 * of those 8 units:
 *   lstm: column j of block u holds 32 floats, gates [i f g o] x 8 units;
 *         bias 32 floats per block (b_ih + b_hh)
 *   gru:  x columns hold 24 floats [r z n], then h columns 24 floats
 *         [r z n]; bias 32 floats per block [b_ir + b_hr, b_iz + b_hz,
 *         b_in, b_hn] (b_hn stays inside r (.) ...)
 * The new h goes to `scratch` until every block has read the old h, then
 * is copied over it.
 *
 * Blocks are independent, so their order is free: `reverse` walks them
 * last to first.  Callers alternate it from step to step, so a step starts
 * on the blocks the previous one read last, which are still in L2 when the
 * weights are too large for it (measured: 15-25% less time on 6-8 MiB).
 *
 * Compressed weights (bf16, int8) keep this layout with 2- or 1-byte
 * elements, widened as they are loaded (bf16 gate vectors stored in pairs,
 * widened by a shift and a mask: see reel_gemv_avx2.c); the sweeps sum apart,
 * for int8 each times its rows' scales (per block: the ih rows' [gates][8],
 * then the hh rows').
 *
 * The pointwise kernels (lstm_cell, lstm_peephole_cell, convgru_*) are the
 * generic ones' vector twins, for the convolutional cells. */
#include <immintrin.h>
#include <string.h>

#include "reel_runtime.h"
#include "reel_vmath_avx2.h"

/* acc[g] += sum_j w[j][g] x[j] over the 4 (LSTM) or 3 (GRU) gate vectors of
 * 8 units.  Written out gate by gate with two columns per iteration in two
 * accumulator sets, so the accumulators stay in registers (a loop over the
 * gates kept them in memory: a store-to-load round trip on every FMA) and 8
 * or 6 independent FMA chains hide the FMA latency. */
static void sweep4(__m256 *acc, const float *w, const float *x, int n) {
  __m256 a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  __m256 b0 = _mm256_setzero_ps(), b1 = b0, b2 = b0, b3 = b0;
  int j;
  for (j = 0; j + 1 < n; j += 2, w += 64) {
    __m256 x0 = _mm256_broadcast_ss(x + j), x1 = _mm256_broadcast_ss(x + j + 1);
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w), x0, a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + 8), x0, a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + 16), x0, a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + 24), x0, a3);
    b0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + 32), x1, b0);
    b1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + 40), x1, b1);
    b2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + 48), x1, b2);
    b3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + 56), x1, b3);
  }
  if (j < n) {
    __m256 x0 = _mm256_broadcast_ss(x + j);
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w), x0, a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + 8), x0, a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + 16), x0, a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + 24), x0, a3);
  }
  acc[0] = _mm256_add_ps(a0, b0);
  acc[1] = _mm256_add_ps(a1, b1);
  acc[2] = _mm256_add_ps(a2, b2);
  acc[3] = _mm256_add_ps(a3, b3);
}

static void sweep3(__m256 *acc, const float *w, const float *x, int n) {
  __m256 a0 = acc[0], a1 = acc[1], a2 = acc[2];
  __m256 b0 = _mm256_setzero_ps(), b1 = b0, b2 = b0;
  int j;
  for (j = 0; j + 1 < n; j += 2, w += 48) {
    __m256 x0 = _mm256_broadcast_ss(x + j), x1 = _mm256_broadcast_ss(x + j + 1);
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w), x0, a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + 8), x0, a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + 16), x0, a2);
    b0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + 24), x1, b0);
    b1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + 32), x1, b1);
    b2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + 40), x1, b2);
  }
  if (j < n) {
    __m256 x0 = _mm256_broadcast_ss(x + j);
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w), x0, a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + 8), x0, a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + 16), x0, a2);
  }
  acc[0] = _mm256_add_ps(a0, b0);
  acc[1] = _mm256_add_ps(a1, b1);
  acc[2] = _mm256_add_ps(a2, b2);
}

/* The sweeps over compressed weights: LOAD widens 8 stored weights to floats. */
#define SWEEP4(NAME, T, LOAD)                                                                    \
  static void NAME(__m256 *acc, const T *w, const float *x, int n) {                             \
    __m256 a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];                                   \
    __m256 b0 = _mm256_setzero_ps(), b1 = b0, b2 = b0, b3 = b0;                                  \
    int j;                                                                                       \
    for (j = 0; j + 1 < n; j += 2, w += 64) {                                                    \
      __m256 x0 = _mm256_broadcast_ss(x + j), x1 = _mm256_broadcast_ss(x + j + 1);               \
      a0 = _mm256_fmadd_ps(LOAD(w), x0, a0);                                                     \
      a1 = _mm256_fmadd_ps(LOAD(w + 8), x0, a1);                                                 \
      a2 = _mm256_fmadd_ps(LOAD(w + 16), x0, a2);                                                \
      a3 = _mm256_fmadd_ps(LOAD(w + 24), x0, a3);                                                \
      b0 = _mm256_fmadd_ps(LOAD(w + 32), x1, b0);                                                \
      b1 = _mm256_fmadd_ps(LOAD(w + 40), x1, b1);                                                \
      b2 = _mm256_fmadd_ps(LOAD(w + 48), x1, b2);                                                \
      b3 = _mm256_fmadd_ps(LOAD(w + 56), x1, b3);                                                \
    }                                                                                            \
    if (j < n) {                                                                                 \
      __m256 x0 = _mm256_broadcast_ss(x + j);                                                    \
      a0 = _mm256_fmadd_ps(LOAD(w), x0, a0);                                                     \
      a1 = _mm256_fmadd_ps(LOAD(w + 8), x0, a1);                                                 \
      a2 = _mm256_fmadd_ps(LOAD(w + 16), x0, a2);                                                \
      a3 = _mm256_fmadd_ps(LOAD(w + 24), x0, a3);                                                \
    }                                                                                            \
    acc[0] = _mm256_add_ps(a0, b0);                                                              \
    acc[1] = _mm256_add_ps(a1, b1);                                                              \
    acc[2] = _mm256_add_ps(a2, b2);                                                              \
    acc[3] = _mm256_add_ps(a3, b3);                                                              \
  }
#define SWEEP3(NAME, T, LOAD)                                                                    \
  static void NAME(__m256 *acc, const T *w, const float *x, int n) {                             \
    __m256 a0 = acc[0], a1 = acc[1], a2 = acc[2];                                                \
    __m256 b0 = _mm256_setzero_ps(), b1 = b0, b2 = b0;                                           \
    int j;                                                                                       \
    for (j = 0; j + 1 < n; j += 2, w += 48) {                                                    \
      __m256 x0 = _mm256_broadcast_ss(x + j), x1 = _mm256_broadcast_ss(x + j + 1);               \
      a0 = _mm256_fmadd_ps(LOAD(w), x0, a0);                                                     \
      a1 = _mm256_fmadd_ps(LOAD(w + 8), x0, a1);                                                 \
      a2 = _mm256_fmadd_ps(LOAD(w + 16), x0, a2);                                                \
      b0 = _mm256_fmadd_ps(LOAD(w + 24), x1, b0);                                                \
      b1 = _mm256_fmadd_ps(LOAD(w + 32), x1, b1);                                                \
      b2 = _mm256_fmadd_ps(LOAD(w + 40), x1, b2);                                                \
    }                                                                                            \
    if (j < n) {                                                                                 \
      __m256 x0 = _mm256_broadcast_ss(x + j);                                                    \
      a0 = _mm256_fmadd_ps(LOAD(w), x0, a0);                                                     \
      a1 = _mm256_fmadd_ps(LOAD(w + 8), x0, a1);                                                 \
      a2 = _mm256_fmadd_ps(LOAD(w + 16), x0, a2);                                                \
    }                                                                                            \
    acc[0] = _mm256_add_ps(a0, b0);                                                              \
    acc[1] = _mm256_add_ps(a1, b1);                                                              \
    acc[2] = _mm256_add_ps(a2, b2);                                                              \
  }
SWEEP4(sweep4_i8, int8_t, reel_load_i8x8_avx2)
SWEEP3(sweep3_i8, int8_t, reel_load_i8x8_avx2)

/* bf16 columns in pairs of gate vectors (pair_bf16_vectors): lstm, [i f] and [g o] per
 * column; gru, 3 pairs per 2 columns (an odd last column: one pair and its n as it is). */
static void sweep4_bf16(__m256 *acc, const uint16_t *w, const float *x, int n) {
  __m256 a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  __m256 b0 = _mm256_setzero_ps(), b1 = b0, b2 = b0, b3 = b0;
  int j;
  for (j = 0; j + 1 < n; j += 2, w += 64) { /* two columns: 8 chains hide the FMA latency */
    __m256 x0 = _mm256_broadcast_ss(x + j), x1 = _mm256_broadcast_ss(x + j + 1);
    __m256i p0 = reel_load_bf16_pair_avx2(w), p1 = reel_load_bf16_pair_avx2(w + 16);
    __m256i p2 = reel_load_bf16_pair_avx2(w + 32), p3 = reel_load_bf16_pair_avx2(w + 48);
    a0 = _mm256_fmadd_ps(reel_bf16_first_avx2(p0), x0, a0);
    a1 = _mm256_fmadd_ps(reel_bf16_second_avx2(p0), x0, a1);
    a2 = _mm256_fmadd_ps(reel_bf16_first_avx2(p1), x0, a2);
    a3 = _mm256_fmadd_ps(reel_bf16_second_avx2(p1), x0, a3);
    b0 = _mm256_fmadd_ps(reel_bf16_first_avx2(p2), x1, b0);
    b1 = _mm256_fmadd_ps(reel_bf16_second_avx2(p2), x1, b1);
    b2 = _mm256_fmadd_ps(reel_bf16_first_avx2(p3), x1, b2);
    b3 = _mm256_fmadd_ps(reel_bf16_second_avx2(p3), x1, b3);
  }
  if (j < n) {
    __m256 x0 = _mm256_broadcast_ss(x + j);
    __m256i p0 = reel_load_bf16_pair_avx2(w), p1 = reel_load_bf16_pair_avx2(w + 16);
    a0 = _mm256_fmadd_ps(reel_bf16_first_avx2(p0), x0, a0);
    a1 = _mm256_fmadd_ps(reel_bf16_second_avx2(p0), x0, a1);
    a2 = _mm256_fmadd_ps(reel_bf16_first_avx2(p1), x0, a2);
    a3 = _mm256_fmadd_ps(reel_bf16_second_avx2(p1), x0, a3);
  }
  acc[0] = _mm256_add_ps(a0, b0);
  acc[1] = _mm256_add_ps(a1, b1);
  acc[2] = _mm256_add_ps(a2, b2);
  acc[3] = _mm256_add_ps(a3, b3);
}

static void sweep3_bf16(__m256 *acc, const uint16_t *w, const float *x, int n) {
  __m256 a0 = acc[0], a1 = acc[1], a2 = acc[2];
  __m256 b0 = _mm256_setzero_ps(), b1 = b0, b2 = b0;
  int j;
  for (j = 0; j + 1 < n; j += 2, w += 48) {
    __m256 x0 = _mm256_broadcast_ss(x + j), x1 = _mm256_broadcast_ss(x + j + 1);
    __m256i p0 = reel_load_bf16_pair_avx2(w), p1 = reel_load_bf16_pair_avx2(w + 16);
    __m256i p2 = reel_load_bf16_pair_avx2(w + 32);
    a0 = _mm256_fmadd_ps(reel_bf16_first_avx2(p0), x0, a0);
    a1 = _mm256_fmadd_ps(reel_bf16_second_avx2(p0), x0, a1);
    a2 = _mm256_fmadd_ps(reel_bf16_first_avx2(p1), x0, a2);
    b0 = _mm256_fmadd_ps(reel_bf16_second_avx2(p1), x1, b0);
    b1 = _mm256_fmadd_ps(reel_bf16_first_avx2(p2), x1, b1);
    b2 = _mm256_fmadd_ps(reel_bf16_second_avx2(p2), x1, b2);
  }
  if (j < n) {
    __m256 x0 = _mm256_broadcast_ss(x + j);
    __m256i p0 = reel_load_bf16_pair_avx2(w);
    a0 = _mm256_fmadd_ps(reel_bf16_first_avx2(p0), x0, a0);
    a1 = _mm256_fmadd_ps(reel_bf16_second_avx2(p0), x0, a1);
    a2 = _mm256_fmadd_ps(reel_load_bf16x8_avx2(w + 16), x0, a2);
  }
  acc[0] = _mm256_add_ps(a0, b0);
  acc[1] = _mm256_add_ps(a1, b1);
  acc[2] = _mm256_add_ps(a2, b2);
}

/* acc[g] = sum over one block's x columns (from element `at`) and, into hacc, over its h
 * columns, of compressed weights, times the rows' scales for int8 (from scale s). */
static void sweep_typed(const reel_weights *w, int gates, long at, const float *x, int nx,
                        const float *h, int hidden, __m256 *acc, __m256 *hacc, long s) {
  int g;
  for (g = 0; g < gates; g++)
    acc[g] = hacc[g] = _mm256_setzero_ps();
  if (w->type == REEL_W_I8) {
    const int8_t *q = (const int8_t *)w->w + at;
    (gates == 4 ? sweep4_i8 : sweep3_i8)(acc, q, x, nx);
    (gates == 4 ? sweep4_i8 : sweep3_i8)(hacc, q + 8L * gates * nx, h, hidden);
    for (g = 0; g < gates; g++) {
      acc[g] = _mm256_mul_ps(acc[g], _mm256_loadu_ps(w->scale + s + 8L * g));
      hacc[g] = _mm256_mul_ps(hacc[g], _mm256_loadu_ps(w->scale + s + 8L * (gates + g)));
    }
  } else {
    const uint16_t *p = (const uint16_t *)w->w + at;
    (gates == 4 ? sweep4_bf16 : sweep3_bf16)(acc, p, x, nx);
    (gates == 4 ? sweep4_bf16 : sweep3_bf16)(hacc, p + 8L * gates * nx, h, hidden);
  }
}

/* One LSTM step over any weights (acc: gates i f g o before the cell). */
static void lstm_step(float *h, float *c, float *scratch, const reel_weights *w, const float *b,
                      const float *x, int nx, int hidden, const float *wci, const float *wcf,
                      const float *wco, int reverse) {
  int blocks = (hidden + 7) / 8, k;
  for (k = 0; k < blocks; k++) {
    int u = 8 * (reverse ? blocks - 1 - k : k), n = hidden - u < 8 ? hidden - u : 8;
    long at = 4L * u * (nx + hidden);
    const float *bb = b + 4L * u;
    __m256 acc[4], hacc[4], cell, i, f, g, o;
    int t;
    if (w->type == REEL_W_F32) {
      for (t = 0; t < 4; t++)
        acc[t] = _mm256_loadu_ps(bb + 8L * t);
      sweep4(acc, (const float *)w->w + at, x, nx);
      sweep4(acc, (const float *)w->w + at + 32L * nx, h, hidden);
    } else {
      sweep_typed(w, 4, at, x, nx, h, hidden, acc, hacc, 8L * u);
      for (t = 0; t < 4; t++)
        acc[t] = _mm256_add_ps(_mm256_add_ps(acc[t], hacc[t]), _mm256_loadu_ps(bb + 8L * t));
    }
    cell = reel_load_part_avx2(c + u, n);
    i = acc[0];
    f = acc[1];
    g = reel_tanh_avx2(acc[2]);
    o = acc[3];
    if (wci) { /* peepholes: i, f see the old cell, o the new one */
      i = _mm256_fmadd_ps(reel_load_part_avx2(wci + u, n), cell, i);
      f = _mm256_fmadd_ps(reel_load_part_avx2(wcf + u, n), cell, f);
    }
    cell = _mm256_fmadd_ps(reel_sigmoid_avx2(f), cell, _mm256_mul_ps(reel_sigmoid_avx2(i), g));
    if (wco)
      o = _mm256_fmadd_ps(reel_load_part_avx2(wco + u, n), cell, o);
    reel_store_part_avx2(c + u, cell, n);
    reel_store_part_avx2(scratch + u, _mm256_mul_ps(reel_sigmoid_avx2(o), reel_tanh_avx2(cell)), n);
  }
  memcpy(h, scratch, (size_t)hidden * sizeof *h);
}

/* One GRU step over any weights. */
static void gru_step(float *h, float *scratch, const reel_weights *w, const float *b,
                     const float *x, int nx, int hidden, int reverse) {
  int blocks = (hidden + 7) / 8, k;
  for (k = 0; k < blocks; k++) {
    int u = 8 * (reverse ? blocks - 1 - k : k), n = hidden - u < 8 ? hidden - u : 8;
    long at = 3L * u * (nx + hidden);
    const float *bb = b + 4L * u;
    __m256 ax[3], ah[3], r, z, cand, hv;
    int t;
    if (w->type == REEL_W_F32) {
      for (t = 0; t < 3; t++) {
        ax[t] = _mm256_setzero_ps();
        ah[t] = _mm256_setzero_ps();
      }
      sweep3(ax, (const float *)w->w + at, x, nx);
      sweep3(ah, (const float *)w->w + at + 24L * nx, h, hidden);
    } else {
      sweep_typed(w, 3, at, x, nx, h, hidden, ax, ah, 6L * u);
    }
    r = reel_sigmoid_avx2(_mm256_add_ps(_mm256_add_ps(ax[0], ah[0]), _mm256_loadu_ps(bb)));
    z = reel_sigmoid_avx2(_mm256_add_ps(_mm256_add_ps(ax[1], ah[1]), _mm256_loadu_ps(bb + 8)));
    cand = _mm256_add_ps(ax[2], _mm256_loadu_ps(bb + 16));
    cand = reel_tanh_avx2(_mm256_fmadd_ps(r, _mm256_add_ps(ah[2], _mm256_loadu_ps(bb + 24)), cand));
    hv = reel_load_part_avx2(h + u, n);
    /* (1 - z) n + z h = n + z (h - n) */
    reel_store_part_avx2(scratch + u, _mm256_fmadd_ps(z, _mm256_sub_ps(hv, cand), cand), n);
  }
  memcpy(h, scratch, (size_t)hidden * sizeof *h);
}

void reel_lstm_step_avx2(float *h, float *c, float *scratch, const float *w, const float *b,
                         const float *x, int nx, int hidden, const float *wci, const float *wcf,
                         const float *wco, int reverse) {
  reel_weights wt = {w, NULL, REEL_W_F32};
  lstm_step(h, c, scratch, &wt, b, x, nx, hidden, wci, wcf, wco, reverse);
}

void reel_lstm_step_bf16_avx2(float *h, float *c, float *scratch, const uint16_t *w,
                              const float *b, const float *x, int nx, int hidden,
                              const float *wci, const float *wcf, const float *wco, int reverse) {
  reel_weights wt = {w, NULL, REEL_W_BF16};
  lstm_step(h, c, scratch, &wt, b, x, nx, hidden, wci, wcf, wco, reverse);
}

void reel_lstm_step_i8_avx2(float *h, float *c, float *scratch, const int8_t *w,
                            const float *w_scale, const float *b, const float *x, int nx,
                            int hidden, const float *wci, const float *wcf, const float *wco,
                            int reverse) {
  reel_weights wt = {w, w_scale, REEL_W_I8};
  lstm_step(h, c, scratch, &wt, b, x, nx, hidden, wci, wcf, wco, reverse);
}

void reel_gru_step_avx2(float *h, float *scratch, const float *w, const float *b, const float *x,
                        int nx, int hidden, int reverse) {
  reel_weights wt = {w, NULL, REEL_W_F32};
  gru_step(h, scratch, &wt, b, x, nx, hidden, reverse);
}

void reel_gru_step_bf16_avx2(float *h, float *scratch, const uint16_t *w, const float *b,
                             const float *x, int nx, int hidden, int reverse) {
  reel_weights wt = {w, NULL, REEL_W_BF16};
  gru_step(h, scratch, &wt, b, x, nx, hidden, reverse);
}

void reel_gru_step_i8_avx2(float *h, float *scratch, const int8_t *w, const float *w_scale,
                           const float *b, const float *x, int nx, int hidden, int reverse) {
  reel_weights wt = {w, w_scale, REEL_W_I8};
  gru_step(h, scratch, &wt, b, x, nx, hidden, reverse);
}

void reel_lstm_cell_avx2(float *h, float *c, const float *gates, int n) {
  int k;
  for (k = 0; k < n; k += 8) {
    int m = n - k < 8 ? n - k : 8;
    __m256 i = reel_sigmoid_avx2(reel_load_part_avx2(gates + k, m));
    __m256 f = reel_sigmoid_avx2(reel_load_part_avx2(gates + n + k, m));
    __m256 g = reel_tanh_avx2(reel_load_part_avx2(gates + 2L * n + k, m));
    __m256 o = reel_sigmoid_avx2(reel_load_part_avx2(gates + 3L * n + k, m));
    __m256 cell = _mm256_fmadd_ps(f, reel_load_part_avx2(c + k, m), _mm256_mul_ps(i, g));
    reel_store_part_avx2(c + k, cell, m);
    reel_store_part_avx2(h + k, _mm256_mul_ps(o, reel_tanh_avx2(cell)), m);
  }
}

void reel_lstm_peephole_cell_avx2(float *h, float *c, const float *gates, const float *wci,
                                  const float *wcf, const float *wco, int n) {
  int k;
  for (k = 0; k < n; k += 8) {
    int m = n - k < 8 ? n - k : 8;
    __m256 old = reel_load_part_avx2(c + k, m);
    __m256 i = reel_sigmoid_avx2(
        _mm256_fmadd_ps(reel_load_part_avx2(wci + k, m), old, reel_load_part_avx2(gates + k, m)));
    __m256 f = reel_sigmoid_avx2(_mm256_fmadd_ps(reel_load_part_avx2(wcf + k, m), old,
                                                 reel_load_part_avx2(gates + n + k, m)));
    __m256 g = reel_tanh_avx2(reel_load_part_avx2(gates + 2L * n + k, m));
    __m256 cell = _mm256_fmadd_ps(f, old, _mm256_mul_ps(i, g));
    __m256 o = reel_sigmoid_avx2(_mm256_fmadd_ps(reel_load_part_avx2(wco + k, m), cell,
                                                 reel_load_part_avx2(gates + 3L * n + k, m)));
    reel_store_part_avx2(c + k, cell, m);
    reel_store_part_avx2(h + k, _mm256_mul_ps(o, reel_tanh_avx2(cell)), m);
  }
}

void reel_convgru_reset_avx2(float *rh, const float *gates, const float *h, int n) {
  int k;
  for (k = 0; k < n; k += 8) {
    int m = n - k < 8 ? n - k : 8;
    reel_store_part_avx2(rh + k,
                         _mm256_mul_ps(reel_sigmoid_avx2(reel_load_part_avx2(gates + k, m)),
                                       reel_load_part_avx2(h + k, m)),
                         m);
  }
}

void reel_convgru_update_avx2(float *h, const float *gates, const float *cand, int n) {
  int k;
  for (k = 0; k < n; k += 8) {
    int m = n - k < 8 ? n - k : 8;
    __m256 z = reel_sigmoid_avx2(reel_load_part_avx2(gates + n + k, m));
    __m256 nv = reel_tanh_avx2(reel_load_part_avx2(cand + k, m)),
           hv = reel_load_part_avx2(h + k, m);
    /* (1 - z) h + z n, not h + z (n - h): an infinite h stays infinite */
    __m256 keep = _mm256_mul_ps(_mm256_sub_ps(_mm256_set1_ps(1.0f), z), hv);
    reel_store_part_avx2(h + k, _mm256_fmadd_ps(z, nv, keep), m);
  }
}
