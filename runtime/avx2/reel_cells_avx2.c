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
 * The pointwise kernels (lstm_cell, lstm_peephole_cell, convgru_*) are the
 * generic ones' vector twins, for the convolutional cells. */
#include <immintrin.h>
#include <string.h>

#include "reel_runtime.h"
#include "reel_vmath_avx2.h"

/* acc[g] += sum_j w[j][g] x[j] for `gates` gate vectors of 8 units. */
static void sweep(__m256 *acc, const float *w, const float *x, int n, int gates) {
  int j, g;
  for (j = 0; j < n; j++, w += 8L * gates) {
    __m256 xj = _mm256_broadcast_ss(x + j);
    for (g = 0; g < gates; g++)
      acc[g] = _mm256_fmadd_ps(_mm256_loadu_ps(w + 8L * g), xj, acc[g]);
  }
}

void reel_lstm_step_avx2(float *h, float *c, float *scratch, const float *w, const float *b,
                         const float *x, int nx, int hidden, const float *wci, const float *wcf,
                         const float *wco) {
  int u;
  long block = 32L * (nx + hidden);
  for (u = 0; u < hidden; u += 8, w += block, b += 32) {
    int n = hidden - u < 8 ? hidden - u : 8;
    __m256 acc[4], acc2[4], cell, i, f, g, o;
    int k;
    for (k = 0; k < 4; k++) {
      acc[k] = _mm256_loadu_ps(b + 8L * k);
      acc2[k] = _mm256_setzero_ps();
    }
    /* two sweeps keep eight independent FMA chains in flight */
    sweep(acc, w, x, nx, 4);
    sweep(acc2, w + 32L * nx, h, hidden, 4);
    cell = reel_load_part_avx2(c + u, n);
    i = _mm256_add_ps(acc[0], acc2[0]);
    f = _mm256_add_ps(acc[1], acc2[1]);
    g = reel_tanh_avx2(_mm256_add_ps(acc[2], acc2[2]));
    o = _mm256_add_ps(acc[3], acc2[3]);
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

void reel_gru_step_avx2(float *h, float *scratch, const float *w, const float *b, const float *x,
                        int nx, int hidden) {
  int u;
  long block = 24L * (nx + hidden);
  for (u = 0; u < hidden; u += 8, w += block, b += 32) {
    int n = hidden - u < 8 ? hidden - u : 8;
    __m256 ax[3], ah[3], r, z, cand, hv;
    int k;
    for (k = 0; k < 3; k++) {
      ax[k] = _mm256_setzero_ps();
      ah[k] = _mm256_setzero_ps();
    }
    sweep(ax, w, x, nx, 3);
    sweep(ah, w + 24L * nx, h, hidden, 3);
    r = reel_sigmoid_avx2(_mm256_add_ps(_mm256_add_ps(ax[0], ah[0]), _mm256_loadu_ps(b)));
    z = reel_sigmoid_avx2(_mm256_add_ps(_mm256_add_ps(ax[1], ah[1]), _mm256_loadu_ps(b + 8)));
    cand = _mm256_add_ps(ax[2], _mm256_loadu_ps(b + 16));
    cand = reel_tanh_avx2(_mm256_fmadd_ps(r, _mm256_add_ps(ah[2], _mm256_loadu_ps(b + 24)), cand));
    hv = reel_load_part_avx2(h + u, n);
    /* (1 - z) n + z h = n + z (h - n) */
    reel_store_part_avx2(scratch + u, _mm256_fmadd_ps(z, _mm256_sub_ps(hv, cand), cand), n);
  }
  memcpy(h, scratch, (size_t)hidden * sizeof *h);
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
    __m256 i = reel_sigmoid_avx2(_mm256_fmadd_ps(reel_load_part_avx2(wci + k, m), old, reel_load_part_avx2(gates + k, m)));
    __m256 f = reel_sigmoid_avx2(_mm256_fmadd_ps(reel_load_part_avx2(wcf + k, m), old, reel_load_part_avx2(gates + n + k, m)));
    __m256 g = reel_tanh_avx2(reel_load_part_avx2(gates + 2L * n + k, m));
    __m256 cell = _mm256_fmadd_ps(f, old, _mm256_mul_ps(i, g));
    __m256 o = reel_sigmoid_avx2(_mm256_fmadd_ps(reel_load_part_avx2(wco + k, m), cell, reel_load_part_avx2(gates + 3L * n + k, m)));
    reel_store_part_avx2(c + k, cell, m);
    reel_store_part_avx2(h + k, _mm256_mul_ps(o, reel_tanh_avx2(cell)), m);
  }
}

void reel_convgru_reset_avx2(float *rh, const float *gates, const float *h, int n) {
  int k;
  for (k = 0; k < n; k += 8) {
    int m = n - k < 8 ? n - k : 8;
    reel_store_part_avx2(rh + k, _mm256_mul_ps(reel_sigmoid_avx2(reel_load_part_avx2(gates + k, m)), reel_load_part_avx2(h + k, m)), m);
  }
}

void reel_convgru_update_avx2(float *h, const float *gates, const float *cand, int n) {
  int k;
  for (k = 0; k < n; k += 8) {
    int m = n - k < 8 ? n - k : 8;
    __m256 z = reel_sigmoid_avx2(reel_load_part_avx2(gates + n + k, m));
    __m256 nv = reel_tanh_avx2(reel_load_part_avx2(cand + k, m)), hv = reel_load_part_avx2(h + k, m);
    reel_store_part_avx2(h + k, _mm256_fmadd_ps(z, _mm256_sub_ps(nv, hv), hv), m);
  }
}
