/* Every AVX2 kernel against its generic twin, on sizes below, at and above
 * the vector width and tile sizes (remainders included), with weights
 * packed by the compiler's own pack.c; and the vector sigmoid/tanh against
 * the C library.  Prints one line per check for kernels.test:
 *
 *     name max_abs_error shape
 *
 * shape: where the largest error occurred (sizes, strides, padding,
 * activation, ...: enough to rerun that one case), or for a count of
 * mismatches, where the first one was.  Every activation code of
 * REEL_ACTIVATIONS goes through the gemv and conv epilogues and the
 * stand-alone kernel (activation_<name>), so a new one needs no code here,
 * only its bound in kernels.test's table. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reel.h"
#include "reel_runtime.h"

static unsigned long long rng = 88172645463325252ull;

static float frand(void) { /* uniform in [-1, 1) */
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (float)((double)(rng >> 11) * 0x1p-53 * 2.0 - 1.0);
}

static float *rnd(size_t n) {
  float *p = calloc(n + 1, sizeof *p);
  for (size_t i = 0; i < n; i++)
    p[i] = frand();
  return p;
}

static double maxdiff(const float *a, const float *b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - b[i]);
    if (d > m || d != d)
      m = d != d ? INFINITY : d;
  }
  return m;
}

static const int sizes[] = {1, 3, 7, 8, 9, 15, 16, 17, 33, 64};
enum { NS = sizeof sizes / sizeof sizes[0] };

/* An activation code's name, lower case (REEL_ACT_LEAKY_RELU: leaky_relu). */
static const char *act_name(int act) {
  static const char *const names[REEL_ACT_COUNT] = {
#define X(name) #name,
      REEL_ACTIVATIONS(X)
#undef X
  };
  static char lower[REEL_ACT_COUNT][32];
  if (act < 0 || act >= REEL_ACT_COUNT)
    return "?";
  if (!lower[act][0])
    for (int i = 0; names[act][i] && i < 31; i++)
      lower[act][i] = (char)tolower((unsigned char)names[act][i]);
  return lower[act];
}

/* One check's worst case: its largest error (NaN counts as infinite) and
 * the shape it came from. */
typedef struct {
  double err;
  char shape[256];
} Worst;

static void note(Worst *w, double err, const char *fmt, ...) {
  if (err != err)
    err = INFINITY;
  if (w->shape[0] && !(err > w->err))
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(w->shape, sizeof w->shape, fmt, ap);
  va_end(ap);
  w->err = err;
}

static void report(const char *name, const Worst *w) {
  printf("%s %g %s\n", name, w->err, w->shape[0] ? w->shape : "(no case ran)");
}

static void gemv(void) {
  Worst err = {0}, err2 = {0};
  for (int a = 0; a < NS; a++)
    for (int c = 0; c < NS; c++) {
      int rows = sizes[a], n0 = sizes[c], n1 = sizes[(a + c) % NS];
      float *w = rnd((size_t)rows * (n0 + n1)), *b = rnd((size_t)round8(rows)), *x = rnd(n0 + n1);
      float *wp = calloc((size_t)round8(rows) * (n0 + n1), sizeof *wp);
      float *y0 = calloc(rows, 4), *y1 = calloc(rows, 4);
      pack_panels8(wp, w, rows, n0 + n1);
      for (int act = REEL_ACT_NONE; act < REEL_ACT_COUNT; act++) { /* each fused epilogue */
        reel_f32_gemv_generic(y0, w, b, x, rows, n0 + n1, act, 0.1f);
        reel_f32_gemv_avx2(y1, wp, b, x, rows, n0 + n1, act, 0.1f);
        note(&err, maxdiff(y0, y1, rows), "rows=%d cols=%d act=%s alpha=0.1", rows, n0 + n1,
             act_name(act));
      }
      /* [x0 | x1] from two pointers */
      float *wa = calloc((size_t)rows * n0, 4), *wb = calloc((size_t)rows * n1, 4);
      for (int r = 0; r < rows; r++) {
        memcpy(wa + (size_t)r * n0, w + (size_t)r * (n0 + n1), (size_t)n0 * 4);
        memcpy(wb + (size_t)r * n1, w + (size_t)r * (n0 + n1) + n0, (size_t)n1 * 4);
      }
      pack_panels8_cat2(wp, wa, n0, wb, n1, rows);
      reel_f32_gemv_cat2_avx2(y1, wp, NULL, x, n0, x + n0, n1, rows);
      reel_f32_gemv_cat2_generic(y0, w, NULL, x, n0, x + n0, n1, rows);
      note(&err2, maxdiff(y0, y1, rows), "rows=%d n0=%d n1=%d bias=none", rows, n0, n1);
      free(w), free(b), free(x), free(wp), free(y0), free(y1), free(wa), free(wb);
    }
  report("gemv", &err);
  report("gemv_cat2", &err2);
}

static void lstm_gru(void) {
  Worst el = {0}, ep = {0}, eg = {0};
  for (int a = 0; a < NS; a++)
    for (int c = 0; c < NS; c += 2) {
      int H = sizes[a], nx = sizes[c], blocks = (H + 7) / 8;
      float *wih = rnd((size_t)4 * H * nx), *whh = rnd((size_t)4 * H * H);
      float *bih = rnd(4 * H), *bhh = rnd(4 * H), *x = rnd(nx);
      float *pc[3] = {rnd(H), rnd(H), rnd(H)};
      for (int peep = 0; peep < 2; peep++) {
        float *h0 = rnd(H), *c0 = rnd(H), *h1 = malloc(H * 4), *c1 = malloc(H * 4), *s = malloc(H * 4);
        float *wcat = malloc((size_t)4 * H * (nx + H) * 4), *bsum = malloc(4 * H * 4), *g = malloc(4 * H * 4);
        float *wp = calloc((size_t)blocks * 32 * (nx + H), 4), *bp = calloc((size_t)blocks * 32, 4);
        memcpy(h1, h0, H * 4), memcpy(c1, c0, H * 4);
        for (int r = 0; r < 4 * H; r++) {
          memcpy(wcat + (size_t)r * (nx + H), wih + (size_t)r * nx, (size_t)nx * 4);
          memcpy(wcat + (size_t)r * (nx + H) + nx, whh + (size_t)r * H, (size_t)H * 4);
          bsum[r] = bih[r] + bhh[r];
        }
        reel_f32_gemv_cat2_generic(g, wcat, bsum, x, nx, h0, H, 4 * H);
        if (peep)
          reel_lstm_peephole_cell_generic(h0, c0, g, pc[0], pc[1], pc[2], H);
        else
          reel_lstm_cell_generic(h0, c0, g, H);
        pack_lstm(wp, bp, wih, whh, bih, bhh, nx, H);
        reel_lstm_step_avx2(h1, c1, s, wp, bp, x, nx, H, peep ? pc[0] : NULL, peep ? pc[1] : NULL,
                            peep ? pc[2] : NULL, (peep + c / 2) & 1);
        note(peep ? &ep : &el, fmax(maxdiff(h0, h1, H), maxdiff(c0, c1, H)), "hidden=%d nx=%d reverse=%d",
             H, nx, (peep + c / 2) & 1);
        free(h0), free(c0), free(h1), free(c1), free(s), free(wcat), free(bsum), free(g), free(wp), free(bp);
      }
      /* GRU: PyTorch's gates with the two biases apart */
      float *gi = malloc(3 * H * 4), *gh = malloc(3 * H * 4), *h0 = rnd(H), *h1 = malloc(H * 4), *s = malloc(H * 4);
      float *wp = calloc((size_t)blocks * 24 * (nx + H), 4), *bp = calloc((size_t)blocks * 32, 4);
      memcpy(h1, h0, H * 4);
      reel_f32_gemv_generic(gi, wih, bih, x, 3 * H, nx, REEL_ACT_NONE, 0.0f);
      reel_f32_gemv_generic(gh, whh, bhh, h0, 3 * H, H, REEL_ACT_NONE, 0.0f);
      reel_gru_cell_generic(h0, gi, gh, H);
      pack_gru(wp, bp, wih, whh, bih, bhh, nx, H);
      reel_gru_step_avx2(h1, s, wp, bp, x, nx, H, (c / 2) & 1);
      note(&eg, maxdiff(h0, h1, H), "hidden=%d nx=%d reverse=%d", H, nx, (c / 2) & 1);
      free(gi), free(gh), free(h0), free(h1), free(s), free(wp), free(bp);
      free(wih), free(whh), free(bih), free(bhh), free(x), free(pc[0]), free(pc[1]), free(pc[2]);
    }
  report("lstm_step", &el);
  report("lstm_step_peephole", &ep);
  report("gru_step", &eg);
}

/* One conv through both kernels (y preset to the same random values, for
 * accumulate); the largest difference. */
/* The compiler's view of a conv call's geometry. */
static Geom geom_of(const reel_conv2d_desc *d) {
  Geom g = {d->in_c0, d->in_c1, d->in_h, d->in_w, d->out_c, d->out_h, d->out_w, {0}, d->groups, REEL_ACT_NONE, 0, false};
  g.win = (Window){.kh = d->k_h, .kw = d->k_w, .sh = d->stride_h, .sw = d->stride_w, .dh = d->dil_h,
                   .dw = d->dil_w, .pad_top = d->pad_top, .pad_left = d->pad_left};
  return g;
}

/* A conv's geometry, for a report. */
static const char *conv_shape(const reel_conv2d_desc *d) {
  static char s[256];
  snprintf(s, sizeof s,
           "in_c=%d+%d in=%dx%d out_c=%d out=%dx%d k=%dx%d stride=%dx%d dil=%dx%d pad=%d,%d "
           "act=%s accumulate=%d",
           d->in_c0, d->in_c1, d->in_h, d->in_w, d->out_c, d->out_h, d->out_w, d->k_h, d->k_w,
           d->stride_h, d->stride_w, d->dil_h, d->dil_w, d->pad_top, d->pad_left, act_name(d->act),
           d->accumulate);
  return s;
}

/* Convs whose scratch the compiler (pack.c, which sizes it in the memory
 * plan) and the kernel count differently; the kernels run in scratch of
 * the compiler's size, so under ASan an undercount also fails. */
static int scratch_mismatches;
static char scratch_first[300];

static void scratch_check(long compiler, long kernel, const char *which, const reel_conv2d_desc *d) {
  if (compiler == kernel)
    return;
  if (!scratch_mismatches++)
    snprintf(scratch_first, sizeof scratch_first, "%s %s: compiler %ld floats, kernel %ld", which,
             conv_shape(d), compiler, kernel);
}

/* The two direct AVX2 kernels: vectors over pixels (reel_conv_avx2.c) or over
 * output channels (reel_conv_igemm_avx2.c). */
typedef enum { DIRECT_PIXELS, DIRECT_IGEMM } DirectConv;

