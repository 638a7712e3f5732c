/* AVX2 dense recurrent steps: a whole LSTM or GRU step in one pass over the
 * weights, the gate matmul over [x; h] with the gate math as its epilogue,
 * for one stream (reel_lstm_step_avx2) or for n streams at once
 * (reel_lstm_step_many_avx2), which read each weight once for all of them.
 *
 * Weights are packed per block of 8 hidden units (zero units pad the last
 * block) so one sweep over the columns yields all gates of those 8 units:
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
 * Many streams: a block's column is loaded once and used by three streams
 * (two where three would leave a stream alone: 4 = 2 + 2), so each weight
 * vector feeds three FMAs (12 independent chains for the LSTM's 4 gates x 3
 * streams, 9 for the GRU's), and the block's weights, 128 KiB for a 512-unit
 * LSTM, are read from L2 once per three streams rather than from memory once
 * per stream (measured on lstm512: 45 GFLOP/s for one stream, 91 for 16;
 * pairs alone reached 70).  A lone stream takes the single-stream sweeps.
 * A tile sums each gate in one chain where one stream sums its even and odd
 * columns apart, so the paths agree to the rounding of a float sum of
 * nx + hidden terms, not bit for bit; tiles of two and three agree exactly.
 *
 * Compressed weights (bf16, int8) keep this layout with 2- or 1-byte
 * elements, widened as they are loaded (bf16 gate vectors stored in pairs,
 * widened by a shift and a mask: see reel_gemv_avx2.c); the sweeps sum apart,
 * for int8 each times its rows' scales (per block: the ih rows' [gates][8],
 * then the hh rows'). */
#include <immintrin.h>
#include <string.h>

#include "reel_runtime.h"
#include "reel_vmath_avx2.h"

/* acc[g] += sum_j w[j][g] x[j] over the 4 (LSTM) or 3 (GRU) gate vectors of
 * 8 units.  Written out gate by gate with two columns per iteration in two
 * accumulator sets, so the accumulators stay in registers (a loop over the
 * gates kept them in memory: a store-to-load round trip on every FMA) and 8
 * or 6 independent FMA chains hide the FMA latency.  LOAD reads 8 weights as
 * floats: a plain load, or the widening of compressed ones. */
#define SWEEP4(NAME, T, LOAD)                                                                     \
  static void NAME(__m256 *acc, const T *w, const float *x, int n) {                              \
    __m256 a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];                                    \
    __m256 b0 = _mm256_setzero_ps(), b1 = b0, b2 = b0, b3 = b0;                                   \
    int j;                                                                                        \
    for (j = 0; j + 1 < n; j += 2, w += 64) {                                                     \
      __m256 x0 = _mm256_broadcast_ss(x + j), x1 = _mm256_broadcast_ss(x + j + 1);                \
      a0 = _mm256_fmadd_ps(LOAD(w), x0, a0);                                                      \
      a1 = _mm256_fmadd_ps(LOAD(w + 8), x0, a1);                                                  \
      a2 = _mm256_fmadd_ps(LOAD(w + 16), x0, a2);                                                 \
      a3 = _mm256_fmadd_ps(LOAD(w + 24), x0, a3);                                                 \
      b0 = _mm256_fmadd_ps(LOAD(w + 32), x1, b0);                                                 \
      b1 = _mm256_fmadd_ps(LOAD(w + 40), x1, b1);                                                 \
      b2 = _mm256_fmadd_ps(LOAD(w + 48), x1, b2);                                                 \
      b3 = _mm256_fmadd_ps(LOAD(w + 56), x1, b3);                                                 \
    }                                                                                             \
    if (j < n) {                                                                                  \
      __m256 x0 = _mm256_broadcast_ss(x + j);                                                     \
      a0 = _mm256_fmadd_ps(LOAD(w), x0, a0);                                                      \
      a1 = _mm256_fmadd_ps(LOAD(w + 8), x0, a1);                                                  \
      a2 = _mm256_fmadd_ps(LOAD(w + 16), x0, a2);                                                 \
      a3 = _mm256_fmadd_ps(LOAD(w + 24), x0, a3);                                                 \
    }                                                                                             \
    acc[0] = _mm256_add_ps(a0, b0);                                                               \
    acc[1] = _mm256_add_ps(a1, b1);                                                               \
    acc[2] = _mm256_add_ps(a2, b2);                                                               \
    acc[3] = _mm256_add_ps(a3, b3);                                                               \
  }
