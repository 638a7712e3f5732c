/* The model's float frame from the frame m_step takes: uint8 or float, channel-first or
 * channel-last, normalised per channel (torchvision's ToTensor and Normalize folded into one
 * multiply-add).  No AVX2 twin: it touches each input element once, next to the hundreds of
 * multiply-adds per element of the conv that reads it. */
#include "reel_runtime.h"

#define REEL_INPUT_BODY                                                                   \
  int ch, i;                                                                              \
  for (ch = 0; ch < c; ch++) {                                                            \
    float s = a ? a[ch] : 1.0f, t = b ? b[ch] : 0.0f;                                     \
    float *yc = y + (long)ch * p;                                                         \
    if (hwc)                                                                              \
      for (i = 0; i < p; i++)                                                             \
        yc[i] = s * (float)x[(long)i * c + ch] + t;                                       \
    else                                                                                  \
      for (i = 0; i < p; i++)                                                             \
        yc[i] = s * (float)x[(long)ch * p + i] + t;                                       \
  }

void reel_input_u8_generic(float *y, const unsigned char *x, int c, int p, int hwc,
                           const float *a, const float *b) {
  REEL_INPUT_BODY
}

void reel_input_f32_generic(float *y, const float *x, int c, int p, int hwc, const float *a,
                            const float *b) {
  REEL_INPUT_BODY
}