static double conv_diff(reel_conv2d_desc *d, DirectConv k) {
  int in_c = d->in_c0 + d->in_c1, taps = d->k_h * d->k_w, n = d->out_c * d->out_h * d->out_w;
  int block = k == DIRECT_IGEMM ? REEL_CONV_IGEMM_AVX2_OC_BLOCK : REEL_CONV_AVX2_OC_BLOCK;
  float *w = rnd((size_t)d->out_c * in_c * taps), *b = rnd(d->out_c);
  float *x0 = rnd((size_t)d->in_c0 * d->in_h * d->in_w), *x1 = rnd((size_t)d->in_c1 * d->in_h * d->in_w + 1);
  float *wp = calloc((size_t)(d->out_c + block - 1) / block * block * in_c * taps, 4);
  Geom g = geom_of(d);
  long need = k == DIRECT_IGEMM ? conv_scratch_igemm(&g) : conv_scratch_avx2(&g);
  float *y0 = rnd(n), *y1 = malloc((size_t)n * 4), *s = malloc((size_t)need * 4);
  memcpy(y1, y0, (size_t)n * 4);
  reel_f32_conv2d_generic(d, y0, w, b, x0, d->in_c1 ? x1 : NULL);
  if (k == DIRECT_IGEMM) {
    scratch_check(need, reel_conv2d_igemm_scratch_avx2(d), "igemm", d);
    pack_conv_igemm(wp, w, d->out_c, in_c, d->k_h, d->k_w);
    reel_f32_conv2d_igemm_avx2(d, y1, wp, b, x0, d->in_c1 ? x1 : NULL, s);
  } else {
    scratch_check(need, reel_conv2d_scratch_avx2(d), "direct", d);
    pack_conv_avx2(wp, w, d->out_c, in_c, d->k_h, d->k_w);
    reel_f32_conv2d_avx2(d, y1, wp, b, x0, d->in_c1 ? x1 : NULL, s);
  }
  double err = maxdiff(y0, y1, n);
  free(w), free(b), free(x0), free(x1), free(wp), free(y0), free(y1), free(s);
  return err;
}

/* A conv through both direct kernels, each noted in its own record. */
static void conv_both(Worst *pixels, Worst *igemm, reel_conv2d_desc *d) {
  note(pixels, conv_diff(d, DIRECT_PIXELS), "%s", conv_shape(d));
  note(igemm, conv_diff(d, DIRECT_IGEMM), "%s", conv_shape(d));
}

/* out = floor((in + pads - dil (k - 1) - 1) / stride) + 1, PyTorch's. */
static int conv_out(int in, int pads, int k, int stride, int dil) {
  int span = in + pads - dil * (k - 1) - 1;
  return span < 0 ? 0 : span / stride + 1;
}

static void conv(void) {
  Worst err = {0}, err_s = {0}, ig = {0}, ig_s = {0}, ig_wide = {0};
  for (int trial = 0; trial < 60; trial++) { /* stride 1: the ConvLSTM and ResNet body */
    reel_conv2d_desc d = {0};
    int k = 1 + 2 * (trial % 3), pad = trial % 4 == 0 ? 0 : k / 2;
    d.in_c0 = 1 + trial % 5;
    d.in_c1 = trial % 3 ? trial % 4 : 0;
    d.in_h = 3 + trial % 7;
    d.in_w = 2 + (trial * 5) % 23;
    d.k_h = d.k_w = k;
    d.stride_h = d.stride_w = d.dil_h = d.dil_w = d.groups = 1;
    d.pad_top = d.pad_left = pad;
    d.out_h = d.in_h + 2 * pad - k + 1;
    d.out_w = d.in_w + 2 * pad - k + 1;
    if (d.out_h < 1 || d.out_w < 1)
      continue;
    d.out_c = 1 + trial % 9;
    d.act = trial / 3 % REEL_ACT_COUNT; /* every activation with every kernel size */
    d.alpha = 0.1f;
    d.accumulate = trial % 5 == 4;
    conv_both(&err, &ig, &d);
  }
  /* Strides, dilations, non-square kernels and uneven padding, on maps
   * narrower than a tile (flat tiling) and wider (row tiling). */
  for (int trial = 0; trial < 200; trial++) {
    reel_conv2d_desc d = {0};
    d.in_c0 = 1 + trial % 7;
    d.in_c1 = trial % 4 ? trial % 3 : 0;
    d.in_h = 1 + (trial * 7) % 29;
    d.in_w = 1 + (trial * 11) % 41;
    d.k_h = 1 + trial % 7;
    d.k_w = 1 + (trial / 7) % 5;
    d.stride_h = 1 + trial % 3;
    d.stride_w = 1 + (trial / 3) % 3;
    d.dil_h = 1 + (trial / 9) % 2;
    d.dil_w = 1 + (trial / 5) % 3;
    d.pad_top = (trial / 2) % 4;
    d.pad_left = (trial / 4) % 4;
    d.out_h = conv_out(d.in_h, d.pad_top + trial % 2, d.k_h, d.stride_h, d.dil_h);
    d.out_w = conv_out(d.in_w, d.pad_left + (trial / 2) % 3, d.k_w, d.stride_w, d.dil_w);
    if (d.out_h < 1 || d.out_w < 1)
      continue;
    d.groups = 1;
    d.out_c = 1 + trial % 13;
    d.act = trial % REEL_ACT_COUNT;
    d.alpha = 0.1f;
    d.accumulate = trial % 7 == 3;
    conv_both(&err_s, &ig_s, &d);
  }
  /* Wide channels, as the implicit GEMM blocks them: input channels past one chunk of
   * filters (192 taps: 21 channels of 3x3, 192 of 1x1), output channels past one and two
   * blocks of 32 (and a short last block), pixel counts off the tiles of 3 and the
   * epilogue's 8, strides and dilations. */
  for (int trial = 0; trial < 24; trial++) {
    reel_conv2d_desc d = {0};
    int k = trial % 4 == 3 ? 1 : 3 + 2 * (trial % 5 == 4);
    d.in_c0 = 5 + (trial * 17) % 60;
    d.in_c1 = trial % 3 == 1 ? 3 + trial : 0;
    if (k == 1 && trial % 8 == 3)
      d.in_c0 = 190 + trial; /* past one 1x1 chunk */
    d.in_h = 2 + (trial * 5) % 12;
    d.in_w = 2 + (trial * 7) % 15;
    d.k_h = d.k_w = k;
    d.stride_h = d.stride_w = 1 + trial % 2;
    d.dil_h = d.dil_w = 1 + (trial % 6 == 5);
    d.pad_top = d.pad_left = k / 2 * d.dil_h;
    d.out_h = conv_out(d.in_h, 2 * d.pad_top, k, d.stride_h, d.dil_h);
    d.out_w = conv_out(d.in_w, 2 * d.pad_left, k, d.stride_w, d.dil_w);
    if (d.out_h < 1 || d.out_w < 1)
      continue;
    d.groups = 1;
    d.out_c = 31 + (trial * 13) % 40;
    d.act = trial % REEL_ACT_COUNT;
    d.alpha = 0.1f;
    d.accumulate = trial % 5 == 2;
    note(&ig_wide, conv_diff(&d, DIRECT_IGEMM), "%s", conv_shape(&d));
  }
  report("conv2d", &err);
  report("conv2d_strided", &err_s);
  report("conv2d_igemm", &ig);
  report("conv2d_igemm_strided", &ig_s);
  report("conv2d_igemm_wide", &ig_wide);
}

/* Winograd F(2x2, 3x3) against the generic direct conv: odd and even map
 * sizes (tiles cut by the border), bands of one and of several tile rows,
 * rows of tiles that cross a block of 16, channel counts around the blocks
 * of 6, every activation. */
static void conv_winograd(void) {
  Worst err = {0};
  for (int trial = 0; trial < 40; trial++) {
    reel_conv2d_desc d = {0};
    d.in_c0 = 1 + (trial * 7) % 19;
    d.in_c1 = trial % 3 ? (trial * 5) % 17 : 0;
    d.in_h = 1 + (trial * 5) % 23;
    d.in_w = 1 + (trial * 13) % 150;
    d.k_h = d.k_w = 3;
    d.stride_h = d.stride_w = d.dil_h = d.dil_w = d.groups = 1;
    d.pad_top = trial % 2;
    d.pad_left = (trial / 2) % 2;
    d.out_h = conv_out(d.in_h, d.pad_top + (trial / 4) % 2, 3, 1, 1);
    d.out_w = conv_out(d.in_w, d.pad_left + (trial / 8) % 2, 3, 1, 1);
    if (d.out_h < 1 || d.out_w < 1)
      continue;
    d.out_c = 1 + (trial * 3) % 20;
    d.act = trial % REEL_ACT_COUNT;
    d.alpha = 0.1f;
    int in_c = d.in_c0 + d.in_c1, n = d.out_c * d.out_h * d.out_w;
    float *w = rnd((size_t)d.out_c * in_c * 9), *b = rnd(d.out_c);
    float *x0 = rnd((size_t)d.in_c0 * d.in_h * d.in_w), *x1 = rnd((size_t)d.in_c1 * d.in_h * d.in_w + 1);
    float *u = calloc((size_t)(d.out_c + REEL_CONV_AVX2_OC_BLOCK - 1) / REEL_CONV_AVX2_OC_BLOCK * REEL_CONV_AVX2_OC_BLOCK * 16 * in_c, 4);
    float *y0 = malloc((size_t)n * 4), *y1 = malloc((size_t)n * 4);
    Geom g = geom_of(&d);
    float *s = malloc((size_t)conv_scratch_winograd(&g) * 4);
    scratch_check(conv_scratch_winograd(&g), reel_conv2d_winograd_scratch_avx2(&d), "winograd", &d);
    pack_conv_winograd(u, w, d.out_c, in_c);
    reel_f32_conv2d_generic(&d, y0, w, trial % 5 ? b : NULL, x0, d.in_c1 ? x1 : NULL);
    reel_f32_conv2d_winograd_avx2(&d, y1, u, trial % 5 ? b : NULL, x0, d.in_c1 ? x1 : NULL, s);
    note(&err, maxdiff(y0, y1, n), "%s bias=%s", conv_shape(&d), trial % 5 ? "yes" : "none");
    free(w), free(b), free(x0), free(x1), free(u), free(y0), free(y1), free(s);
  }
  report("conv2d_winograd", &err);
}

/* Max pooling: the AVX2 kernel must give the generic one's values, NaN
 * and infinities included, on windows clipped by padding and ceil_mode,
 * strides 1, 2 and 3 (its three ways of loading), and rows wider than
 * its column chunk.  Prints the count of differing outputs. */
