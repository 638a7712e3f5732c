/* AVX2 pointwise recurrent cells: the generic ones' vector twins, for the
 * convolutional cells and the sequence kernels (lstm_cell, lstm_peephole_cell,
 * convgru_*).  The dense cells' fused steps are in reel_dense_cells_avx2.c. */
#include <immintrin.h>

#include "reel_runtime.h"
#include "reel_vmath_avx2.h"

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
