/* Demo app for the generated convlstm_forecaster (specs/convlstm_forecaster.yaml):
 * makes a 20-frame bouncing-shapes clip (a C port of tools/bouncing.py that gives
 * the same frames for the same seed), streams the 10 observed frames through the
 * model one at a time, asks it to forecast the next 10, and writes a PNG strip:
 * row 1 the observed frames, row 2 the predicted ones, row 3 the true ones.  It
 * prints the per-frame latency, and each predicted frame's MSE next to the MSE of
 * simply repeating the last observed frame.  tools/forecast_demo.sh builds and
 * runs it.
 *
 *   forecast_demo [SEED [OUT.png]]      (defaults: 2026, generated/forecast.png)
 */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "convlstm_forecaster.h"

enum {
  SIZE = 64,     /* frames are SIZE x SIZE, one channel */
  OBSERVED = 10, /* frames fed to the model */
  FRAMES = 20,   /* OBSERVED + the frames to predict */
  PIXELS = SIZE * SIZE,
  RUNS = 5 /* the whole observe + forecast is timed this many times */
};

#define STEPS CONVLSTM_FORECASTER_FORECAST_STEPS

/* ---- bouncing shapes: keep in step with tools/bouncing.py ------------------------ */

typedef struct {
  uint64_t state;
} bb_rng;