static void maxpool(void) {
  long bad = 0;
  char first[256] = "";
  for (int trial = 0; trial < 300; trial++) {
    reel_pool2d_desc d = {0};
    d.c = 1 + trial % 5;
    d.k_h = 1 + trial % 4;
    d.k_w = trial % 50 == 7 ? 100 + trial % 29 : 1 + (trial / 4) % 6;
    d.stride_h = 1 + trial % 3;
    d.stride_w = 1 + (trial / 3) % 3;
    d.in_h = d.k_h + trial % 9;
    d.in_w = d.k_w + (trial % 25 == 3 ? 2000 + trial : (trial * 7) % 40);
    d.pad_top = (trial / 5) % (d.k_h / 2 + 1);
    d.pad_left = (trial / 7) % (d.k_w / 2 + 1);
    int ceil_mode = trial % 2;
    /* PyTorch's sizes: pads both sides; with ceil_mode the last window starts inside */
    int sh = d.in_h + 2 * d.pad_top - d.k_h, sw = d.in_w + 2 * d.pad_left - d.k_w;
    d.out_h = (ceil_mode ? (sh + d.stride_h - 1) / d.stride_h : sh / d.stride_h) + 1;
    d.out_w = (ceil_mode ? (sw + d.stride_w - 1) / d.stride_w : sw / d.stride_w) + 1;
    if ((d.out_h - 1) * d.stride_h >= d.in_h + d.pad_top)
      d.out_h--;
    if ((d.out_w - 1) * d.stride_w >= d.in_w + d.pad_left)
      d.out_w--;
    long nx = (long)d.c * d.in_h * d.in_w, ny = (long)d.c * d.out_h * d.out_w;
    float *x = rnd((size_t)nx), *y0 = malloc((size_t)ny * 4), *y1 = malloc((size_t)ny * 4);
    for (long i = trial; i < nx; i += 37) /* specials among the values */
      x[i] = (float[]){NAN, -INFINITY, INFINITY, -0.0f}[(i / 37) % 4];
    reel_f32_maxpool2d_generic(&d, y0, x);
    reel_f32_maxpool2d_avx2(&d, y1, x);
    for (long i = 0; i < ny; i++) /* NaN for NaN; +0 and -0 tie */
      if (!(y0[i] == y1[i] || (isnan(y0[i]) && isnan(y1[i]))) && !bad++)
        snprintf(first, sizeof first,
                 "c=%d in=%dx%d out=%dx%d k=%dx%d stride=%dx%d pad=%d,%d ceil_mode=%d output=%ld: "
                 "%g vs generic %g",
                 d.c, d.in_h, d.in_w, d.out_h, d.out_w, d.k_h, d.k_w, d.stride_h, d.stride_w,
                 d.pad_top, d.pad_left, ceil_mode, i, y1[i], y0[i]);
    free(x), free(y0), free(y1);
  }
  printf("maxpool_mismatches %ld %s\n", bad, bad ? first : "(none)");
}

/* Every activation code through the stand-alone kernel, on [-8, 8]: the
 * largest difference relative to max(1, |y|), as unbounded activations
 * (gelu, silu, elu) grow with x. */
static void activations(void) {
  for (int act = 0; act < REEL_ACT_COUNT; act++) {
    Worst err = {0};
    for (int a = 0; a < NS; a++) {
      int n = 8 * sizes[a];
      float *x = rnd(n), *y0 = malloc(n * 4), *y1 = malloc(n * 4);
      for (int i = 0; i < n; i++)
        x[i] *= 8;
      reel_f32_activation_generic(y0, x, n, act, 0.1f);
      reel_f32_activation_avx2(y1, x, n, act, 0.1f);
      for (int i = 0; i < n; i++)
        note(&err, fabs((double)y0[i] - y1[i]) / fmax(1.0, fabs((double)y0[i])),
             "n=%d alpha=0.1 x=%.9g: %.9g vs generic %.9g", n, x[i], y1[i], y0[i]);
      free(x), free(y0), free(y1);
    }
    char name[64];
    snprintf(name, sizeof name, "activation_%s", act_name(act));
    report(name, &err);
  }
}

/* PReLU: one weight, one per channel of hw floats, one per element. */
static void prelu(void) {
  Worst err = {0};
  for (int a = 0; a < NS; a++)
    for (int b = 0; b < NS; b++) {
      int c = sizes[a], hw = sizes[b], n = c * hw;
      float *x = rnd(n), *w = rnd(c), *y0 = malloc(n * 4), *y1 = malloc(n * 4);
      reel_f32_prelu_generic(y0, x, w, c, hw), reel_f32_prelu_avx2(y1, x, w, c, hw);
      note(&err, maxdiff(y0, y1, n), "c=%d hw=%d", c, hw);
      reel_f32_prelu_generic(y0, x, w, 1, n), reel_f32_prelu_avx2(y1, x, w, 1, n);
      note(&err, maxdiff(y0, y1, n), "c=1 hw=%d", n);
      reel_f32_prelu_generic(y0, x, w, n < c ? n : c, 1), reel_f32_prelu_avx2(y1, x, w, n < c ? n : c, 1);
      note(&err, maxdiff(y0, y1, n < c ? n : c), "c=%d hw=1", n < c ? n : c);
      free(x), free(w), free(y0), free(y1);
    }
  report("prelu", &err);
}

static void mul2(void) {
  Worst err = {0};
  for (int a = 0; a < NS; a++) {
    int n = 3 * sizes[a];
    float *x = rnd(n), *z = rnd(n), *y0 = malloc(n * 4), *y1 = malloc(n * 4);
    reel_f32_mul2_generic(y0, x, z, n), reel_f32_mul2_avx2(y1, x, z, n);
    note(&err, maxdiff(y0, y1, n), "n=%d", n);
    free(x), free(z), free(y0), free(y1);
  }
  report("mul2", &err);
}

/* The cell kernels' gate math. */
static void cells(void) {
  Worst ec = {0}, ep = {0}, eg = {0};
  for (int a = 0; a < NS; a++) {
    int n = sizes[a];
    float *x = rnd(4 * n), *y0 = malloc(4 * n * 4), *y1 = malloc(4 * n * 4);
    for (int i = 0; i < 4 * n; i++)
      x[i] *= 8;
    float *h0 = rnd(n), *c0 = rnd(n), *h1 = malloc(n * 4), *c1 = malloc(n * 4), *p = rnd(3 * n);
    memcpy(h1, h0, n * 4), memcpy(c1, c0, n * 4);
    reel_lstm_cell_generic(h0, c0, x, n), reel_lstm_cell_avx2(h1, c1, x, n);
    note(&ec, fmax(maxdiff(h0, h1, n), maxdiff(c0, c1, n)), "n=%d", n);
    reel_lstm_peephole_cell_generic(h0, c0, x, p, p + n, p + 2 * n, n);
    reel_lstm_peephole_cell_avx2(h1, c1, x, p, p + n, p + 2 * n, n);
    note(&ep, fmax(maxdiff(h0, h1, n), maxdiff(c0, c1, n)), "n=%d", n);
    reel_convgru_reset_generic(y0, x, h0, n), reel_convgru_reset_avx2(y1, x, h0, n);
    note(&eg, maxdiff(y0, y1, n), "reset n=%d", n);
    memcpy(h1, h0, n * 4);
    reel_convgru_update_generic(h0, x, x + 2 * n, n), reel_convgru_update_avx2(h1, x, x + 2 * n, n);
    note(&eg, maxdiff(h0, h1, n), "update n=%d", n);
    free(x), free(y0), free(y1), free(h0), free(c0), free(h1), free(c1), free(p);
  }
  report("lstm_cell", &ec);
  report("lstm_peephole_cell", &ep);
  report("convgru_cells", &eg);
}

/* ---- special values: each AVX2 kernel gives its generic twin's NaN and
 * infinities (which golden.test holds to PyTorch's), and finite values
 * within 1e-4 relative to max(1, |y|) ---- */

static const float specials_all[] = {NAN, -NAN, INFINITY, -INFINITY, -0.0f, 0.0f, 1e-40f, -1e-40f,
                                     1e30f, -1e30f, 100.0f, -100.0f, 88.8f, -88.8f, 89.5f, -89.5f,
                                     -87.5f, 3.0f, -3.0f, 6.0f};
/* For kernels that sum products: no huge values, whose cancellation
 * depends on the order of the sum. */
static const float specials_summed[] = {NAN, INFINITY, -INFINITY, -0.0f, 1e-40f, -1e-40f};

/* Plants specials[] at every stride-th value of x, from `first` on. */
static void plant(float *x, long n, long first, long stride, const float *specials, int count) {
  for (long i = first; i < n; i += stride)
    x[i] = specials[(i / stride) % count];
}
#define PLANT(x, n, first, stride, set) plant(x, n, first, stride, set, (int)(sizeof set / sizeof set[0]))

typedef struct {
  long bad;
  char first[300];
} Mismatches;

/* Counts the outputs where y (AVX2) and y0 (generic) disagree; the first
 * is kept with WHERE for the report. */
static void agree(Mismatches *m, const float *y0, const float *y1, long n, const char *fmt, ...) {
  for (long i = 0; i < n; i++) {
    int ok = isnan(y0[i]) || isnan(y1[i]) ? isnan(y0[i]) && isnan(y1[i])
             : isinf(y0[i]) || isinf(y1[i]) ? y0[i] == y1[i]
                                            : fabs((double)y0[i] - y1[i]) <= 1e-4 * fmax(1.0, fabs((double)y0[i]));
    if (ok || m->bad++)
      continue;
    char where[220];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(where, sizeof where, fmt, ap);
    va_end(ap);
    snprintf(m->first, sizeof m->first, "%s output=%ld: %.9g vs generic %.9g", where, i, y1[i], y0[i]);
  }
}

static void report_mismatches(const char *name, const Mismatches *m) {
  printf("%s %ld %s\n", name, m->bad, m->bad ? m->first : "(none)");
}

static void specials_activation(void) {
  Mismatches m = {0};
  enum { N = 3 * 20 + 5 };
  float x[N], y0[N], y1[N];
  for (int act = 0; act < REEL_ACT_COUNT; act++) {
    PLANT(x, N, 0, 1, specials_all);
    reel_f32_activation_generic(y0, x, N, act, 0.1f);
    reel_f32_activation_avx2(y1, x, N, act, 0.1f);
    agree(&m, y0, y1, N, "act=%s", act_name(act));
  }
  report_mismatches("specials_activation_mismatches", &m);
}

