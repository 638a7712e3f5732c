/*
** time_model.c: times one generated reel model, one frame at a time.
**
** Built by bench/run.sh against one model's generated C, with the same macro
** trick as tests/driver.c:
**
**   cc -std=c99 -O2 -march=x86-64-v3 -DREEL_MODEL=m -DREEL_MODEL_UP=M
**      -DREEL_MODEL_H='"m.h"' -IDIR bench/time_model.c DIR/(all .c files) -lm
**
**   time_model [SECONDS [N...]]  SECONDS: timed budget per measurement (default 2);
**                                each N: also time N streams (N <= MAX_CTX)
**
** Method: one static context, reset once; a pool of pseudo-random frames
** (uniform in [-1, 1), a fixed seed) is streamed through m_step with the
** recurrent state carried from step to step, as in real use.  Warm-up steps
** come first (at least WARMUP_MIN steps and WARMUP_SECONDS): they fault in
** the weights and the context, warm the caches and the branch predictors,
** and give a first estimate of the step time, from which the number of
** timed steps is chosen so the timed part takes about SECONDS.  Every timed
** step is measured on its own with clock_gettime(CLOCK_MONOTONIC), so the
** report is a distribution: median, p10, p90 (and the mean, min).
**
** Streams: for each N given, N contexts advance one frame per call, once
** through m_step_many ("step_many") and once as N m_step calls ("step_each");
** a sample is the whole call, so frames per second are N / median.
**
** A forecaster model (M_FORECAST_STEPS defined) is also timed on
** m_forecast, after the observed frames, and reported per predicted frame.
** m_forecast keeps the observed state, so it can be called again and again.
**
** Output: one JSON object per line, e.g.
**   {"model": "lstm512", "what": "step", "steps": 20000, "median_us": 101.2, ...}
** plus a checksum of the last outputs (so nothing is optimised away, and a
** NaN shows).  Pin the process to one core from outside (taskset -c 1).
*/
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include REEL_MODEL_H

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(s) CAT(REEL_MODEL, s)    /* FN(_step) -> m_step */
#define UP(s) CAT(REEL_MODEL_UP, s) /* UP(_IN_SIZE) -> M_IN_SIZE */
#define STR_(s) #s
#define STR(s) STR_(s)

#define IN_N UP(_IN_SIZE)
typedef UP(_IN_TYPE) in_t; /* float, or uint8_t for a camera's bytes */
#define IN_IS_FLOAT ((in_t)0.5 != 0)
#define OUT_N UP(_OUT_SIZE)

/* As in tests/driver.c: #if expands the pasted name, and an identifier left
** over (the model has no forecast) counts as 0. */
#if UP(_FORECAST_STEPS) > 0
#define FC_STEPS UP(_FORECAST_STEPS)
#define FC_N (UP(_FORECAST_STEPS) * UP(_FORECAST_SIZE))
#else
#define FC_STEPS 0
#define FC_N 1
#endif

#define POOL 16               /* distinct input frames, streamed round-robin */
#define WARMUP_MIN 3          /* warm-up: at least this many calls ... */
#define WARMUP_SECONDS 0.3    /* ... and at least this long */
#define MIN_TIMED 11          /* timed calls: at least this many ... */
#define MAX_TIMED 200000      /* ... and at most this many */
#define MAX_CTX 64            /* the most streams timed */

typedef FN(_ctx) ctx_t;

