/* Demo app for the generated lstm_classifier: streams a synthetic 16-frame
 * clip of frame features through the model one frame at a time, prints
 * each frame's top class, the clip's time-weighted prediction and the
 * per-frame latency.  tools/demo.sh builds and runs it. */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lstm_classifier.h"

enum { FRAMES = 16, REPEATS = 2000 };

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int top(const float *p, int n) {
  int best = 0, i;
  for (i = 1; i < n; i++)
    if (p[i] > p[best])
      best = i;
  return best;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(void) {
  static lstm_classifier_ctx ctx; /* all the model's RAM */
  static float clip[FRAMES][LSTM_CLASSIFIER_IN_SIZE];
  static double times[REPEATS];
  float out[LSTM_CLASSIFIER_OUT_SIZE], agg[LSTM_CLASSIFIER_CLIP_SIZE];
  int t, i, r;

  /* A feature vector drifting smoothly over time, as a camera's would. */
  for (t = 0; t < FRAMES; t++)
    for (i = 0; i < LSTM_CLASSIFIER_IN_SIZE; i++)
      clip[t][i] = (float)sin(0.37 * i + 0.21 * t) + 0.1f * (float)cos(1.3 * i * t);

  lstm_classifier_reset(&ctx);
  printf("frame  class  p(class)\n");
  for (t = 0; t < FRAMES; t++) {
    lstm_classifier_step(&ctx, clip[t], out);
    i = top(out, LSTM_CLASSIFIER_OUT_SIZE);
    printf("%5d  %5d  %.4f\n", t, i, out[i]);
  }
  lstm_classifier_clip(&ctx, agg);
  i = top(agg, LSTM_CLASSIFIER_CLIP_SIZE);
  printf("clip (weighted over %d frames): class %d, p = %.4f\n", FRAMES, i, agg[i]);

  for (r = 0; r < REPEATS; r++) {
    double t0 = now_us();
    lstm_classifier_step(&ctx, clip[r % FRAMES], out);
    times[r] = now_us() - t0;
  }
  qsort(times, REPEATS, sizeof times[0], cmp_double);
  printf("latency per frame: median %.2f us, p99 %.2f us (%d steps); context %u bytes\n",
         times[REPEATS / 2], times[REPEATS * 99 / 100], REPEATS, (unsigned)sizeof ctx);
  return 0;
}