static void specials_gemv(void) {
  Mismatches m = {0};
  for (int a = 0; a < NS; a++) {
    int rows = sizes[a], cols = sizes[(a + 3) % NS];
    float *w = rnd((size_t)rows * cols), *b = rnd((size_t)round8(rows)), *x = rnd(cols);
    float *wp = calloc((size_t)round8(rows) * cols, sizeof *wp), *y0 = malloc(rows * 4), *y1 = malloc(rows * 4);
    pack_panels8(wp, w, rows, cols);
    for (int k = 0; k < 6; k++) { /* one special of the set in x, and each through every epilogue */
      float *xs = rnd(cols);
      xs[(k * 5) % cols] = specials_summed[k];
      for (int act = REEL_ACT_NONE; act < REEL_ACT_COUNT; act++) {
        reel_f32_gemv_generic(y0, w, b, xs, rows, cols, act, 0.1f);
        reel_f32_gemv_avx2(y1, wp, b, xs, rows, cols, act, 0.1f);
        agree(&m, y0, y1, rows, "rows=%d cols=%d x[%d]=%g act=%s", rows, cols, (k * 5) % cols,
              specials_summed[k], act_name(act));
      }
      free(xs);
    }
    /* huge biases: the epilogues on their largest finite inputs */
    PLANT(b, rows, 0, 1, specials_all);
    for (int act = REEL_ACT_NONE; act < REEL_ACT_COUNT; act++) {
      reel_f32_gemv_generic(y0, w, b, x, rows, cols, act, 0.1f);
      reel_f32_gemv_avx2(y1, wp, b, x, rows, cols, act, 0.1f);
      agree(&m, y0, y1, rows, "rows=%d cols=%d special biases act=%s", rows, cols, act_name(act));
    }
    free(w), free(b), free(x), free(wp), free(y0), free(y1);
  }
  report_mismatches("specials_gemv_mismatches", &m);
}

/* The direct and Winograd convs on maps with specials (Winograd's
 * transforms would spread one NaN or infinity over a whole tile). */
static void specials_conv(void) {
  Mismatches md = {0}, mw = {0}, mi = {0};
  for (int trial = 0; trial < 24; trial++) {
    reel_conv2d_desc d = {0};
    d.in_c0 = 1 + trial % 7;
    d.in_c1 = trial % 3 ? trial % 4 : 0;
    d.in_h = 2 + trial % 9;
    d.in_w = 3 + (trial * 7) % 20;
    d.k_h = d.k_w = 3;
    d.stride_h = d.stride_w = d.dil_h = d.dil_w = d.groups = 1;
    d.pad_top = d.pad_left = 1;
    d.out_h = d.in_h, d.out_w = d.in_w;
    d.out_c = 1 + (trial * 5) % 13 + (trial % 3 == 2 ? 32 : 0);
    d.act = trial % REEL_ACT_COUNT;
    d.alpha = 0.1f;
    int in_c = d.in_c0 + d.in_c1, n = d.out_c * d.out_h * d.out_w;
    int oc_pad32 = (d.out_c + REEL_CONV_IGEMM_AVX2_OC_BLOCK - 1) / REEL_CONV_IGEMM_AVX2_OC_BLOCK *
                   REEL_CONV_IGEMM_AVX2_OC_BLOCK;
    long n0 = (long)d.in_c0 * d.in_h * d.in_w, n1 = (long)d.in_c1 * d.in_h * d.in_w;
    float *w = rnd((size_t)d.out_c * in_c * 9), *b = rnd(d.out_c);
    float *x0 = rnd((size_t)n0), *x1 = rnd((size_t)n1 + 1);
    /* one special in one input (trial % 2: x0 or x1), or in both */
    float *at = d.in_c1 && trial % 2 ? x1 : x0;
    long n_at = at == x1 ? n1 : n0;
    at[(trial * 13) % n_at] = specials_summed[trial % 6];
    if (trial % 4 == 3)
      x0[(trial * 7) % n0] = specials_summed[(trial + 1) % 6];
    float *wp = calloc((size_t)(d.out_c + REEL_CONV_AVX2_OC_BLOCK - 1) / REEL_CONV_AVX2_OC_BLOCK *
                           REEL_CONV_AVX2_OC_BLOCK * in_c * 9, 4);
    float *u = calloc((size_t)(d.out_c + REEL_CONV_AVX2_OC_BLOCK - 1) / REEL_CONV_AVX2_OC_BLOCK *
                          REEL_CONV_AVX2_OC_BLOCK * 16 * in_c, 4);
    Geom g = geom_of(&d);
    float *s = malloc((size_t)conv_scratch_avx2(&g) * 4), *sw = malloc((size_t)conv_scratch_winograd(&g) * 4);
    float *y0 = malloc((size_t)n * 4), *y1 = malloc((size_t)n * 4);
    pack_conv_avx2(wp, w, d.out_c, in_c, 3, 3);
    pack_conv_winograd(u, w, d.out_c, in_c);
    reel_f32_conv2d_generic(&d, y0, w, b, x0, d.in_c1 ? x1 : NULL);
    reel_f32_conv2d_avx2(&d, y1, wp, b, x0, d.in_c1 ? x1 : NULL, s);
    agree(&md, y0, y1, n, "%s", conv_shape(&d));
    reel_f32_conv2d_winograd_avx2(&d, y1, u, b, x0, d.in_c1 ? x1 : NULL, sw);
    agree(&mw, y0, y1, n, "%s", conv_shape(&d));
    float *wg = calloc((size_t)oc_pad32 * in_c * 9, 4), *sg = malloc((size_t)conv_scratch_igemm(&g) * 4);
    pack_conv_igemm(wg, w, d.out_c, in_c, 3, 3);
    reel_f32_conv2d_igemm_avx2(&d, y1, wg, b, x0, d.in_c1 ? x1 : NULL, sg);
    agree(&mi, y0, y1, n, "%s", conv_shape(&d));
    free(wg), free(sg);
    free(w), free(b), free(x0), free(x1), free(wp), free(u), free(s), free(sw), free(y0), free(y1);
  }
  report_mismatches("specials_conv2d_mismatches", &md);
  report_mismatches("specials_conv2d_winograd_mismatches", &mw);
  report_mismatches("specials_conv2d_igemm_mismatches", &mi);
}

/* The cells on special gate pre-activations and states; the fused LSTM
 * and GRU steps on an input with a special value. */
static void specials_cells(void) {
  Mismatches m = {0}, ms = {0};
  for (int a = 0; a < NS; a++) {
    int n = sizes[a];
    float *x = rnd(4 * n), *h0 = rnd(n), *c0 = rnd(n), *h1 = malloc(n * 4), *c1 = malloc(n * 4);
    float *p = rnd(3 * n), *y0 = malloc(n * 4), *y1 = malloc(n * 4);
    PLANT(x, 4 * n, a % 3, 3, specials_all);
    PLANT(c0, n, a % 2, 5, specials_all);
    memcpy(h1, h0, n * 4), memcpy(c1, c0, n * 4);
    reel_lstm_cell_generic(h0, c0, x, n), reel_lstm_cell_avx2(h1, c1, x, n);
    agree(&m, h0, h1, n, "lstm_cell n=%d h", n), agree(&m, c0, c1, n, "lstm_cell n=%d c", n);
    reel_lstm_peephole_cell_generic(h0, c0, x, p, p + n, p + 2 * n, n);
    reel_lstm_peephole_cell_avx2(h1, c1, x, p, p + n, p + 2 * n, n);
    agree(&m, h0, h1, n, "lstm_peephole_cell n=%d h", n), agree(&m, c0, c1, n, "lstm_peephole_cell n=%d c", n);
    PLANT(h0, n, 0, 4, specials_all);
    memcpy(h1, h0, n * 4);
    reel_convgru_reset_generic(y0, x, h0, n), reel_convgru_reset_avx2(y1, x, h0, n);
    agree(&m, y0, y1, n, "convgru_reset n=%d", n);
    reel_convgru_update_generic(h0, x, x + 2 * n, n), reel_convgru_update_avx2(h1, x, x + 2 * n, n);
    agree(&m, h0, h1, n, "convgru_update n=%d", n);
    free(x), free(h0), free(c0), free(h1), free(c1), free(p), free(y0), free(y1);

    /* the fused steps: x with one special of the summed set */
    int H = n, nx = sizes[(a + 4) % NS], blocks = (H + 7) / 8;
    float *wih = rnd((size_t)4 * H * nx), *whh = rnd((size_t)4 * H * H), *bih = rnd(4 * H), *bhh = rnd(4 * H);
    float *xs = rnd(nx), *g = malloc(4 * H * 4), *gh = malloc(3 * H * 4), *s = malloc(H * 4);
    float *wcat = malloc((size_t)4 * H * (nx + H) * 4), *bsum = malloc(4 * H * 4);
    float *wp = calloc((size_t)blocks * 32 * (nx + H), 4), *bp = calloc((size_t)blocks * 32, 4);
    float *hh0 = rnd(H), *cc0 = rnd(H), *hh1 = malloc(H * 4), *cc1 = malloc(H * 4);
    xs[a % nx] = specials_summed[a % 6];
    for (int r = 0; r < 4 * H; r++) {
      memcpy(wcat + (size_t)r * (nx + H), wih + (size_t)r * nx, (size_t)nx * 4);
      memcpy(wcat + (size_t)r * (nx + H) + nx, whh + (size_t)r * H, (size_t)H * 4);
      bsum[r] = bih[r] + bhh[r];
    }
    memcpy(hh1, hh0, H * 4), memcpy(cc1, cc0, H * 4);
    reel_f32_gemv_cat2_generic(g, wcat, bsum, xs, nx, hh0, H, 4 * H);
    reel_lstm_cell_generic(hh0, cc0, g, H);
    pack_lstm(wp, bp, wih, whh, bih, bhh, nx, H);
    reel_lstm_step_avx2(hh1, cc1, s, wp, bp, xs, nx, H, NULL, NULL, NULL, 0);
    agree(&ms, hh0, hh1, H, "lstm_step hidden=%d nx=%d x[%d]=%g h", H, nx, a % nx, xs[a % nx]);
    agree(&ms, cc0, cc1, H, "lstm_step hidden=%d nx=%d x[%d]=%g c", H, nx, a % nx, xs[a % nx]);
    memcpy(hh1, hh0, H * 4);
    reel_f32_gemv_generic(g, wih, bih, xs, 3 * H, nx, REEL_ACT_NONE, 0.0f);
    reel_f32_gemv_generic(gh, whh, bhh, hh0, 3 * H, H, REEL_ACT_NONE, 0.0f);
    reel_gru_cell_generic(hh0, g, gh, H);
    memset(wp, 0, (size_t)blocks * 32 * (nx + H) * 4), memset(bp, 0, (size_t)blocks * 32 * 4);
    pack_gru(wp, bp, wih, whh, bih, bhh, nx, H);
    reel_gru_step_avx2(hh1, s, wp, bp, xs, nx, H, 0);
    agree(&ms, hh0, hh1, H, "gru_step hidden=%d nx=%d x[%d]=%g", H, nx, a % nx, xs[a % nx]);
    free(wih), free(whh), free(bih), free(bhh), free(xs), free(g), free(gh), free(s), free(wcat);
    free(bsum), free(wp), free(bp), free(hh0), free(cc0), free(hh1), free(cc1);
  }
  report_mismatches("specials_cells_mismatches", &m);
  report_mismatches("specials_steps_mismatches", &ms);
}