static uint64_t bb_next(bb_rng *r) { /* splitmix64 */
  uint64_t z = (r->state += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

static double bb_uniform(bb_rng *r) { /* [0, 1), 53 bits */
  return (double)(bb_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

typedef struct {
  int kind; /* 0 square, 1 disc, 2 cross */
  double size, half, lo, hi, x, y, vx, vy;
} bb_shape;

static double bb_clamp01(double v) {
  v = v > 0.0 ? v : 0.0; /* np.clip: max, then min */
  return v < 1.0 ? v : 1.0;
}

/* Length of [p, p+1) inside [centre - half, centre + half]. */
static double bb_cover(double p, double centre, double half) {
  double a = p + 1.0, b = centre + half, c = centre - half;
  double hi = a < b ? a : b, lo = p > c ? p : c;
  return bb_clamp01(hi - lo);
}

static double bb_pixel(const bb_shape *s, double px, double py) {
  if (s->kind == 0)
    return bb_cover(px, s->x, s->half) * bb_cover(py, s->y, s->half);
  if (s->kind == 1) {
    double dx = px + 0.5 - s->x, dy = py + 0.5 - s->y;
    return bb_clamp01(s->half + 0.5 - sqrt(dx * dx + dy * dy));
  } else {
    double arm = s->size / 6.0;
    double a = bb_cover(px, s->x, s->half) * bb_cover(py, s->y, arm);
    double b = bb_cover(px, s->x, arm) * bb_cover(py, s->y, s->half);
    return a > b ? a : b;
  }
}

static void bb_bounce(double *pos, double *vel, double lo, double hi) {
  *pos = *pos + *vel;
  if (*pos < lo) {
    *pos = 2.0 * lo - *pos;
    *vel = -*vel;
  } else if (*pos > hi) {
    *pos = 2.0 * hi - *pos;
    *vel = -*vel;
  }
}

/* The clip for `seed`: FRAMES frames of SIZE x SIZE floats in [0, 1]. */
static void bb_sequence(uint64_t seed, float out[FRAMES][PIXELS]) {
  bb_rng rng;
  bb_shape shapes[2];
  int n, i, t, px, py;
  rng.state = seed;
  n = 1 + (int)(bb_next(&rng) % 2);
  for (i = 0; i < n; i++) {
    bb_shape *s = &shapes[i];
    double s2;
    s->kind = (int)(bb_next(&rng) % 3);
    s->size = 10.0 + 6.0 * bb_uniform(&rng);
    s->half = s->size / 2.0;
    s->lo = s->half;
    s->hi = SIZE - s->half;
    s->x = s->lo + (s->hi - s->lo) * bb_uniform(&rng);
    s->y = s->lo + (s->hi - s->lo) * bb_uniform(&rng);
    do {
      s->vx = 7.0 * bb_uniform(&rng) - 3.5;
      s->vy = 7.0 * bb_uniform(&rng) - 3.5;
      s2 = s->vx * s->vx + s->vy * s->vy;
    } while (!(2.25 <= s2 && s2 <= 12.25));
  }
  for (t = 0; t < FRAMES; t++) {
    for (py = 0; py < SIZE; py++)
      for (px = 0; px < SIZE; px++) {
        double v = 0.0;
        for (i = 0; i < n; i++) {
          double w = bb_pixel(&shapes[i], (double)px, (double)py);
          v = w > v ? w : v;
        }
        out[t][py * SIZE + px] = (float)v;
      }
    for (i = 0; i < n; i++) {
      bb_bounce(&shapes[i].x, &shapes[i].vx, shapes[i].lo, shapes[i].hi);
      bb_bounce(&shapes[i].y, &shapes[i].vy, shapes[i].lo, shapes[i].hi);
    }
  }
}

/* ---- the PNG strip: keep the layout in step with tools/preview_forecast.py -------- */

enum {
  SCALE = 2,                      /* each frame pixel becomes SCALE x SCALE */
  CELL = SIZE * SCALE,            /* a frame on the strip */
  MARGIN = 6,                     /* around the strip */
  GAP = 4,                        /* between frames and between rows */
  LABEL = 7 * SCALE + 6,          /* a band above each row for its name */
  ROWS = 3,
  COLS = OBSERVED > STEPS ? OBSERVED : STEPS,
  WIDTH = 2 * MARGIN + COLS * CELL + (COLS - 1) * GAP,
  HEIGHT = 2 * MARGIN + ROWS * (LABEL + CELL) + (ROWS - 1) * GAP,
  BACKGROUND = 48,
  INK = 230
};

/* 5x7 glyphs for the row names: 7 rows of 5 bits, the top bit the leftmost pixel. */
static const struct {
  char c;
  unsigned char rows[7];
} glyphs[] = {
    {'B', {30, 17, 17, 30, 17, 17, 30}}, {'C', {14, 17, 16, 16, 16, 17, 14}},
    {'D', {30, 17, 17, 17, 17, 17, 30}}, {'E', {31, 16, 16, 30, 16, 16, 31}},
    {'H', {17, 17, 17, 31, 17, 17, 17}}, {'I', {14, 4, 4, 4, 4, 4, 14}},
    {'O', {14, 17, 17, 17, 17, 17, 14}}, {'P', {30, 17, 17, 30, 16, 16, 16}},
    {'R', {30, 17, 17, 30, 20, 18, 17}}, {'S', {15, 16, 16, 14, 1, 1, 30}},
    {'T', {31, 4, 4, 4, 4, 4, 4}},       {'U', {17, 17, 17, 17, 17, 17, 14}},
    {'V', {17, 17, 17, 17, 17, 10, 4}},
};

static unsigned char image[HEIGHT][WIDTH];

static void draw_text(int x, int y, const char *text) {
  for (; *text; text++, x += 6 * SCALE) {
    size_t g;
    int r, c;
    for (g = 0; g < sizeof glyphs / sizeof glyphs[0] && glyphs[g].c != *text; g++)
      ;
    if (g == sizeof glyphs / sizeof glyphs[0])
      continue; /* a space, or a letter we have no glyph for */
    for (r = 0; r < 7 * SCALE; r++)
      for (c = 0; c < 5 * SCALE; c++)
        if (glyphs[g].rows[r / SCALE] >> (4 - c / SCALE) & 1)
          image[y + r][x + c] = INK;
  }
}

static unsigned char gray(float v) {
  v = v > 0.0f ? v : 0.0f;
  v = v < 1.0f ? v : 1.0f;
  return (unsigned char)(v * 255.0f + 0.5f);
}

static void draw_row(int row, const char *name, float frames[][PIXELS], int n) {
  int top = MARGIN + row * (LABEL + CELL + GAP), f, y, x;
  draw_text(MARGIN, top + 3, name);
  for (f = 0; f < n; f++) {
    int left = MARGIN + f * (CELL + GAP);
    for (y = 0; y < CELL; y++)
      for (x = 0; x < CELL; x++)
        image[top + LABEL + y][left + x] = gray(frames[f][(y / SCALE) * SIZE + x / SCALE]);
  }
}

static int write_png(const char *path) {
  FILE *f = fopen(path, "wb");
  png_structp png;
  png_infop info;
  int y;
  if (!f)
    return -1;
  png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  info = png ? png_create_info_struct(png) : NULL;
  if (!png || !info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    fclose(f);
    return -1;
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, WIDTH, HEIGHT, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (y = 0; y < HEIGHT; y++)
    png_write_row(png, image[y]);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  return fclose(f) == 0 ? 0 : -1;
}

/* ---- main ---------------------------------------------------------------------- */

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double mse(const float *a, const float *b) {
  double s = 0.0;
  int i;
  for (i = 0; i < PIXELS; i++)
    s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
  return s / PIXELS;
}

typedef char assert_frame_in[CONVLSTM_FORECASTER_IN_SIZE == PIXELS ? 1 : -1];
typedef char assert_frame_out[CONVLSTM_FORECASTER_FORECAST_SIZE == PIXELS ? 1 : -1];
typedef char assert_steps[STEPS <= FRAMES - OBSERVED ? 1 : -1];

int main(int argc, char **argv) {
  static convlstm_forecaster_ctx ctx; /* all the model's RAM */
  static float clip[FRAMES][PIXELS], pred[STEPS][PIXELS], first[STEPS][PIXELS];
  static double observe_us[RUNS * OBSERVED], forecast_us[RUNS];
  const char *path = argc > 2 ? argv[2] : "generated/forecast.png";
  unsigned long long seed = 2026;
  double sum_model = 0.0, sum_base = 0.0;
  int run, t, k, deterministic = 1;
  char *end;

  if (argc > 3 || (argc > 1 && (argv[1][0] == '-' || argv[1][0] == '\0'))) {
    fprintf(stderr, "usage: %s [SEED [OUT.png]]\n", argv[0]);
    return 2;
  }
  if (argc > 1) {
    seed = strtoull(argv[1], &end, 10);
    if (*end) {
      fprintf(stderr, "%s: SEED must be a non-negative integer, got '%s'\n", argv[0], argv[1]);
      return 2;
    }
  }

  bb_sequence((uint64_t)seed, clip);
  for (run = 0; run < RUNS; run++) {
    double t0;
    convlstm_forecaster_reset(&ctx);
    for (t = 0; t < OBSERVED; t++) {
      t0 = now_us();
      convlstm_forecaster_step(&ctx, clip[t], NULL); /* per_frame: false, no output */
      observe_us[run * OBSERVED + t] = now_us() - t0;
    }
    t0 = now_us();
    convlstm_forecaster_forecast(&ctx, &pred[0][0]);
    forecast_us[run] = now_us() - t0;
    if (run == 0)
      memcpy(first, pred, sizeof pred);
    else if (memcmp(first, pred, sizeof pred) != 0)
      deterministic = 0;
  }

  printf("seed %llu: %d observed frames of 1x%dx%d, %d forecast\n", seed, OBSERVED, SIZE, SIZE,
         STEPS);
  printf("step  model MSE  repeat-last MSE\n");
  for (k = 0; k < STEPS; k++) {
    double m = mse(pred[k], clip[OBSERVED + k]), b = mse(clip[OBSERVED - 1], clip[OBSERVED + k]);
    sum_model += m;
    sum_base += b;
    printf("%4d  %9.5f  %15.5f\n", k + 1, m, b);
  }
  printf("mean  %9.5f  %15.5f\n", sum_model / STEPS, sum_base / STEPS);

  qsort(observe_us, RUNS * OBSERVED, sizeof observe_us[0], cmp_double);
  qsort(forecast_us, RUNS, sizeof forecast_us[0], cmp_double);
  printf("latency: observe step median %.1f us; forecast %.1f us for %d frames = %.1f us per "
         "predicted frame (medians of %d runs); context %lu bytes\n",
         observe_us[RUNS * OBSERVED / 2], forecast_us[RUNS / 2], STEPS,
         forecast_us[RUNS / 2] / STEPS, RUNS, (unsigned long)sizeof ctx);
  if (!deterministic)
    printf("warning: the %d runs after reset did not give identical forecasts\n", RUNS);

  memset(image, BACKGROUND, sizeof image);
  draw_row(0, "OBSERVED", clip, OBSERVED);
  draw_row(1, "PREDICTED", pred, STEPS);
  draw_row(2, "TRUTH", clip + OBSERVED, STEPS);
  if (write_png(path) != 0) {
    fprintf(stderr, "%s: cannot write %s\n", argv[0], path);
    return 1;
  }
  printf("wrote %s (rows: observed, predicted, ground truth)\n", path);
  return 0;
}