#define SWEEP3(NAME, T, LOAD)                                                                     \
  static void NAME(__m256 *acc, const T *w, const float *x, int n) {                              \
    __m256 a0 = acc[0], a1 = acc[1], a2 = acc[2];                                                 \
    __m256 b0 = _mm256_setzero_ps(), b1 = b0, b2 = b0;                                            \
    int j;                                                                                        \
    for (j = 0; j + 1 < n; j += 2, w += 48) {                                                     \
      __m256 x0 = _mm256_broadcast_ss(x + j), x1 = _mm256_broadcast_ss(x + j + 1);                \
      a0 = _mm256_fmadd_ps(LOAD(w), x0, a0);                                                      \
      a1 = _mm256_fmadd_ps(LOAD(w + 8), x0, a1);                                                  \
      a2 = _mm256_fmadd_ps(LOAD(w + 16), x0, a2);                                                 \
      b0 = _mm256_fmadd_ps(LOAD(w + 24), x1, b0);                                                 \
      b1 = _mm256_fmadd_ps(LOAD(w + 32), x1, b1);                                                 \
      b2 = _mm256_fmadd_ps(LOAD(w + 40), x1, b2);                                                 \
    }                                                                                             \
    if (j < n) {                                                                                  \
      __m256 x0 = _mm256_broadcast_ss(x + j);                                                     \
      a0 = _mm256_fmadd_ps(LOAD(w), x0, a0);                                                      \
      a1 = _mm256_fmadd_ps(LOAD(w + 8), x0, a1);                                                  \
      a2 = _mm256_fmadd_ps(LOAD(w + 16), x0, a2);                                                 \
    }                                                                                             \
    acc[0] = _mm256_add_ps(a0, b0);                                                               \
    acc[1] = _mm256_add_ps(a1, b1);                                                               \
    acc[2] = _mm256_add_ps(a2, b2);                                                               \
  }
SWEEP4(sweep4, float, _mm256_loadu_ps)
SWEEP3(sweep3, float, _mm256_loadu_ps)
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

/* ---- two streams at once: each weight vector loaded once, used twice ---- */

/* The 4 (LSTM) gate vectors of the column at w, widened to floats. */
#define LOAD4_F32(w, v0, v1, v2, v3)                                                              \
  ((v0) = _mm256_loadu_ps(w), (v1) = _mm256_loadu_ps((w) + 8), (v2) = _mm256_loadu_ps((w) + 16),  \
   (v3) = _mm256_loadu_ps((w) + 24))
#define LOAD4_I8(w, v0, v1, v2, v3)                                                               \
  ((v0) = reel_load_i8x8_avx2(w), (v1) = reel_load_i8x8_avx2((w) + 8),                            \
   (v2) = reel_load_i8x8_avx2((w) + 16), (v3) = reel_load_i8x8_avx2((w) + 24))
#define LOAD4_BF16(w, v0, v1, v2, v3)                                                             \
  do {                                                                                            \
    __m256i p0_ = reel_load_bf16_pair_avx2(w), p1_ = reel_load_bf16_pair_avx2((w) + 16);          \
    (v0) = reel_bf16_first_avx2(p0_), (v1) = reel_bf16_second_avx2(p0_);                          \
    (v2) = reel_bf16_first_avx2(p1_), (v3) = reel_bf16_second_avx2(p1_);                          \
  } while (0)

/* a[g] += sum_j w_j[g] x0[j] and b[g] += sum_j w_j[g] x1[j] over the LSTM's 4 gate vectors:
 * 8 chains, 6 loads per 8 FMAs. */
#define PAIR_SWEEP4(NAME, T, LOAD4)                                                               \
  static void NAME(__m256 *acc0, __m256 *acc1, const T *w, const float *x0, const float *x1,      \
                   int n) {                                                                       \
    __m256 a0 = acc0[0], a1 = acc0[1], a2 = acc0[2], a3 = acc0[3];                                \
    __m256 b0 = acc1[0], b1 = acc1[1], b2 = acc1[2], b3 = acc1[3];                                \
    int j;                                                                                        \
    for (j = 0; j < n; j++, w += 32) {                                                            \
      __m256 w0, w1, w2, w3, y0 = _mm256_broadcast_ss(x0 + j), y1 = _mm256_broadcast_ss(x1 + j);  \
      LOAD4(w, w0, w1, w2, w3);                                                                   \
      a0 = _mm256_fmadd_ps(w0, y0, a0);                                                           \
      b0 = _mm256_fmadd_ps(w0, y1, b0);                                                           \
      a1 = _mm256_fmadd_ps(w1, y0, a1);                                                           \
      b1 = _mm256_fmadd_ps(w1, y1, b1);                                                           \
      a2 = _mm256_fmadd_ps(w2, y0, a2);                                                           \
      b2 = _mm256_fmadd_ps(w2, y1, b2);                                                           \
      a3 = _mm256_fmadd_ps(w3, y0, a3);                                                           \
      b3 = _mm256_fmadd_ps(w3, y1, b3);                                                           \
    }                                                                                             \
    acc0[0] = a0, acc0[1] = a1, acc0[2] = a2, acc0[3] = a3;                                       \
    acc1[0] = b0, acc1[1] = b1, acc1[2] = b2, acc1[3] = b3;                                       \
  }