/* PReLU and the element-wise product on specials (inf * 0 is NaN). */
static void specials_elementwise(void) {
  Mismatches m = {0};
  enum { N = 2 * 20 + 3 };
  float x[N], z[N], w[N], y0[N], y1[N];
  PLANT(x, N, 0, 1, specials_all);
  for (int i = 0; i < N; i++)
    z[i] = specials_all[(i * 7 + 3) % 20], w[i] = i % 3 ? 0.25f : -0.0f;
  reel_f32_prelu_generic(y0, x, w, N, 1), reel_f32_prelu_avx2(y1, x, w, N, 1);
  agree(&m, y0, y1, N, "prelu");
  reel_f32_mul2_generic(y0, x, z, N), reel_f32_mul2_avx2(y1, x, z, N);
  agree(&m, y0, y1, N, "mul2");
  report_mismatches("specials_elementwise_mismatches", &m);
}

/* The documented bounds of reel_vmath_avx2.h, against double libm. */
static void vmath(void) {
  enum { N = 60001 + 6 };
  static float x[N], s[N], t[N], g[N];
  Worst es = {0}, et = {0}, eg = {0};
  for (int i = 0; i < 60001; i++)
    x[i] = -30.0f + 0.001f * (float)i;
  x[60001] = -100.0f, x[60002] = 100.0f, x[60003] = -1e30f, x[60004] = 1e30f;
  x[60005] = 1e-30f, x[60006] = -88.0f;
  reel_f32_activation_avx2(s, x, N, REEL_ACT_SIGMOID, 0.0f);
  reel_f32_activation_avx2(t, x, N, REEL_ACT_TANH, 0.0f);
  reel_f32_activation_avx2(g, x, N, REEL_ACT_GELU, 0.0f);
  for (int i = 0; i < N; i++) {
    double v = x[i];
    note(&es, fabs(s[i] - 1.0 / (1.0 + exp(-v))), "x=%.9g", x[i]);
    note(&et, fabs(t[i] - tanh(v)), "x=%.9g", x[i]);
    /* gelu grows with |x|: its error relative to max(1, |x|) */
    note(&eg, fabs(g[i] - 0.5 * v * erfc(-v / sqrt(2.0))) / fmax(1.0, fabs(v)), "x=%.9g", x[i]);
  }
  report("vmath_sigmoid", &es);
  report("vmath_tanh", &et);
  report("vmath_gelu", &eg);
}

/* Transposed convolution: the AVX2 kernel (stride phases, FMAs) against the generic
 * scatter, relative to max(1, |y|): strides 1 to 3, padding, output_padding, dilation,
 * groups, every kernel side to 5, widths that leave partial vectors, a fused activation. */
static void conv_transpose(void) {
  Worst e = {0};
  for (int trial = 0; trial < 120; trial++) {
    reel_conv2d_desc d = {0};
    d.groups = 1 + trial % 2;
    d.in_c0 = d.groups * (1 + trial % 3);
    d.out_c = d.groups * (1 + (trial / 3) % 3);
    d.in_h = 1 + trial % 6, d.in_w = 1 + (trial * 7) % 19;
    d.k_h = 1 + trial % 5, d.k_w = 1 + (trial / 5) % 5;
    d.stride_h = 1 + trial % 3, d.stride_w = 1 + (trial / 3) % 3;
    d.dil_h = 1 + (trial / 7) % 2, d.dil_w = 1 + (trial / 11) % 2;
    d.pad_top = (trial / 2) % d.k_h, d.pad_left = (trial / 3) % d.k_w;
    int op_h = (trial / 13) % (d.stride_h > d.dil_h ? d.stride_h : d.dil_h);
    int op_w = (trial / 17) % (d.stride_w > d.dil_w ? d.stride_w : d.dil_w);
    d.out_h = (d.in_h - 1) * d.stride_h - 2 * d.pad_top + d.dil_h * (d.k_h - 1) + op_h + 1;
    d.out_w = (d.in_w - 1) * d.stride_w - 2 * d.pad_left + d.dil_w * (d.k_w - 1) + op_w + 1;
    if (d.out_h < 1 || d.out_w < 1)
      continue;
    d.act = trial % 4 == 1 ? REEL_ACT_RELU : trial % 4 == 3 ? REEL_ACT_TANH : REEL_ACT_NONE;
    long nw = (long)d.in_c0 * (d.out_c / d.groups) * d.k_h * d.k_w;
    long ny = (long)d.out_c * d.out_h * d.out_w;
    float *x = rnd((size_t)d.in_c0 * d.in_h * d.in_w), *w = rnd((size_t)nw), *b = rnd(d.out_c);
    float *y0 = malloc((size_t)ny * 4), *y1 = malloc((size_t)ny * 4);
    float *scratch = malloc((size_t)reel_conv_transpose2d_scratch_avx2(&d) * 4);
    reel_f32_conv_transpose2d_generic(&d, y0, w, trial % 5 ? b : NULL, x);
    reel_f32_conv_transpose2d_avx2(&d, y1, w, trial % 5 ? b : NULL, x, scratch);
    for (long i = 0; i < ny; i++)
      note(&e, fabs((double)y0[i] - y1[i]) / fmax(1.0, fabs((double)y0[i])),
           "in=%dx%dx%d out=%dx%dx%d k=%dx%d stride=%dx%d dil=%dx%d pad=%d,%d groups=%d",
           d.in_c0, d.in_h, d.in_w, d.out_c, d.out_h, d.out_w, d.k_h, d.k_w, d.stride_h,
           d.stride_w, d.dil_h, d.dil_w, d.pad_top, d.pad_left, d.groups);
    free(x), free(w), free(b), free(y0), free(y1), free(scratch);
  }
  report("conv_transpose", &e);
}

/* Upsampling: the AVX2 kernels against the generic ones (the same products in the same
 * order; a compiler that fuses the generic one's into multiply-adds, as clang does, makes
 * them differ by an ulp), on output widths of full and partial vectors, tables that repeat
 * and skip rows, and special values among the inputs (NaN and infinities must agree). */
static void upsample(void) {
  Worst e = {0};
  for (int trial = 0; trial < 200; trial++) {
    int c = 1 + trial % 3, h = 1 + trial % 7, w = 1 + (trial * 5) % 23;
    int oh = 1 + (trial * 3) % 17, ow = 1 + (trial * 7) % 41, bilinear = trial % 2;
    float *x = rnd((size_t)c * h * w), *t = malloc((size_t)3 * (oh + ow) * 4);
    float *y0 = malloc((size_t)c * oh * ow * 4), *y1 = malloc((size_t)c * oh * ow * 4);
    for (long i = trial; i < (long)c * h * w; i += 11)
      x[i] = (float[]){NAN, -INFINITY, INFINITY, -0.0f, 3e38f}[(i / 11) % 5];
    int n[2] = {oh, ow}, in[2] = {h, w};
    for (int axis = 0; axis < 2; axis++) { /* rows, then columns */
      int m = n[axis];
      float *base = axis == 0 ? t : t + (bilinear ? 3 : 1) * oh;
      for (int o = 0; o < m; o++) {
        int i0 = (o * in[axis]) / m;
        base[o] = (float)i0;
        if (bilinear) {
          base[m + o] = (float)(i0 + (i0 < in[axis] - 1));
          base[2 * m + o] = (float)((o * 37) % 100) / 100.0f;
        }
      }
    }
    void (*gen)(float *, const float *, const float *, int, int, int, int, int) =
        bilinear ? reel_f32_upsample_bilinear_generic : reel_f32_upsample_nearest_generic;
    void (*vec)(float *, const float *, const float *, int, int, int, int, int) =
        bilinear ? reel_f32_upsample_bilinear_avx2 : reel_f32_upsample_nearest_avx2;
    gen(y0, x, t, c, h, w, oh, ow);
    vec(y1, x, t, c, h, w, oh, ow);
    for (long i = 0; i < (long)c * oh * ow; i++) {
      double err = isnan(y0[i]) || isnan(y1[i]) ? (isnan(y0[i]) && isnan(y1[i]) ? 0 : INFINITY)
                   : isinf(y0[i]) || isinf(y1[i]) ? (y0[i] == y1[i] ? 0 : INFINITY)
                   : fabs((double)y0[i] - y1[i]) / fmax(1.0, fabs((double)y0[i]));
      note(&e, err, "%s c=%d %dx%d -> %dx%d output=%ld", bilinear ? "bilinear" : "nearest", c,
           h, w, oh, ow, i);
    }
    free(x), free(t), free(y0), free(y1);
  }
  report("upsample", &e);
}

/* One direction of a bidirectional lstm / gru over a window: the AVX2 sequences (packed
 * weights) against the generic ones, every frame's h, full and partial windows, both ways. */
static void rnn_seq(void) {
  Worst e = {0};
  static const int hs[] = {1, 3, 8, 9, 17}, nxs[] = {1, 5, 16};
  for (int a = 0; a < 5; a++)
    for (int c = 0; c < 3; c++)
      for (int trial = 0; trial < 8; trial++) {
        int H = hs[a], nx = nxs[c], n = 1 + trial % 4 + trial / 4 * 3, lstm = trial % 2;
        unsigned long long frames = (unsigned long long)(trial % 3 == 0 ? n - n / 2 : n + trial);
        int rows = (lstm ? 4 : 3) * H, R = round8(rows), reverse = (trial / 2) % 2;
        float *wih = rnd((size_t)rows * nx), *whh = rnd((size_t)rows * H);
        float *bi = rnd((size_t)R), *bh = rnd((size_t)R), *x = rnd((size_t)n * nx);
        float *y0 = calloc((size_t)n * 2 * H, 4), *y1 = calloc((size_t)n * 2 * H, 4);
        float *s0 = malloc((size_t)(2 * R + 2 * H) * 4), *s1 = malloc((size_t)(2 * R + 2 * H) * 4);
        if (lstm) {
          float *cat = malloc((size_t)rows * (nx + H) * 4), *wp = calloc((size_t)R * (nx + H), 4);
          for (int r = 0; r < rows; r++) {
            memcpy(cat + (size_t)r * (nx + H), wih + (size_t)r * nx, (size_t)nx * 4);
            memcpy(cat + (size_t)r * (nx + H) + nx, whh + (size_t)r * H, (size_t)H * 4);
          }
          pack_panels8(wp, cat, rows, nx + H);
          reel_lstm_seq_generic(y0, cat, bi, x, s0, nx, H, n, reverse, frames);
          reel_lstm_seq_avx2(y1, wp, bi, x, s1, nx, H, n, reverse, frames);
          free(cat), free(wp);
        } else {
          float *wip = calloc((size_t)R * nx, 4), *whp = calloc((size_t)R * H, 4);
          pack_panels8(wip, wih, rows, nx);
          pack_panels8(whp, whh, rows, H);
          reel_gru_seq_generic(y0, wih, bi, whh, bh, x, s0, nx, H, n, reverse, frames);
          reel_gru_seq_avx2(y1, wip, bi, whp, bh, x, s1, nx, H, n, reverse, frames);
          free(wip), free(whp);
        }
        note(&e, maxdiff(y0, y1, (size_t)n * 2 * H), "%s hidden=%d nx=%d n=%d frames=%llu reverse=%d",
             lstm ? "lstm" : "gru", H, nx, n, frames, reverse);
        free(wih), free(whh), free(bi), free(bh), free(x), free(y0), free(y1), free(s0), free(s1);
      }
  report("rnn_seq", &e);
}

