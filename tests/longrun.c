/*
 * longrun.c: one generated reel model on long streams, for longrun.test.
 *
 *   longrun jump W JUMP T CLIP OUTPUT
 *                                reset, step W frames, add JUMP to the
 *                                context's frame counter (as if JUMP more
 *                                frames had gone by), step T more frames
 *   longrun sum N CLIP           step N frames
 *
 * CLIP is the model's clip aggregate: mean, weighted or other (no check).
 * Frame j of a run (j = 0, 1, ...) is a fixed pseudo-random function of j
 * alone, so runs with different jumps see the same inputs.
 *
 * jump prints, for each of the T frames after the jump,
 *     out J v...     the frame's output (a per-frame model)
 *     attn J v...    the attention weights (a model with them)
 *     clip J v...    the clip read after the frame
 *     want J v...    for mean and weighted: the clip by its definition,
 *                    in double, from the frames' outputs and their numbers
 *                    t (W + JUMP + 1 + ... for those after the jump)
 * sum prints "error E": the largest |clip - want| over the run (read
 * every 1000 frames and after the last), want in double as above.
 *
 * Compile with -DREEL_MODEL=m -DREEL_MODEL_UP=M -DREEL_MODEL_H='"m.h"'.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include REEL_MODEL_H

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(s) CAT(REEL_MODEL, s)
#define UP(s) CAT(REEL_MODEL_UP, s)

#define IN_N UP(_IN_SIZE)
typedef UP(_IN_TYPE) in_t; /* float, or uint8_t for a camera's bytes */
#define IN_IS_FLOAT ((in_t)0.5 != 0)
#define OUT_N UP(_OUT_SIZE)
#if UP(_CLIP_SIZE) > 0 /* (see driver.c) */
#define CLIP_N UP(_CLIP_SIZE)
#else
#define CLIP_N 1
#endif
#if UP(_ATTENTION_SIZE) > 0
#define ATT_N UP(_ATTENTION_SIZE)
#else
#define ATT_N 0
#endif

enum { MEAN, WEIGHTED, OTHER };

static FN(_ctx) ctx;
static in_t in[IN_N];
static float out[OUT_N], clip[CLIP_N];
static double sum[OUT_N]; /* sum_t p_t, or sum_t t p_t */

/* Frame j: values in [-2, 2) (bytes: 0 to 255) from a hash of j and the index. */
static void frame(unsigned long long j) {
  int i;
  for (i = 0; i < IN_N; i++) {
    unsigned long long h = (j * 0x9E3779B97F4A7C15ull) ^ ((unsigned long long)i * 0xBF58476D1CE4E5B9ull);
    h ^= h >> 31, h *= 0x94D049BB133111EBull, h ^= h >> 29;
    in[i] = IN_IS_FLOAT ? (in_t)((double)(h >> 11) * 0x1p-53 * 4.0 - 2.0) : (in_t)(h >> 56);
  }
}

/* Step frame j, which the clip counts as frame number t; fold it into sum. */
static void step(unsigned long long j, unsigned long long t, int mode) {
  int i;
  frame(j);
  FN(_step)(&ctx, in, out);
  for (i = 0; i < OUT_N && mode != OTHER; i++)
    sum[i] += (mode == WEIGHTED ? (double)t : 1.0) * out[i];
}

/* The clip by its definition after n frames. */
static double want(int i, unsigned long long n, int mode) {
  double dn = (double)n;
  return mode == MEAN ? sum[i] / dn : sum[i] / (dn * (dn + 1.0) / 2.0);
}

static void print(const char *what, unsigned long long j, const float *v, int n) {
  int i;
  printf("%s %llu", what, j);
  for (i = 0; i < n; i++)
    printf(" %.9g", v[i]);
  printf("\n");
}

static unsigned long long number(const char *s) {
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (!*s || *end) {
    fprintf(stderr, "longrun: not a count: %s\n", s);
    exit(2);
  }
  return v;
}

static int clip_mode(const char *s) {
  return strcmp(s, "mean") == 0 ? MEAN : strcmp(s, "weighted") == 0 ? WEIGHTED : OTHER;
}

int main(int argc, char **argv) {
  unsigned long long j, t = 0;
  int i;
  FN(_reset)(&ctx);
  if (argc == 7 && strcmp(argv[1], "jump") == 0) {
    unsigned long long w = number(argv[2]), jump = number(argv[3]), n = number(argv[4]);
    int mode = clip_mode(argv[5]);
    for (j = 0; j < w; j++)
      step(j, ++t, mode);
    ctx.state.frames += jump;
    t += jump;
    for (; j < w + n; j++) {
      step(j, ++t, mode);
      if (OUT_N > 0 && strcmp(argv[6], "per_frame") == 0)
        print("out", j, out, OUT_N);
#if ATT_N > 0
      {
        float a[ATT_N];
        FN(_attention)(&ctx, a);
        print("attn", j, a, ATT_N);
      }
#endif
#if UP(_CLIP_SIZE) > 0
      FN(_clip)(&ctx, clip);
      print("clip", j, clip, CLIP_N);
      if (mode != OTHER) {
        float v[CLIP_N];
        for (i = 0; i < CLIP_N; i++)
          v[i] = (float)want(i, t, mode);
        print("want", j, v, CLIP_N);
      }
#endif
    }
    return 0;
  }
  if (argc == 4 && strcmp(argv[1], "sum") == 0) {
    unsigned long long n = number(argv[2]);
    int mode = clip_mode(argv[3]);
    double worst = 0;
    for (j = 0; j < n; j++) {
      step(j, ++t, mode);
#if UP(_CLIP_SIZE) > 0
      if ((j + 1) % 1000 == 0 || j + 1 == n) {
        FN(_clip)(&ctx, clip);
        for (i = 0; i < CLIP_N; i++) {
          double e = clip[i] - want(i, t, mode);
          worst = e < 0 ? -e > worst ? -e : worst : e > worst ? e : worst;
        }
      }
#endif
    }
    printf("error %.3g\n", worst);
    return 0;
  }
  fprintf(stderr, "usage: longrun jump W JUMP T CLIP per_frame|per_clip | longrun sum N CLIP\n");
  return 2;
}