PAIR_SWEEP4(pair_sweep4_f32, float, LOAD4_F32)
PAIR_SWEEP4(pair_sweep4_i8, int8_t, LOAD4_I8)
PAIR_SWEEP4(pair_sweep4_bf16, uint16_t, LOAD4_BF16)

/* The GRU's [r z n] vectors of two columns (v0-v2, then v3-v5), and of one. */
#define LOAD6_F32(w, v0, v1, v2, v3, v4, v5)                                                      \
  (LOAD4_F32(w, v0, v1, v2, v3), (v4) = _mm256_loadu_ps((w) + 32), (v5) = _mm256_loadu_ps((w) + 40))
#define LOAD6_I8(w, v0, v1, v2, v3, v4, v5)                                                       \
  (LOAD4_I8(w, v0, v1, v2, v3), (v4) = reel_load_i8x8_avx2((w) + 32),                             \
   (v5) = reel_load_i8x8_avx2((w) + 40))
#define LOAD6_BF16(w, v0, v1, v2, v3, v4, v5)                                                     \
  do {                                                                                            \
    __m256i p2_ = reel_load_bf16_pair_avx2((w) + 32);                                             \
    LOAD4_BF16(w, v0, v1, v2, v3);                                                                \
    (v4) = reel_bf16_first_avx2(p2_), (v5) = reel_bf16_second_avx2(p2_);                          \
  } while (0)
#define LOAD3_F32(w, v0, v1, v2)                                                                  \
  ((v0) = _mm256_loadu_ps(w), (v1) = _mm256_loadu_ps((w) + 8), (v2) = _mm256_loadu_ps((w) + 16))
#define LOAD3_I8(w, v0, v1, v2)                                                                   \
  ((v0) = reel_load_i8x8_avx2(w), (v1) = reel_load_i8x8_avx2((w) + 8),                            \
   (v2) = reel_load_i8x8_avx2((w) + 16))
#define LOAD3_BF16(w, v0, v1, v2)                                                                 \
  do {                                                                                            \
    __m256i p0_ = reel_load_bf16_pair_avx2(w);                                                    \
    (v0) = reel_bf16_first_avx2(p0_), (v1) = reel_bf16_second_avx2(p0_);                          \
    (v2) = reel_load_bf16x8_avx2((w) + 16);                                                       \
  } while (0)

#define GRU_FMA3(w0, w1, w2, y0, y1)                                                              \
  (a0 = _mm256_fmadd_ps((w0), (y0), a0), b0 = _mm256_fmadd_ps((w0), (y1), b0),                    \
   a1 = _mm256_fmadd_ps((w1), (y0), a1), b1 = _mm256_fmadd_ps((w1), (y1), b1),                    \
   a2 = _mm256_fmadd_ps((w2), (y0), a2), b2 = _mm256_fmadd_ps((w2), (y1), b2))

/* The same over the GRU's 3 gate vectors, two columns per iteration (bf16 pairs span them). */
#define PAIR_SWEEP3(NAME, T, LOAD6, LOAD3)                                                        \
  static void NAME(__m256 *acc0, __m256 *acc1, const T *w, const float *x0, const float *x1,      \
                   int n) {                                                                       \
    __m256 a0 = acc0[0], a1 = acc0[1], a2 = acc0[2];                                              \
    __m256 b0 = acc1[0], b1 = acc1[1], b2 = acc1[2], w0, w1, w2;                                  \
    int j;                                                                                        \
    for (j = 0; j + 1 < n; j += 2, w += 48) {                                                     \
      __m256 w3, w4, w5;                                                                          \
      LOAD6(w, w0, w1, w2, w3, w4, w5);                                                           \
      GRU_FMA3(w0, w1, w2, _mm256_broadcast_ss(x0 + j), _mm256_broadcast_ss(x1 + j));             \
      GRU_FMA3(w3, w4, w5, _mm256_broadcast_ss(x0 + j + 1), _mm256_broadcast_ss(x1 + j + 1));     \
    }                                                                                             \
    if (j < n) {                                                                                  \
      LOAD3(w, w0, w1, w2);                                                                       \
      GRU_FMA3(w0, w1, w2, _mm256_broadcast_ss(x0 + j), _mm256_broadcast_ss(x1 + j));             \
    }                                                                                             \
    acc0[0] = a0, acc0[1] = a1, acc0[2] = a2;                                                     \
    acc1[0] = b0, acc1[1] = b1, acc1[2] = b2;                                                     \
  }