/* ---- compressed weights: each kernel's bf16 and i8 forms, AVX2 against generic ---- */

/* n random weights that the type holds exactly: bf16 (floats with 8 mantissa bits) or int8
 * (integers in [-127, 127]). */
static float *representable(int type, long n) {
  float *f = rnd((size_t)n);
  for (long k = 0; k < n; k++) {
    uint32_t bits;
    memcpy(&bits, &f[k], 4);
    bits &= 0xffff0000u;
    memcpy(&f[k], &bits, 4);
    if (type == REEL_W_I8)
      f[k] = (float)(int)(f[k] * 127.5f);
  }
  return f;
}

/* Those weights (or packed copies of them) as the kernels read them. */
static void *stored(int type, const float *f, long n) {
  void *w = malloc((size_t)n * (type == REEL_W_I8 ? 1 : 2) + 1);
  for (long k = 0; k < n; k++) {
    uint32_t bits;
    memcpy(&bits, &f[k], 4);
    if (type == REEL_W_I8)
      ((int8_t *)w)[k] = (int8_t)f[k];
    else
      ((uint16_t *)w)[k] = (uint16_t)(bits >> 16);
  }
  return w;
}

static float *scales(long n) { /* positive per-row scales */
  float *s = rnd((size_t)n);
  for (long k = 0; k < n; k++)
    s[k] = 0.01f + fabsf(s[k]) * 0.02f;
  return s;
}

static const char *const type_name[] = {"f32", "bf16", "i8"};

/* max |a - b| / max(1, |a|): compressed weights' sums reach tens. */
static double maxreldiff(const float *a, const float *b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++)
    m = fmax(m, fabs((double)a[i] - b[i]) / fmax(1.0, fabs((double)a[i])));
  return m;
}

static void typed_gemv(void) {
  Worst e = {0};
  for (int type = REEL_W_BF16; type <= REEL_W_I8; type++)
    for (int a = 0; a < NS; a++)
      for (int c = 0; c < NS; c += 3) {
        int rows = sizes[a], n0 = sizes[c], n1 = sizes[(a + c) % NS], cols = n0 + n1, R = round8(rows);
        float *w = representable(type, (long)rows * cols), *wp = calloc((size_t)R * cols, 4);
        float *b = rnd((size_t)R), *x = rnd(cols), *s = scales(2L * R);
        float *y0 = calloc(rows, 4), *y1 = calloc(rows, 4);
        void *q = stored(type, w, (long)rows * cols);
        pack_panels8(wp, w, rows, cols);
        for (int r = 0; type == REEL_W_BF16 && r < rows; r += 8) /* bf16: columns in pairs */
          pair_bf16_vectors(wp + (long)r * cols, cols);
        void *qp = stored(type, wp, (long)R * cols); /* the same values, in panels */
        if (type == REEL_W_I8) {
          reel_f32_gemv_i8_generic(y0, q, s, b, x, rows, cols, REEL_ACT_TANH, 0.1f);
          reel_f32_gemv_i8_avx2(y1, qp, s, b, x, rows, cols, REEL_ACT_TANH, 0.1f);
          note(&e, maxreldiff(y0, y1, rows), "i8 gemv rows=%d cols=%d", rows, cols);
          reel_f32_gemv_cat2_i8_generic(y0, q, s, b, x, n0, x + n0, n1, rows);
        } else {
          reel_f32_gemv_bf16_generic(y0, q, b, x, rows, cols, REEL_ACT_TANH, 0.1f);
          reel_f32_gemv_bf16_avx2(y1, qp, b, x, rows, cols, REEL_ACT_TANH, 0.1f);
          note(&e, maxreldiff(y0, y1, rows), "bf16 gemv rows=%d cols=%d", rows, cols);
          reel_f32_gemv_cat2_bf16_generic(y0, q, b, x, n0, x + n0, n1, rows);
        }
        free(qp);
        /* cat2: the two parts side by side in each panel */
        float *wa = calloc((size_t)rows * n0, 4), *wb = calloc((size_t)rows * n1, 4);
        for (int r = 0; r < rows; r++) {
          memcpy(wa + (size_t)r * n0, w + (size_t)r * cols, (size_t)n0 * 4);
          memcpy(wb + (size_t)r * n1, w + (size_t)r * cols + n0, (size_t)n1 * 4);
        }
        pack_panels8_cat2(wp, wa, n0, wb, n1, rows);
        for (int r = 0; type == REEL_W_BF16 && r < rows; r += 8) { /* each part in pairs */
          pair_bf16_vectors(wp + (long)r * cols, n0);
          pair_bf16_vectors(wp + (long)r * cols + 8L * n0, n1);
        }
        qp = stored(type, wp, (long)R * cols);
        if (type == REEL_W_I8)
          reel_f32_gemv_cat2_i8_avx2(y1, qp, s, b, x, n0, x + n0, n1, rows);
        else
          reel_f32_gemv_cat2_bf16_avx2(y1, qp, b, x, n0, x + n0, n1, rows);
        note(&e, maxreldiff(y0, y1, rows), "%s gemv_cat2 rows=%d n0=%d n1=%d", type_name[type], rows,
             n0, n1);
        free(w), free(wp), free(b), free(x), free(s), free(y0), free(y1), free(q), free(qp);
        free(wa), free(wb);
      }
  report("typed_gemv", &e);
}

/* The fused AVX2 cell steps on compressed weights against gemv_cat2 (lstm) or two gemvs (gru)
 * and the generic cells, with per-row scales laid out for each. */
static void typed_cells(void) {
  Worst e = {0};
  for (int type = REEL_W_BF16; type <= REEL_W_I8; type++)
    for (int a = 0; a < NS; a++)
      for (int c = 0; c < NS; c += 3)
        for (int lstm = 0; lstm < 2; lstm++) {
          int H = sizes[a], nx = sizes[c], G = lstm ? 4 : 3, rows = G * H, R = round8(rows);
          int blocks = (H + 7) / 8;
          float *wih = representable(type, (long)rows * nx), *whh = representable(type, (long)rows * H);
          float *bih = rnd(rows), *bhh = rnd(rows), *x = rnd(nx), *sih = scales(rows), *shh = scales(rows);
          void *qih = stored(type, wih, (long)rows * nx), *qhh = stored(type, whh, (long)rows * H);
          float *h0 = rnd(H), *c0 = rnd(H), *h1 = malloc(H * 4), *c1 = malloc(H * 4), *sc = malloc(H * 4);
          float *wp = calloc((size_t)blocks * 8 * G * (nx + H), 4), *bp = calloc((size_t)blocks * 32, 4);
          float *bs = calloc((size_t)blocks * 16 * G, 4); /* the step's scales */
          memcpy(h1, h0, H * 4), memcpy(c1, c0, H * 4);
          for (int g = 0; g < G; g++)
            for (int k = 0; k < H; k++) {
              bs[(k / 8 * 2) * G * 8 + g * 8 + k % 8] = sih[g * H + k];
              bs[(k / 8 * 2 + 1) * G * 8 + g * 8 + k % 8] = shh[g * H + k];
            }
          (lstm ? pack_lstm : pack_gru)(wp, bp, wih, whh, bih, bhh, nx, H);
          for (int u = 0; type == REEL_W_BF16 && u < blocks; u++) { /* x, h columns in pairs */
            pair_bf16_vectors(wp + (long)u * 8 * G * (nx + H), (long)G * nx);
            pair_bf16_vectors(wp + (long)u * 8 * G * (nx + H) + 8L * G * nx, (long)G * H);
          }
          void *qp = stored(type, wp, (long)blocks * 8 * G * (nx + H));
          if (lstm) {
            float *cat = malloc((size_t)rows * (nx + H) * 4), *cs = calloc(2 * (size_t)R, 4);
            float *bsum = malloc(rows * 4), *g = malloc(rows * 4);
            for (int r = 0; r < rows; r++) {
              memcpy(cat + (size_t)r * (nx + H), wih + (size_t)r * nx, (size_t)nx * 4);
              memcpy(cat + (size_t)r * (nx + H) + nx, whh + (size_t)r * H, (size_t)H * 4);
              bsum[r] = bih[r] + bhh[r];
              cs[r / 8 * 16 + r % 8] = sih[r], cs[r / 8 * 16 + 8 + r % 8] = shh[r];
            }
            void *qc = stored(type, cat, (long)rows * (nx + H));
            if (type == REEL_W_I8) {
              reel_f32_gemv_cat2_i8_generic(g, qc, cs, bsum, x, nx, h0, H, rows);
              reel_lstm_step_i8_avx2(h1, c1, sc, qp, bs, bp, x, nx, H, NULL, NULL, NULL, c & 1);
            } else {
              reel_f32_gemv_cat2_bf16_generic(g, qc, bsum, x, nx, h0, H, rows);
              reel_lstm_step_bf16_avx2(h1, c1, sc, qp, bp, x, nx, H, NULL, NULL, NULL, c & 1);
            }
            reel_lstm_cell_generic(h0, c0, g, H);
            free(cat), free(cs), free(bsum), free(g), free(qc);
          } else {
            float *gi = malloc(rows * 4), *gh = malloc(rows * 4);
            if (type == REEL_W_I8) {
              reel_f32_gemv_i8_generic(gi, qih, sih, bih, x, rows, nx, REEL_ACT_NONE, 0.0f);
              reel_f32_gemv_i8_generic(gh, qhh, shh, bhh, h0, rows, H, REEL_ACT_NONE, 0.0f);
              reel_gru_step_i8_avx2(h1, sc, qp, bs, bp, x, nx, H, c & 1);
            } else {
              reel_f32_gemv_bf16_generic(gi, qih, bih, x, rows, nx, REEL_ACT_NONE, 0.0f);
              reel_f32_gemv_bf16_generic(gh, qhh, bhh, h0, rows, H, REEL_ACT_NONE, 0.0f);
              reel_gru_step_bf16_avx2(h1, sc, qp, bp, x, nx, H, c & 1);
            }
            reel_gru_cell_generic(h0, gi, gh, H);
            free(gi), free(gh);
          }
          note(&e, fmax(maxreldiff(h0, h1, H), lstm ? maxreldiff(c0, c1, H) : 0.0),
               "%s %s_step hidden=%d nx=%d", type_name[type], lstm ? "lstm" : "gru", H, nx);
          free(wih), free(whh), free(bih), free(bhh), free(x), free(sih), free(shh), free(qih);
          free(qhh), free(h0), free(c0), free(h1), free(c1), free(sc), free(wp), free(bp), free(bs);
          free(qp);
        }
  report("typed_cells", &e);
}

