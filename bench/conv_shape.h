/*
** conv_shape.h: what the per-shape convolution benchmarks share (bench/onednn_convs.c,
** bench/xnnpack_convs.c): a shape from its key, and the timing loop.
**
** A key is 15 integers, as bench/conv_shapes.py writes them:
**   C,H,W,O,kh,kw,sh,sw,dh,dw,pad_top,pad_bottom,pad_left,pad_right,groups
** an H x W input of C channels to O channels, PyTorch's Conv2d geometry.
**
** Timing, as bench/time_model.c does it: warm-up calls (at least CONV_WARMUP_MIN and
** CONV_WARMUP_SECONDS), then about `seconds` of calls, each timed on its own with
** CLOCK_MONOTONIC; the report is the median, p10 and p90 in microseconds.
*/
#ifndef CONV_SHAPE_H
#define CONV_SHAPE_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct {
    int c, h, w, o, kh, kw, sh, sw, dh, dw, pt, pb, pl, pr, groups;
    int oh, ow; /* the output's size */
} conv_shape;

/* The shape of `key`, or 0 when it is not 15 positive (padding: non-negative) integers
** whose output is not empty and whose groups divide both channel counts. */
static inline int conv_shape_parse(const char *key, conv_shape *s)
{
    int n = 0;
    if (sscanf(key, "%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d%n", &s->c, &s->h, &s->w,
               &s->o, &s->kh, &s->kw, &s->sh, &s->sw, &s->dh, &s->dw, &s->pt, &s->pb, &s->pl,
               &s->pr, &s->groups, &n) != 15 || key[n] != '\0')
        return 0;
    if (s->c < 1 || s->h < 1 || s->w < 1 || s->o < 1 || s->kh < 1 || s->kw < 1 || s->sh < 1 ||
        s->sw < 1 || s->dh < 1 || s->dw < 1 || s->pt < 0 || s->pb < 0 || s->pl < 0 || s->pr < 0 ||
        s->groups < 1 || s->c % s->groups || s->o % s->groups)
        return 0;
    s->oh = (s->h + s->pt + s->pb - s->dh * (s->kh - 1) - 1) / s->sh + 1;
    s->ow = (s->w + s->pl + s->pr - s->dw * (s->kw - 1) - 1) / s->sw + 1;
    return s->oh > 0 && s->ow > 0;
}

#define CONV_WARMUP_SECONDS 0.2
#define CONV_WARMUP_MIN 3
#define CONV_MIN_TIMED 11
#define CONV_MAX_TIMED 100000

typedef struct {
    long n;
    double median_us, p10_us, p90_us, min_us;
} conv_timing;

static inline double conv_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static inline int conv_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Linear interpolation between order statistics, as time_model.c's quantile(). */
static inline double conv_quantile(const double *v, long n, double q)
{
    double at = q * (double)(n - 1);
    long i = (long)at;
    return i + 1 < n ? v[i] + (at - (double)i) * (v[i + 1] - v[i]) : v[n - 1];
}

/* Time run(arg): warm-up, then about `seconds` of calls.  (All static inline: a file that
** uses some of them gets no warning for the others.) */
static inline conv_timing conv_time(void (*run)(void *), void *arg, double seconds)
{
    static double samples[CONV_MAX_TIMED];
    conv_timing r;
    long warm = 0, i;
    double t0 = conv_now(), est;
    do {
        run(arg);
        warm++;
    } while (warm < CONV_WARMUP_MIN || conv_now() - t0 < CONV_WARMUP_SECONDS);
    est = (conv_now() - t0) / (double)warm;
    r.n = (long)(seconds / est);
    if (r.n < CONV_MIN_TIMED)
        r.n = CONV_MIN_TIMED;
    if (r.n > CONV_MAX_TIMED)
        r.n = CONV_MAX_TIMED;
    for (i = 0; i < r.n; i++) {
        double t = conv_now();
        run(arg);
        samples[i] = conv_now() - t;
    }
    qsort(samples, (size_t)r.n, sizeof samples[0], conv_cmp_double);
    r.median_us = 1e6 * conv_quantile(samples, r.n, 0.5);
    r.p10_us = 1e6 * conv_quantile(samples, r.n, 0.1);
    r.p90_us = 1e6 * conv_quantile(samples, r.n, 0.9);
    r.min_us = 1e6 * samples[0];
    return r;
}

/* Uniform in [-1, 1) from a xorshift32 state: the inputs and weights (values do not change
** the time of an f32 convolution, but denormals and NaNs would). */
static inline float conv_uniform(unsigned *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return (float)((double)*s / 2147483648.0 - 1.0);
}

#endif