PAIR_SWEEP3(pair_sweep3_f32, float, LOAD6_F32, LOAD3_F32)
PAIR_SWEEP3(pair_sweep3_i8, int8_t, LOAD6_I8, LOAD3_I8)
PAIR_SWEEP3(pair_sweep3_bf16, uint16_t, LOAD6_BF16, LOAD3_BF16)

/* Three streams: each weight vector loaded once feeds three FMAs, 12 chains for the LSTM
 * (4 gates x 3 streams: with one weight and three broadcast registers, all 16 ymm) and 9 for
 * the GRU.  Two columns per iteration (bf16 pairs span them in the GRU's layout); LOADV(w, i)
 * is vector i of the two columns at w, LOADT(w, i) vector i of a lone last column.  Each gate
 * of each stream sums in one chain, as in the two-stream sweeps, so the results are theirs. */
#define LOADV_F32(w, i) _mm256_loadu_ps((w) + 8L * (i))
#define LOADV_I8(w, i) reel_load_i8x8_avx2((w) + 8L * (i))
#define LOADV_BF16(w, i)                                                                          \
  ((i) & 1 ? reel_bf16_second_avx2(reel_load_bf16_pair_avx2((w) + 16L * ((i) >> 1)))              \
           : reel_bf16_first_avx2(reel_load_bf16_pair_avx2((w) + 16L * ((i) >> 1))))
#define LOADT3_BF16(w, i) ((i) < 2 ? LOADV_BF16(w, i) : reel_load_bf16x8_avx2((w) + 16))
#define TRIPLE_FMA(v, k)                                                                          \
  do {                                                                                            \
    __m256 v_ = (v);                                                                              \
    a##k = _mm256_fmadd_ps(v_, y0, a##k);                                                         \
    b##k = _mm256_fmadd_ps(v_, y1, b##k);                                                         \
    c##k = _mm256_fmadd_ps(v_, y2, c##k);                                                         \
  } while (0)
#define TRIPLE_BROADCAST(j)                                                                       \
  (y0 = _mm256_broadcast_ss(x0 + (j)), y1 = _mm256_broadcast_ss(x1 + (j)),                        \
   y2 = _mm256_broadcast_ss(x2 + (j)))
#define TRIPLE_SWEEP4(NAME, T, LOADV, LOADT)                                                      \
  static void NAME(__m256 acc[3][4], const T *w, const float *x0, const float *x1,                \
                   const float *x2, int n) {                                                      \
    __m256 a0 = acc[0][0], a1 = acc[0][1], a2 = acc[0][2], a3 = acc[0][3];                        \
    __m256 b0 = acc[1][0], b1 = acc[1][1], b2 = acc[1][2], b3 = acc[1][3];                        \
    __m256 c0 = acc[2][0], c1 = acc[2][1], c2 = acc[2][2], c3 = acc[2][3], y0, y1, y2;            \
    int j;                                                                                        \
    for (j = 0; j + 1 < n; j += 2, w += 64) {                                                     \
      TRIPLE_BROADCAST(j);                                                                        \
      TRIPLE_FMA(LOADV(w, 0), 0);                                                                 \
      TRIPLE_FMA(LOADV(w, 1), 1);                                                                 \
      TRIPLE_FMA(LOADV(w, 2), 2);                                                                 \
      TRIPLE_FMA(LOADV(w, 3), 3);                                                                 \
      TRIPLE_BROADCAST(j + 1);                                                                    \
      TRIPLE_FMA(LOADV(w, 4), 0);                                                                 \
      TRIPLE_FMA(LOADV(w, 5), 1);                                                                 \
      TRIPLE_FMA(LOADV(w, 6), 2);                                                                 \
      TRIPLE_FMA(LOADV(w, 7), 3);                                                                 \
    }                                                                                             \
    if (j < n) {                                                                                  \
      TRIPLE_BROADCAST(j);                                                                        \
      TRIPLE_FMA(LOADT(w, 0), 0);                                                                 \
      TRIPLE_FMA(LOADT(w, 1), 1);                                                                 \
      TRIPLE_FMA(LOADT(w, 2), 2);                                                                 \
      TRIPLE_FMA(LOADT(w, 3), 3);                                                                 \
    }                                                                                             \
    acc[0][0] = a0, acc[0][1] = a1, acc[0][2] = a2, acc[0][3] = a3;                               \
    acc[1][0] = b0, acc[1][1] = b1, acc[1][2] = b2, acc[1][3] = b3;                               \
    acc[2][0] = c0, acc[2][1] = c1, acc[2][2] = c2, acc[2][3] = c3;                               \
  }