/* The convs on compressed filters: both direct convs (a scale per output channel) and the
 * transposed conv (a scale per input channel), AVX2 against generic. */
static void typed_convs(void) {
  Worst e = {0};
  enum { B = REEL_CONV_AVX2_OC_BLOCK, NR = REEL_CONV_IGEMM_AVX2_OC_BLOCK };
  for (int type = REEL_W_BF16; type <= REEL_W_I8; type++)
    for (int trial = 0; trial < 40; trial++) {
      reel_conv2d_desc d = {0};
      d.in_c0 = 1 + trial % 5, d.in_c1 = trial % 3 ? trial % 4 : 0;
      d.in_h = 2 + trial % 7, d.in_w = 3 + (trial * 5) % 23;
      d.k_h = d.k_w = 1 + 2 * (trial % 2);
      d.stride_h = d.stride_w = 1 + trial % 3 / 2;
      d.dil_h = d.dil_w = d.groups = 1;
      d.pad_top = d.pad_left = d.k_h / 2;
      d.out_h = conv_out(d.in_h, 2 * d.pad_top, d.k_h, d.stride_h, 1);
      d.out_w = conv_out(d.in_w, 2 * d.pad_left, d.k_w, d.stride_w, 1);
      d.out_c = 1 + trial % 13 + (trial % 4 == 1 ? 30 : 0); /* and past a block of 32 */
      d.act = trial % REEL_ACT_COUNT, d.alpha = 0.1f;
      int in_c = d.in_c0 + d.in_c1, taps = in_c * d.k_h * d.k_w, n = d.out_c * d.out_h * d.out_w;
      int oc_pad = (d.out_c + B - 1) / B * B, oc_pad32 = (d.out_c + NR - 1) / NR * NR;
      Geom g = geom_of(&d);
      float *w = representable(type, (long)d.out_c * taps), *wp = calloc((size_t)oc_pad * taps, 4);
      float *b = rnd(d.out_c), *s = scales(oc_pad > oc_pad32 ? oc_pad : oc_pad32);
      float *x0 = rnd((size_t)d.in_c0 * d.in_h * d.in_w), *x1 = rnd((size_t)d.in_c1 * d.in_h * d.in_w + 1);
      float *y0 = malloc((size_t)n * 4), *y1 = malloc((size_t)n * 4);
      float *sc = malloc((size_t)(conv_scratch_avx2(&g) + (long)B * taps) * 4);
      void *q = stored(type, w, (long)d.out_c * taps);
      pack_conv_avx2(wp, w, d.out_c, in_c, d.k_h, d.k_w);
      void *qp = stored(type, wp, (long)oc_pad * taps);
      if (type == REEL_W_I8) {
        reel_f32_conv2d_i8_generic(&d, y0, q, s, b, x0, d.in_c1 ? x1 : NULL);
        reel_f32_conv2d_i8_avx2(&d, y1, qp, s, b, x0, d.in_c1 ? x1 : NULL, sc);
      } else {
        reel_f32_conv2d_bf16_generic(&d, y0, q, b, x0, d.in_c1 ? x1 : NULL);
        reel_f32_conv2d_bf16_avx2(&d, y1, qp, b, x0, d.in_c1 ? x1 : NULL, sc);
      }
      note(&e, maxreldiff(y0, y1, n), "%s conv2d %s", type_name[type], conv_shape(&d));
      /* the implicit GEMM on the same filters, in its blocks of 32 */
      float *wg = calloc((size_t)oc_pad32 * taps, 4), *sg = malloc((size_t)conv_scratch_igemm(&g) * 4);
      pack_conv_igemm(wg, w, d.out_c, in_c, d.k_h, d.k_w);
      void *qg = stored(type, wg, (long)oc_pad32 * taps);
      if (type == REEL_W_I8)
        reel_f32_conv2d_igemm_i8_avx2(&d, y1, qg, s, b, x0, d.in_c1 ? x1 : NULL, sg);
      else
        reel_f32_conv2d_igemm_bf16_avx2(&d, y1, qg, b, x0, d.in_c1 ? x1 : NULL, sg);
      note(&e, maxreldiff(y0, y1, n), "%s conv2d_igemm %s", type_name[type], conv_shape(&d));
      free(wg), free(sg), free(qg);
      /* transposed: the same input as out_c channels, weights [in][out][kh][kw] */
      reel_conv2d_desc t = d;
      t.in_c0 = d.out_c, t.in_c1 = 0, t.out_c = in_c;
      t.in_h = d.out_h, t.in_w = d.out_w, t.pad_top = t.pad_left = 0;
      t.out_h = (t.in_h - 1) * t.stride_h + t.k_h, t.out_w = (t.in_w - 1) * t.stride_w + t.k_w;
      float *ty0 = malloc((size_t)in_c * t.out_h * t.out_w * 4), *ty1 = malloc((size_t)in_c * t.out_h * t.out_w * 4);
      float *ts = malloc((size_t)reel_conv_transpose2d_scratch_avx2(&t) * 4);
      if (type == REEL_W_I8) {
        reel_f32_conv_transpose2d_i8_generic(&t, ty0, q, s, NULL, y0);
        reel_f32_conv_transpose2d_i8_avx2(&t, ty1, q, s, NULL, y0, ts);
      } else {
        reel_f32_conv_transpose2d_bf16_generic(&t, ty0, q, NULL, y0);
        reel_f32_conv_transpose2d_bf16_avx2(&t, ty1, q, NULL, y0, ts);
      }
      note(&e, maxreldiff(ty0, ty1, (size_t)in_c * t.out_h * t.out_w), "%s conv_transpose2d of %s",
           type_name[type], conv_shape(&d));
      free(w), free(wp), free(b), free(s), free(x0), free(x1), free(y0), free(y1), free(sc), free(q);
      free(qp), free(ty0), free(ty1), free(ts);
    }
  report("typed_convs", &e);
}

/* The grouped conv against the generic one: depthwise (one input channel per group, one or
 * more outputs) and wider groups, a group split between x0 and x1, strides, dilations,
 * uneven padding, rows of 1 to 4 vectors and a tail, an odd output channel left over from
 * the pairs; float32, bf16 and int8 filters (a scale per output channel); NaN and
 * infinities in the input. */
static void conv_grouped(void) {
  Worst e = {0}, et = {0};
  Mismatches ms = {0};
  for (int trial = 0; trial < 240; trial++) {
    reel_conv2d_desc d = {0};
    int g = 2 + trial % 5, cin = trial % 4 == 0 ? 1 : 1 + (trial / 5) % 3, cout = 1 + (trial / 3) % 4;
    int in_c = g * cin, type = trial % 3; /* REEL_W_F32, REEL_W_BF16, REEL_W_I8 */
    d.groups = g;
    d.in_c1 = trial % 3 == 1 ? in_c / 2 + (cin > 1) : 0; /* a group across the split */
    d.in_c0 = in_c - d.in_c1;
    d.out_c = g * cout;
    d.in_h = 1 + (trial * 7) % 23;
    d.in_w = 1 + (trial * 11) % 45;
    d.k_h = 1 + trial % 5;
    d.k_w = 1 + (trial / 5) % 5;
    d.stride_h = 1 + trial % 3;
    d.stride_w = 1 + (trial / 3) % 3;
    d.dil_h = 1 + (trial / 9) % 2;
    d.dil_w = 1 + (trial / 7) % 2;
    d.pad_top = (trial / 2) % 3;
    d.pad_left = (trial / 4) % 3;
    d.out_h = conv_out(d.in_h, 2 * d.pad_top, d.k_h, d.stride_h, d.dil_h);
    d.out_w = conv_out(d.in_w, d.pad_left + trial % 2, d.k_w, d.stride_w, d.dil_w);
    if (d.out_h < 1 || d.out_w < 1)
      continue;
    d.act = trial % REEL_ACT_COUNT;
    d.alpha = 0.1f;
    d.accumulate = trial % 7 == 3;
    long n = (long)d.out_c * d.out_h * d.out_w, per = (long)cin * d.k_h * d.k_w;
    long n0 = (long)d.in_c0 * d.in_h * d.in_w, n1 = (long)d.in_c1 * d.in_h * d.in_w;
    Geom geom = geom_of(&d);
    float *w = type ? representable(type, d.out_c * per) : rnd((size_t)(d.out_c * per));
    float *b = rnd(d.out_c), *x0 = rnd((size_t)n0), *x1 = rnd((size_t)n1 + 1), *sc = scales(d.out_c);
    float *y0 = rnd((size_t)n), *y1 = malloc((size_t)n * 4);
    float *s = malloc((size_t)conv_scratch_grouped(&geom) * 4);
    void *q = type ? stored(type, w, d.out_c * per) : NULL;
    scratch_check(conv_scratch_grouped(&geom), reel_conv2d_grouped_scratch_avx2(&d), "grouped", &d);
    memcpy(y1, y0, (size_t)n * 4);
    if (trial % 11 == 5) /* a special in the input: it stays in its own outputs */
      x0[(trial * 13) % n0] = specials_summed[trial % 6];
    if (type == REEL_W_I8) {
      reel_f32_conv2d_i8_generic(&d, y0, q, sc, b, x0, d.in_c1 ? x1 : NULL);
      reel_f32_conv2d_grouped_i8_avx2(&d, y1, q, sc, b, x0, d.in_c1 ? x1 : NULL, s);
    } else if (type == REEL_W_BF16) {
      reel_f32_conv2d_bf16_generic(&d, y0, q, b, x0, d.in_c1 ? x1 : NULL);
      reel_f32_conv2d_grouped_bf16_avx2(&d, y1, q, b, x0, d.in_c1 ? x1 : NULL, s);
    } else {
      reel_f32_conv2d_generic(&d, y0, w, b, x0, d.in_c1 ? x1 : NULL);
      reel_f32_conv2d_grouped_avx2(&d, y1, w, b, x0, d.in_c1 ? x1 : NULL, s);
    }
    if (trial % 11 == 5)
      agree(&ms, y0, y1, n, "%s groups=%d", conv_shape(&d), g);
    else if (type)
      note(&et, maxreldiff(y0, y1, (size_t)n), "%s %s groups=%d", type_name[type], conv_shape(&d), g);
    else
      note(&e, maxdiff(y0, y1, (size_t)n), "%s groups=%d", conv_shape(&d), g);
    free(w), free(b), free(x0), free(x1), free(sc), free(y0), free(y1), free(s), free(q);
  }
  report("conv2d_grouped", &e);
  report("typed_conv2d_grouped", &et);
  report_mismatches("specials_conv2d_grouped_mismatches", &ms);
}

