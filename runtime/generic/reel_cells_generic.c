/* Portable LSTM and GRU gate math (PyTorch gate orders i,f,g,o and r,z,n). */
#include <math.h>

#include "reel_runtime.h"

static float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

void reel_lstm_cell_generic(float *h, float *c, const float *gates, int n) {
  int k;
  for (k = 0; k < n; k++) {
    float i = sigmoid(gates[k]);
    float f = sigmoid(gates[n + k]);
    float g = tanhf(gates[2 * n + k]);
    float o = sigmoid(gates[3 * n + k]);
    c[k] = f * c[k] + i * g;
    h[k] = o * tanhf(c[k]);
  }
}

void reel_lstm_peephole_cell_generic(float *h, float *c, const float *gates, const float *wci,
                                     const float *wcf, const float *wco, int n) {
  int k;
  for (k = 0; k < n; k++) {
    float i = sigmoid(gates[k] + wci[k] * c[k]);
    float f = sigmoid(gates[n + k] + wcf[k] * c[k]);
    float g = tanhf(gates[2 * n + k]);
    float cell = f * c[k] + i * g;
    float o = sigmoid(gates[3 * n + k] + wco[k] * cell);
    c[k] = cell;
    h[k] = o * tanhf(cell);
  }
}

void reel_gru_cell_generic(float *h, const float *gi, const float *gh, int n) {
  int k;
  for (k = 0; k < n; k++) {
    float r = sigmoid(gi[k] + gh[k]);
    float z = sigmoid(gi[n + k] + gh[n + k]);
    float cand = tanhf(gi[2 * n + k] + r * gh[2 * n + k]);
    h[k] = (1.0f - z) * cand + z * h[k];
  }
}

void reel_convgru_reset_generic(float *rh, const float *gates, const float *h, int n) {
  int k;
  for (k = 0; k < n; k++)
    rh[k] = sigmoid(gates[k]) * h[k];
}

void reel_convgru_update_generic(float *h, const float *gates, const float *cand, int n) {
  int k;
  for (k = 0; k < n; k++) {
    float z = sigmoid(gates[n + k]);
    h[k] = (1.0f - z) * h[k] + z * tanhf(cand[k]);
  }
}