TRIPLE_SWEEP4(triple_sweep4_f32, float, LOADV_F32, LOADV_F32)
TRIPLE_SWEEP4(triple_sweep4_i8, int8_t, LOADV_I8, LOADV_I8)
TRIPLE_SWEEP4(triple_sweep4_bf16, uint16_t, LOADV_BF16, LOADV_BF16)

#define TRIPLE_SWEEP3(NAME, T, LOADV, LOADT)                                                      \
  static void NAME(__m256 acc[3][4], const T *w, const float *x0, const float *x1,                \
                   const float *x2, int n) {                                                      \
    __m256 a0 = acc[0][0], a1 = acc[0][1], a2 = acc[0][2];                                        \
    __m256 b0 = acc[1][0], b1 = acc[1][1], b2 = acc[1][2];                                        \
    __m256 c0 = acc[2][0], c1 = acc[2][1], c2 = acc[2][2], y0, y1, y2;                            \
    int j;                                                                                        \
    for (j = 0; j + 1 < n; j += 2, w += 48) {                                                     \
      TRIPLE_BROADCAST(j);                                                                        \
      TRIPLE_FMA(LOADV(w, 0), 0);                                                                 \
      TRIPLE_FMA(LOADV(w, 1), 1);                                                                 \
      TRIPLE_FMA(LOADV(w, 2), 2);                                                                 \
      TRIPLE_BROADCAST(j + 1);                                                                    \
      TRIPLE_FMA(LOADV(w, 3), 0);                                                                 \
      TRIPLE_FMA(LOADV(w, 4), 1);                                                                 \
      TRIPLE_FMA(LOADV(w, 5), 2);                                                                 \
    }                                                                                             \
    if (j < n) {                                                                                  \
      TRIPLE_BROADCAST(j);                                                                        \
      TRIPLE_FMA(LOADT(w, 0), 0);                                                                 \
      TRIPLE_FMA(LOADT(w, 1), 1);                                                                 \
      TRIPLE_FMA(LOADT(w, 2), 2);                                                                 \
    }                                                                                             \
    acc[0][0] = a0, acc[0][1] = a1, acc[0][2] = a2;                                               \
    acc[1][0] = b0, acc[1][1] = b1, acc[1][2] = b2;                                               \
    acc[2][0] = c0, acc[2][1] = c1, acc[2][2] = c2;                                               \
  }
TRIPLE_SWEEP3(triple_sweep3_f32, float, LOADV_F32, LOADV_F32)
TRIPLE_SWEEP3(triple_sweep3_i8, int8_t, LOADV_I8, LOADV_I8)
TRIPLE_SWEEP3(triple_sweep3_bf16, uint16_t, LOADV_BF16, LOADT3_BF16)