/* ---- many streams: each _many kernel against its one-stream form, stream by stream ---- */

/* Stream counts: the AVX2 steps' tiles (1; 2; 3; 4 = 2 + 2; 5 = 3 + 2; 7 = 3 + 2 + 2;
 * 9 = 3 + 3 + 3) and past the generic gemv's tile of 8. */
static const int stream_counts[] = {1, 2, 3, 4, 5, 7, 9};
enum { MAX_N = 9, NN = sizeof stream_counts / sizeof stream_counts[0] };

/* Weights of TYPE as the kernels read them: float (f32) or the stored form. */
static void *as_type(int type, float *f, long n) {
  return type == REEL_W_F32 ? memcpy(malloc((size_t)n * 4), f, (size_t)n * 4) : stored(type, f, n);
}

/* gemv_many on both targets: bit-identical to the one-stream gemv, stream by stream. */
static void many_gemv(void) {
  Worst e = {0};
  for (int type = REEL_W_F32; type <= REEL_W_I8; type++)
    for (int a = 0; a < NS; a++)
      for (int c = 0; c < NS; c += 2)
        for (int t = 0; t < NN; t++) {
          int n = stream_counts[t], rows = sizes[a], cols = sizes[c], R = round8(rows), act = (a + n) % REEL_ACT_COUNT;
          float *w = representable(type, (long)rows * cols), *wp = calloc((size_t)R * cols, 4);
          float *b = rnd((size_t)R), *s = scales(R), *x[MAX_N], *y[4][MAX_N];
          pack_panels8(wp, w, rows, cols);
          for (int r = 0; type == REEL_W_BF16 && r < rows; r += 8)
            pair_bf16_vectors(wp + (long)r * cols, cols);
          void *q = as_type(type, w, (long)rows * cols), *qp = as_type(type, wp, (long)R * cols);
          for (int k = 0; k < n; k++) { /* each stream's vectors in a block of its own */
            x[k] = rnd(cols);
            for (int v = 0; v < 4; v++)
              y[v][k] = calloc(rows, 4);
          }
          const float *const *xs = (const float *const *)x;
          if (type == REEL_W_F32) {
            for (int k = 0; k < n; k++) {
              reel_f32_gemv_generic(y[0][k], q, b, x[k], rows, cols, act, 0.1f);
              reel_f32_gemv_avx2(y[2][k], qp, b, x[k], rows, cols, act, 0.1f);
            }
            reel_f32_gemv_many_generic(n, y[1], q, b, xs, rows, cols, act, 0.1f);
            reel_f32_gemv_many_avx2(n, y[3], qp, b, xs, rows, cols, act, 0.1f);
          } else if (type == REEL_W_BF16) {
            for (int k = 0; k < n; k++) {
              reel_f32_gemv_bf16_generic(y[0][k], q, b, x[k], rows, cols, act, 0.1f);
              reel_f32_gemv_bf16_avx2(y[2][k], qp, b, x[k], rows, cols, act, 0.1f);
            }
            reel_f32_gemv_many_bf16_generic(n, y[1], q, b, xs, rows, cols, act, 0.1f);
            reel_f32_gemv_many_bf16_avx2(n, y[3], qp, b, xs, rows, cols, act, 0.1f);
          } else {
            for (int k = 0; k < n; k++) {
              reel_f32_gemv_i8_generic(y[0][k], q, s, b, x[k], rows, cols, act, 0.1f);
              reel_f32_gemv_i8_avx2(y[2][k], qp, s, b, x[k], rows, cols, act, 0.1f);
            }
            reel_f32_gemv_many_i8_generic(n, y[1], q, s, b, xs, rows, cols, act, 0.1f);
            reel_f32_gemv_many_i8_avx2(n, y[3], qp, s, b, xs, rows, cols, act, 0.1f);
          }
          for (int k = 0; k < n; k++) {
            note(&e, maxdiff(y[0][k], y[1][k], rows), "%s generic gemv_many n=%d stream %d rows=%d cols=%d",
                 type_name[type], n, k, rows, cols);
            note(&e, maxdiff(y[2][k], y[3][k], rows), "%s avx2 gemv_many n=%d stream %d rows=%d cols=%d",
                 type_name[type], n, k, rows, cols);
            free(x[k]);
            for (int v = 0; v < 4; v++)
              free(y[v][k]);
          }
          free(w), free(wp), free(b), free(s), free(q), free(qp);
        }
  report("many_gemv", &e);
}

/* The fused steps' _many forms against the one-stream step, stream by stream: the same weights
 * and gate math, the gate sums in another order (relative to max(1, |y|)). */
static void many_steps(void) {
  Worst e = {0};
  for (int type = REEL_W_F32; type <= REEL_W_I8; type++)
    for (int a = 0; a < NS; a++)
      for (int c = 1; c < NS; c += 3)
        for (int lstm = 0; lstm < 2; lstm++)
          for (int t = 0; t < NN; t++) {
            int n = stream_counts[t], H = sizes[a], nx = sizes[c], G = lstm ? 4 : 3, rows = G * H, blocks = (H + 7) / 8;
            int peep = lstm && n % 2, reverse = (a + n) & 1;
            long packed = (long)blocks * 8 * G * (nx + H);
            float *wih = representable(type, (long)rows * nx), *whh = representable(type, (long)rows * H);
            float *bih = rnd(rows), *bhh = rnd(rows), *pc[3] = {rnd(H), rnd(H), rnd(H)};
            float *wp = calloc((size_t)packed, 4), *bp = calloc((size_t)blocks * 32, 4);
            float *bs = scales((long)blocks * 16 * G);
            float *x[MAX_N], *h[2][MAX_N], *cs[2][MAX_N], *sc[2][MAX_N];
            (lstm ? pack_lstm : pack_gru)(wp, bp, wih, whh, bih, bhh, nx, H);
            for (int u = 0; type == REEL_W_BF16 && u < blocks; u++) { /* x, h columns in pairs */
              pair_bf16_vectors(wp + (long)u * 8 * G * (nx + H), (long)G * nx);
              pair_bf16_vectors(wp + (long)u * 8 * G * (nx + H) + 8L * G * nx, (long)G * H);
            }
            void *qp = as_type(type, wp, packed);
            for (int k = 0; k < n; k++) {
              x[k] = rnd(nx), h[0][k] = rnd(H), cs[0][k] = rnd(H);
              h[1][k] = memcpy(malloc(H * 4), h[0][k], H * 4);
              cs[1][k] = memcpy(malloc(H * 4), cs[0][k], H * 4);
              sc[0][k] = malloc(H * 4), sc[1][k] = malloc(H * 4);
            }
            const float *const *xs = (const float *const *)x;
            const float *ci = peep ? pc[0] : NULL, *cf = peep ? pc[1] : NULL, *co = peep ? pc[2] : NULL;
            for (int k = 0; k < n; k++) {
              if (type == REEL_W_F32 && lstm)
                reel_lstm_step_avx2(h[0][k], cs[0][k], sc[0][k], qp, bp, x[k], nx, H, ci, cf, co, reverse);
              else if (type == REEL_W_F32)
                reel_gru_step_avx2(h[0][k], sc[0][k], qp, bp, x[k], nx, H, reverse);
              else if (type == REEL_W_BF16 && lstm)
                reel_lstm_step_bf16_avx2(h[0][k], cs[0][k], sc[0][k], qp, bp, x[k], nx, H, ci, cf, co,
                                         reverse);
              else if (type == REEL_W_BF16)
                reel_gru_step_bf16_avx2(h[0][k], sc[0][k], qp, bp, x[k], nx, H, reverse);
              else if (lstm)
                reel_lstm_step_i8_avx2(h[0][k], cs[0][k], sc[0][k], qp, bs, bp, x[k], nx, H, ci, cf, co,
                                       reverse);
              else
                reel_gru_step_i8_avx2(h[0][k], sc[0][k], qp, bs, bp, x[k], nx, H, reverse);
            }
            if (type == REEL_W_F32 && lstm)
              reel_lstm_step_many_avx2(n, h[1], cs[1], sc[1], qp, bp, xs, nx, H, ci, cf, co, reverse);
            else if (type == REEL_W_F32)
              reel_gru_step_many_avx2(n, h[1], sc[1], qp, bp, xs, nx, H, reverse);
            else if (type == REEL_W_BF16 && lstm)
              reel_lstm_step_many_bf16_avx2(n, h[1], cs[1], sc[1], qp, bp, xs, nx, H, ci, cf, co, reverse);
            else if (type == REEL_W_BF16)
              reel_gru_step_many_bf16_avx2(n, h[1], sc[1], qp, bp, xs, nx, H, reverse);
            else if (lstm)
              reel_lstm_step_many_i8_avx2(n, h[1], cs[1], sc[1], qp, bs, bp, xs, nx, H, ci, cf, co, reverse);
            else
              reel_gru_step_many_i8_avx2(n, h[1], sc[1], qp, bs, bp, xs, nx, H, reverse);
            for (int k = 0; k < n; k++) {
              note(&e, fmax(maxreldiff(h[0][k], h[1][k], H), lstm ? maxreldiff(cs[0][k], cs[1][k], H) : 0.0),
                   "%s %s_step_many n=%d stream %d hidden=%d nx=%d peephole=%d reverse=%d", type_name[type],
                   lstm ? "lstm" : "gru", n, k, H, nx, peep, reverse);
              free(x[k]);
              for (int v = 0; v < 2; v++)
                free(h[v][k]), free(cs[v][k]), free(sc[v][k]);
            }
            free(wih), free(whh), free(bih), free(bhh), free(pc[0]), free(pc[1]), free(pc[2]);
            free(wp), free(bp), free(bs), free(qp);
          }
  report("many_steps", &e);
}

int main(void) {
  many_gemv();
  many_steps();
  typed_gemv();
  typed_cells();
  typed_convs();
  gemv();
  rnn_seq();
  lstm_gru();
  conv();
  conv_winograd();
  conv_grouped();
  printf("conv_scratch_mismatches %d %s\n", scratch_mismatches,
         scratch_mismatches ? scratch_first : "(none)");
  maxpool();
  conv_transpose();
  upsample();
  cells();
  activations();
  prelu();
  mul2();
  vmath();
  specials_activation();
  specials_gemv();
  specials_conv();
  specials_cells();
  specials_elementwise();
  return 0;
}
