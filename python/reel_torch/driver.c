/* driver.c: runs a reel-generated model over one clip, for reel_torch.verify.
 *
 *   driver IN.f32 T OUT.bin
 *
 * IN.f32 holds T frames of M_IN_SIZE float32 (host order), converted to M_IN_TYPE (a camera's
 * bytes hold integers 0 to 255).  OUT.bin gets five
 * int32 sizes (out, attention, clip, forecast steps, forecast frame; 0 where
 * the model has none), then the T per-frame outputs, the attention weights
 * after each frame, the clip after the last frame and the forecast after it,
 * all float32.  Build: cc -std=c99 -DREEL_MODEL=m -DREEL_MODEL_UP=M
 * -DREEL_MODEL_H='"m.h"' -IDIR driver.c DIR/\*.c -lm */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include REEL_MODEL_H

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(s) CAT(REEL_MODEL, s)
#define UP(s) CAT(REEL_MODEL_UP, s)

/* A macro the model lacks expands to an identifier, which #if reads as 0. */
#if UP(_CLIP_SIZE) > 0
#define CLIP_N UP(_CLIP_SIZE)
#else
#define CLIP_N 0
#endif
#if UP(_ATTENTION_SIZE) > 0
#define ATT_N UP(_ATTENTION_SIZE)
#else
#define ATT_N 0
#endif
#if UP(_FORECAST_STEPS) > 0
#define FC_STEPS UP(_FORECAST_STEPS)
#define FC_SIZE UP(_FORECAST_SIZE)
#else
#define FC_STEPS 0
#define FC_SIZE 0
#endif

static FN(_ctx) ctx;

static void die(const char *what, const char *arg) {
  fprintf(stderr, "driver: %s%s\n", what, arg);
  exit(1);
}

int main(int argc, char **argv) {
  if (argc != 4)
    die("usage: driver IN.f32 T OUT.bin", "");
  long t, frames = strtol(argv[2], NULL, 10);
  FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[3], "wb");
  if (!in || !out || frames < 1)
    die("cannot open the files, or T < 1: ", argv[1]);
  float *x = malloc(sizeof(float) * UP(_IN_SIZE) * (size_t)frames);
  float *y = malloc(sizeof(float) * (UP(_OUT_SIZE) + ATT_N + 1) * (size_t)frames);
  float *tail = malloc(sizeof(float) * (CLIP_N + FC_STEPS * FC_SIZE + 1));
  if (!x || !y || !tail)
    die("out of memory", "");
  if (fread(x, sizeof(float) * UP(_IN_SIZE), (size_t)frames, in) != (size_t)frames)
    die("input shorter than T frames: ", argv[1]);
  FN(_reset)(&ctx);
  for (t = 0; t < frames; t++) {
    static UP(_IN_TYPE) frame[UP(_IN_SIZE)]; /* as m_step takes it: float, or a camera's bytes */
    for (long i = 0; i < UP(_IN_SIZE); i++)
      frame[i] = (UP(_IN_TYPE))x[t * UP(_IN_SIZE) + i];
    FN(_step)(&ctx, frame, y + t * UP(_OUT_SIZE));
#if ATT_N > 0
    FN(_attention)(&ctx, y + frames * UP(_OUT_SIZE) + t * ATT_N);
#endif
  }
#if CLIP_N > 0
  FN(_clip)(&ctx, tail);
#endif
#if FC_STEPS > 0
  FN(_forecast)(&ctx, tail + CLIP_N);
#endif
  int32_t sizes[5] = {UP(_OUT_SIZE), ATT_N, CLIP_N, FC_STEPS, FC_SIZE};
  size_t n_y = (size_t)(UP(_OUT_SIZE) + ATT_N) * (size_t)frames, n_tail = CLIP_N + FC_STEPS * FC_SIZE;
  if (fwrite(sizes, sizeof sizes, 1, out) != 1 || fwrite(y, sizeof(float), n_y, out) != n_y ||
      fwrite(tail, sizeof(float), n_tail, out) != n_tail || fclose(out) != 0)
    die("cannot write ", argv[3]);
  return 0;
}