/* Streams x[0..t) (t = 2 or 3) over columns of `gates` vectors from w: acc[k] += W x[k]. */
#define TILE_SWEEP(T, SUFFIX)                                                                     \
  static void tile_sweep_##SUFFIX(__m256 acc[3][4], int t, int gates, const T *w,                 \
                                  const float *const x[], int n) {                                \
    if (t == 3)                                                                                   \
      (gates == 4 ? triple_sweep4_##SUFFIX : triple_sweep3_##SUFFIX)(acc, w, x[0], x[1], x[2], n); \
    else                                                                                          \
      (gates == 4 ? pair_sweep4_##SUFFIX : pair_sweep3_##SUFFIX)(acc[0], acc[1], w, x[0], x[1],   \
                                                                 n);                              \
  }
TILE_SWEEP(float, f32)
TILE_SWEEP(int8_t, i8)
TILE_SWEEP(uint16_t, bf16)

/* t = 2 or 3 streams' x (from element `at`) and h columns of one block into acc (x) and hacc
 * (h), each from zero; for int8, each times its rows' scales (from scale s). */
static void tile_typed(const reel_weights *w, int gates, long at, int t, const float *const x[],
                       int nx, const float *const h[], int hidden, __m256 acc[3][4],
                       __m256 hacc[3][4], long s) {
  int g, k;
  for (k = 0; k < t; k++)
    for (g = 0; g < gates; g++)
      acc[k][g] = hacc[k][g] = _mm256_setzero_ps();
  if (w->type == REEL_W_I8) {
    const int8_t *q = (const int8_t *)w->w + at;
    tile_sweep_i8(acc, t, gates, q, x, nx);
    tile_sweep_i8(hacc, t, gates, q + 8L * gates * nx, h, hidden);
    for (k = 0; k < t; k++)
      for (g = 0; g < gates; g++) {
        acc[k][g] = _mm256_mul_ps(acc[k][g], _mm256_loadu_ps(w->scale + s + 8L * g));
        hacc[k][g] = _mm256_mul_ps(hacc[k][g], _mm256_loadu_ps(w->scale + s + 8L * (gates + g)));
      }
  } else {
    const uint16_t *p = (const uint16_t *)w->w + at;
    tile_sweep_bf16(acc, t, gates, p, x, nx);
    tile_sweep_bf16(hacc, t, gates, p + 8L * gates * nx, h, hidden);
  }
}

/* ---- the steps, over any weights and any number of streams ---- */

/* How many of `left` streams the next pass over a block's weights takes: three where it can,
 * two to leave no single stream behind (4 = 2 + 2), one only when one is all there is. */
static int tile_of(int left) { return left == 4 || left == 2 ? 2 : left >= 3 ? 3 : 1; }

/* The pre-activations (i f g o) of block u (weights from `at`, bias bb) for streams k < t
 * (t is 1, 2 or 3) of x[], h[]. */
static void lstm_gates(__m256 acc[3][4], int t, const reel_weights *w, long at, const float *bb,
                       const float *const x[], int nx, const float *const h[], int hidden,
                       int u) {
  __m256 hacc[3][4];
  int k, g;
  if (w->type == REEL_W_F32) {
    const float *f = (const float *)w->w + at;
    for (k = 0; k < t; k++)
      for (g = 0; g < 4; g++)
        acc[k][g] = _mm256_loadu_ps(bb + 8L * g);
    if (t > 1) {
      tile_sweep_f32(acc, t, 4, f, x, nx);
      tile_sweep_f32(acc, t, 4, f + 32L * nx, h, hidden);
    } else {
      sweep4(acc[0], f, x[0], nx);
      sweep4(acc[0], f + 32L * nx, h[0], hidden);
    }
    return;
  }
  if (t > 1)
    tile_typed(w, 4, at, t, x, nx, h, hidden, acc, hacc, 8L * u);
  else
    sweep_typed(w, 4, at, x[0], nx, h[0], hidden, acc[0], hacc[0], 8L * u);
  for (k = 0; k < t; k++)
    for (g = 0; g < 4; g++)
      acc[k][g] = _mm256_add_ps(_mm256_add_ps(acc[k][g], hacc[k][g]), _mm256_loadu_ps(bb + 8L * g));
}

/* The LSTM cell on m <= 8 units from u: c updated, the new h to hn. */
static void lstm_out(const __m256 *acc, float *c, float *hn, int u, int m, const float *wci,
                     const float *wcf, const float *wco) {
  __m256 cell = reel_load_part_avx2(c + u, m), i = acc[0], f = acc[1], o = acc[3];
  __m256 g = reel_tanh_avx2(acc[2]);
  if (wci) { /* peepholes: i, f see the old cell, o the new one */
    i = _mm256_fmadd_ps(reel_load_part_avx2(wci + u, m), cell, i);
    f = _mm256_fmadd_ps(reel_load_part_avx2(wcf + u, m), cell, f);
  }
  cell = _mm256_fmadd_ps(reel_sigmoid_avx2(f), cell, _mm256_mul_ps(reel_sigmoid_avx2(i), g));
  if (wco)
    o = _mm256_fmadd_ps(reel_load_part_avx2(wco + u, m), cell, o);
  reel_store_part_avx2(c + u, cell, m);
  reel_store_part_avx2(hn + u, _mm256_mul_ps(reel_sigmoid_avx2(o), reel_tanh_avx2(cell)), m);
}

/* One stream sums GATE_GROUP blocks' gates before it computes their cells, so the
 * cells' sigmoid and tanh chains, independent from block to block, overlap in the
 * out-of-order core instead of each waiting behind the next block's sweep: what bounds
 * a small cell's step (lstm32: 0.44 -> 0.35 us).  Many streams interleave already. */
enum { GATE_GROUP = 4 };

/* Block k of `blocks` in the step's order: the unit it starts at. */
static int block_unit(int k, int blocks, int reverse) {
  return 8 * (reverse ? blocks - 1 - k : k);
}

static void lstm_step(int n, float *const h[], float *const c[], float *const scratch[],
                      const reel_weights *w, const float *b, const float *const x[], int nx,
                      int hidden, const float *wci, const float *wcf, const float *wco,
                      int reverse) {
  int blocks = (hidden + 7) / 8, k, s, t, i;
  if (n == 1) {
    __m256 acc[GATE_GROUP][4];
    for (k = 0; k < blocks; k += GATE_GROUP) {
      int nb = blocks - k < GATE_GROUP ? blocks - k : GATE_GROUP;
      for (i = 0; i < nb; i++) {
        int u = block_unit(k + i, blocks, reverse);
        lstm_gates(&acc[i], 1, w, 4L * u * (nx + hidden), b + 4L * u, x, nx,
                   (const float *const *)h, hidden, u);
      }
      for (i = 0; i < nb; i++) {
        int u = block_unit(k + i, blocks, reverse), m = hidden - u < 8 ? hidden - u : 8;
        lstm_out(acc[i], c[0], scratch[0], u, m, wci, wcf, wco);
      }
    }
    memcpy(h[0], scratch[0], (size_t)hidden * sizeof *h[0]);
    return;
  }
  for (k = 0; k < blocks; k++) {
    int u = block_unit(k, blocks, reverse), m = hidden - u < 8 ? hidden - u : 8;
    long at = 4L * u * (nx + hidden);
    for (s = 0; s < n; s += t) {
      __m256 acc[3][4];
      t = tile_of(n - s);
      lstm_gates(acc, t, w, at, b + 4L * u, x + s, nx, (const float *const *)h + s, hidden, u);
      for (i = 0; i < t; i++)
        lstm_out(acc[i], c[s + i], scratch[s + i], u, m, wci, wcf, wco);
    }
  }
  for (s = 0; s < n; s++)
    memcpy(h[s], scratch[s], (size_t)hidden * sizeof *h[s]);
}

/* The x and h sums (r z n) of block u for streams k < t (1, 2 or 3). */
static void gru_gates(__m256 ax[3][4], __m256 ah[3][4], int t, const reel_weights *w, long at,
                      const float *const x[], int nx, const float *const h[], int hidden, int u) {
  int k, g;
  if (w->type != REEL_W_F32) {
    if (t > 1)
      tile_typed(w, 3, at, t, x, nx, h, hidden, ax, ah, 6L * u);
    else
      sweep_typed(w, 3, at, x[0], nx, h[0], hidden, ax[0], ah[0], 6L * u);
    return;
  }
  for (k = 0; k < t; k++)
    for (g = 0; g < 3; g++)
      ax[k][g] = ah[k][g] = _mm256_setzero_ps();
  if (t > 1) {
    tile_sweep_f32(ax, t, 3, (const float *)w->w + at, x, nx);
    tile_sweep_f32(ah, t, 3, (const float *)w->w + at + 24L * nx, h, hidden);
  } else {
    sweep3(ax[0], (const float *)w->w + at, x[0], nx);
    sweep3(ah[0], (const float *)w->w + at + 24L * nx, h[0], hidden);
  }
}

/* The GRU cell on m <= 8 units from u (bias bb: the block's 32): the new h to hn. */
static void gru_out(const __m256 *ax, const __m256 *ah, const float *bb, const float *h,
                    float *hn, int u, int m) {
  __m256 r = reel_sigmoid_avx2(_mm256_add_ps(_mm256_add_ps(ax[0], ah[0]), _mm256_loadu_ps(bb)));
  __m256 z = reel_sigmoid_avx2(_mm256_add_ps(_mm256_add_ps(ax[1], ah[1]), _mm256_loadu_ps(bb + 8)));
  __m256 cand = _mm256_add_ps(ax[2], _mm256_loadu_ps(bb + 16)), hv;
  cand = reel_tanh_avx2(_mm256_fmadd_ps(r, _mm256_add_ps(ah[2], _mm256_loadu_ps(bb + 24)), cand));
  hv = reel_load_part_avx2(h + u, m);
  /* (1 - z) n + z h = n + z (h - n) */
  reel_store_part_avx2(hn + u, _mm256_fmadd_ps(z, _mm256_sub_ps(hv, cand), cand), m);
}

static void gru_step(int n, float *const h[], float *const scratch[], const reel_weights *w,
                     const float *b, const float *const x[], int nx, int hidden, int reverse) {
  int blocks = (hidden + 7) / 8, k, s, t, i;
  if (n == 1) { /* as lstm_step's one stream */
    __m256 ax[GATE_GROUP][4], ah[GATE_GROUP][4];
    for (k = 0; k < blocks; k += GATE_GROUP) {
      int nb = blocks - k < GATE_GROUP ? blocks - k : GATE_GROUP;
      for (i = 0; i < nb; i++) {
        int u = block_unit(k + i, blocks, reverse);
        gru_gates(&ax[i], &ah[i], 1, w, 3L * u * (nx + hidden), x, nx, (const float *const *)h,
                  hidden, u);
      }
      for (i = 0; i < nb; i++) {
        int u = block_unit(k + i, blocks, reverse), m = hidden - u < 8 ? hidden - u : 8;
        gru_out(ax[i], ah[i], b + 4L * u, h[0], scratch[0], u, m);
      }
    }
    memcpy(h[0], scratch[0], (size_t)hidden * sizeof *h[0]);
    return;
  }
  for (k = 0; k < blocks; k++) {
    int u = block_unit(k, blocks, reverse), m = hidden - u < 8 ? hidden - u : 8;
    long at = 3L * u * (nx + hidden);
    for (s = 0; s < n; s += t) {
      __m256 ax[3][4], ah[3][4];
      t = tile_of(n - s);
      gru_gates(ax, ah, t, w, at, x + s, nx, (const float *const *)h + s, hidden, u);
      for (i = 0; i < t; i++)
        gru_out(ax[i], ah[i], b + 4L * u, h[s + i], scratch[s + i], u, m);
    }
  }
  for (s = 0; s < n; s++)
    memcpy(h[s], scratch[s], (size_t)hidden * sizeof *h[s]);
}

/* ---- the kernels: one stream, n streams; float32, bfloat16, int8 weights ---- */

#define LSTM_STEP_KERNELS(SUFFIX, T, TYPE, SCALE_PARAM, SCALE)                                    \
  void reel_lstm_step##SUFFIX##_avx2(float *h, float *c, float *scratch, const T *w,              \
                                     SCALE_PARAM const float *b, const float *x, int nx,          \
                                     int hidden, const float *wci, const float *wcf,              \
                                     const float *wco, int reverse) {                             \
    reel_weights wt = {w, SCALE, TYPE};                                                           \
    lstm_step(1, &h, &c, &scratch, &wt, b, &x, nx, hidden, wci, wcf, wco, reverse);               \
  }                                                                                               \
  void reel_lstm_step_many##SUFFIX##_avx2(int n, float *const h[], float *const c[],              \
                                          float *const scratch[], const T *w, SCALE_PARAM         \
                                          const float *b, const float *const x[], int nx,         \
                                          int hidden, const float *wci, const float *wcf,         \
                                          const float *wco, int reverse) {                        \
    reel_weights wt = {w, SCALE, TYPE};                                                           \
    lstm_step(n, h, c, scratch, &wt, b, x, nx, hidden, wci, wcf, wco, reverse);                   \
  }