static ctx_t ctx, streams[MAX_CTX];
static ctx_t *stream_ptr[MAX_CTX];
static const in_t *stream_in[MAX_CTX];
static float stream_out[MAX_CTX][OUT_N];
static float *stream_out_ptr[MAX_CTX];
static int n_streams;
static in_t frames[POOL][IN_N];
static float out[OUT_N];
static float forecast[FC_N];
static double samples[MAX_TIMED];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A small fixed-seed generator (xorshift32): the same frames on every run. */
static float uniform(unsigned *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return (float)(*s >> 8) * (2.0f / 16777216.0f) - 1.0f;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of n sorted samples (linear interpolation). */
static double quantile(const double *v, long n, double q)
{
    double pos = q * (double)(n - 1);
    long i = (long)pos;
    if (i + 1 >= n) return v[n - 1];
    return v[i] + (pos - (double)i) * (v[i + 1] - v[i]);
}

static double checksum(const float *v, long n)
{
    double s = 0;
    long i;
    for (i = 0; i < n; i++) s += v[i];
    return s;
}

/* One call of the measured operation: a step on frame k, a forecast, or a frame for each of
** n_streams streams (2: at once, 3: one by one). */
static long frame_no;
static void call(int what)
{
    int i;
    if (what == 0) {
        FN(_step)(&ctx, frames[frame_no % POOL], out);
        frame_no++;
    } else if (what >= 2) {
        for (i = 0; i < n_streams; i++)
            stream_in[i] = frames[(frame_no + i) % POOL];
        if (what == 2)
            FN(_step_many)(stream_ptr, n_streams, stream_in, stream_out_ptr);
        else
            for (i = 0; i < n_streams; i++)
                FN(_step)(stream_ptr[i], stream_in[i], stream_out_ptr[i]);
        frame_no++;
    } else {
#if FC_STEPS > 0
        FN(_forecast)(&ctx, forecast);
#endif
    }
}

/* Warm up, pick the count, time each call; print one JSON line.  `per` divides
** each sample (a forecast call predicts FC_STEPS frames). */
static void measure(int what, const char *name, double seconds, int per)
{
    double t0, t, est;
    long warm = 0, n, i;

    t0 = now();
    do {
        call(what);
        warm++;
    } while (warm < WARMUP_MIN || now() - t0 < WARMUP_SECONDS);
    est = (now() - t0) / (double)warm;

    n = (long)(seconds / est);
    if (n < MIN_TIMED) n = MIN_TIMED;
    if (n > MAX_TIMED) n = MAX_TIMED;
    for (i = 0; i < n; i++) {
        t = now();
        call(what);
        samples[i] = (now() - t) / (double)per;
    }
    {
        double sum = 0;
        for (i = 0; i < n; i++) sum += samples[i];
        qsort(samples, (size_t)n, sizeof samples[0], cmp_double);
        printf("{\"model\": \"%s\", \"what\": \"%s\", \"streams\": %d, \"warmup\": %ld, \"steps\": %ld, "
               "\"median_us\": %.3f, \"p10_us\": %.3f, \"p90_us\": %.3f, "
               "\"mean_us\": %.3f, \"min_us\": %.3f, \"checksum\": %.6g}\n",
               STR(REEL_MODEL), name, what >= 2 ? n_streams : 1, warm, n,
               1e6 * quantile(samples, n, 0.5),
               1e6 * quantile(samples, n, 0.1), 1e6 * quantile(samples, n, 0.9),
               1e6 * sum / (double)n, 1e6 * samples[0],
               what == 0 ? checksum(out, OUT_N)
               : what >= 2 ? checksum(stream_out[0], OUT_N) : checksum(forecast, FC_N));
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    double seconds = 2.0;
    unsigned seed = 0x2545f491u;
    long i, j;

    if (argc >= 2 && (seconds = atof(argv[1])) <= 0) {
        fprintf(stderr, "usage: %s [SECONDS [N...]]   (timed budget per measurement, default 2;"
                " N streams, at most %d)\n", argv[0], MAX_CTX);
        return 2;
    }
    for (i = 0; i < POOL; i++)
        for (j = 0; j < IN_N; j++)
            frames[i][j] = IN_IS_FLOAT ? (in_t)uniform(&seed) : (in_t)(128.0 + 127.0 * uniform(&seed));

    FN(_reset)(&ctx);
    measure(0, "step", seconds, 1);
#if FC_STEPS > 0
    measure(1, "forecast_frame", seconds, FC_STEPS);
#endif
    for (i = 2; i < argc; i++) {
        n_streams = atoi(argv[i]);
        if (n_streams < 1 || n_streams > MAX_CTX) {
            fprintf(stderr, "%s: %d streams: expected 1 to %d\n", argv[0], n_streams, MAX_CTX);
            return 2;
        }
        for (j = 0; j < n_streams; j++) {
            stream_ptr[j] = &streams[j];
            stream_out_ptr[j] = stream_out[j];
            FN(_reset)(&streams[j]);
        }
        measure(2, "step_many", seconds, 1);
        measure(3, "step_each", seconds, 1);
    }
    return 0;
}