#define GRU_STEP_KERNELS(SUFFIX, T, TYPE, SCALE_PARAM, SCALE)                                     \
  void reel_gru_step##SUFFIX##_avx2(float *h, float *scratch, const T *w, SCALE_PARAM             \
                                    const float *b, const float *x, int nx, int hidden,           \
                                    int reverse) {                                                \
    reel_weights wt = {w, SCALE, TYPE};                                                           \
    gru_step(1, &h, &scratch, &wt, b, &x, nx, hidden, reverse);                                   \
  }                                                                                               \
  void reel_gru_step_many##SUFFIX##_avx2(int n, float *const h[], float *const scratch[],         \
                                         const T *w, SCALE_PARAM const float *b,                  \
                                         const float *const x[], int nx, int hidden,              \
                                         int reverse) {                                           \
    reel_weights wt = {w, SCALE, TYPE};                                                           \
    gru_step(n, h, scratch, &wt, b, x, nx, hidden, reverse);                                      \
  }
#define NO_SCALE_PARAM
#define SCALE_PARAM const float *w_scale,
LSTM_STEP_KERNELS(, float, REEL_W_F32, NO_SCALE_PARAM, NULL)
LSTM_STEP_KERNELS(_bf16, uint16_t, REEL_W_BF16, NO_SCALE_PARAM, NULL)
LSTM_STEP_KERNELS(_i8, int8_t, REEL_W_I8, SCALE_PARAM, w_scale)
GRU_STEP_KERNELS(, float, REEL_W_F32, NO_SCALE_PARAM, NULL)
GRU_STEP_KERNELS(_bf16, uint16_t, REEL_W_BF16, NO_SCALE_PARAM, NULL)
GRU_STEP_KERNELS(_i8, int8_t, REEL_W_I8, SCALE_PARAM, w_scale)
