/*
** fma_peak.c: the single-core FP32 FMA peak with AVX2 (256-bit) FMAs.
**
**   cc -std=c99 -O2 -mavx2 -mfma -o fma_peak bench/fma_peak.c
**   taskset -c 1 ./fma_peak [SECONDS]
**
** The loop keeps CHAINS independent accumulators in ymm registers and does
** acc = acc * a + b on each, so every FMA depends only on the one CHAINS
** instructions earlier.  A core with P FMA pipes of latency L needs P * L
** chains in flight (Zen 4: 2 x 4 = 8; Intel since Skylake: 2 x 4 = 8); 12
** leaves headroom and still fits the 16 ymm registers with a and b.  Each
** FMA is 8 lanes x 2 flops.  The values stay normal (a < 1, b > 0: every
** chain converges to b / (1 - a)), so no denormal slow paths.
**
** The run is split into REPS short repetitions and the best rate is
** reported: the peak is a property of the core, and the best repetition is
** the one least disturbed by the rest of the machine (the median is
** printed too; far below the best means the core was shared).  The core
** clock is estimated as well (clock_ghz, below): with two FMA pipes, the
** peak is 2 x 8 lanes x 2 flops = 32 flops per cycle.  Output: one JSON line
**   {"what": "fma_peak", "gflops": 117.3, "median_gflops": ..., "clock_ghz": 3.67, ...}
*/
#define _POSIX_C_SOURCE 199309L
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHAINS 12
#define INNER 1000 /* fewest loop iterations in one timed repetition */
#define REPS 500 /* short (2 ms) repetitions: some fall between interruptions */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* `iters` iterations of CHAINS FMAs; returns a sum so nothing is dropped.
** The accumulators are written out by hand so each one is a named register
** variable (an array might be kept in memory at -O2). */
static float fma_loop(long iters, float seed)
{
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-6f);
    __m256 c0 = _mm256_set1_ps(seed), c1 = _mm256_add_ps(c0, b), c2 = _mm256_add_ps(c1, b);
    __m256 c3 = _mm256_add_ps(c2, b), c4 = _mm256_add_ps(c3, b), c5 = _mm256_add_ps(c4, b);
    __m256 c6 = _mm256_add_ps(c5, b), c7 = _mm256_add_ps(c6, b), c8 = _mm256_add_ps(c7, b);
    __m256 c9 = _mm256_add_ps(c8, b), c10 = _mm256_add_ps(c9, b), c11 = _mm256_add_ps(c10, b);
    __m256 s;
    float lanes[8], sum = 0;
    long i;
    int k;

    for (i = 0; i < iters; i++) {
        c0 = _mm256_fmadd_ps(c0, a, b);
        c1 = _mm256_fmadd_ps(c1, a, b);
        c2 = _mm256_fmadd_ps(c2, a, b);
        c3 = _mm256_fmadd_ps(c3, a, b);
        c4 = _mm256_fmadd_ps(c4, a, b);
        c5 = _mm256_fmadd_ps(c5, a, b);
        c6 = _mm256_fmadd_ps(c6, a, b);
        c7 = _mm256_fmadd_ps(c7, a, b);
        c8 = _mm256_fmadd_ps(c8, a, b);
        c9 = _mm256_fmadd_ps(c9, a, b);
        c10 = _mm256_fmadd_ps(c10, a, b);
        c11 = _mm256_fmadd_ps(c11, a, b);
    }
    s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                      _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
    _mm256_storeu_ps(lanes, s);
    for (k = 0; k < 8; k++) sum += lanes[k];
    return sum;
}

/* The core clock, for a sanity check of the peak (32 flops per cycle on a
** core with two 256-bit FMA pipes): a chain of dependent imul, whose
** latency is 3 cycles on every x86-64 core of the last decade, timed like
** the FMAs (best of short repetitions).  (A chain of adds would not do:
** recent cores fold add-immediate chains in the renamer.)  0 where there is
** no GNU inline assembly. */
#define IMUL10 "imul $1, %0, %0\n\t" "imul $1, %0, %0\n\t" "imul $1, %0, %0\n\t" \
               "imul $1, %0, %0\n\t" "imul $1, %0, %0\n\t" "imul $1, %0, %0\n\t" \
               "imul $1, %0, %0\n\t" "imul $1, %0, %0\n\t" "imul $1, %0, %0\n\t" \
               "imul $1, %0, %0\n\t"
static double clock_ghz(void)
{
#if defined(__GNUC__) && defined(__x86_64__)
    const long n = 1000000; /* imuls per repetition: about 1 ms */
    double best = 0, t;
    long x = 1, i;
    int r;
    for (r = 0; r < 200; r++) {
        t = now();
        for (i = 0; i < n / 100; i++)
            __asm__ volatile(IMUL10 IMUL10 IMUL10 IMUL10 IMUL10 IMUL10 IMUL10 IMUL10 IMUL10
                             IMUL10 : "+r"(x));
        t = now() - t;
        if (3.0 * (double)n / t > best) best = 3.0 * (double)n / t;
    }
    return best * 1e-9 * (double)x; /* x stays 1 */
#else
    return 0;
#endif
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 1.0; /* total budget */
    double rate[REPS], t0, t, dt, ghz;
    float sink = 0;
    long iters = INNER, done;
    int r;

    if (seconds <= 0) {
        fprintf(stderr, "usage: %s [SECONDS]\n", argv[0]);
        return 2;
    }
    /* Warm up (the core may need a moment to reach its AVX clock) for 0.1 s,
    ** doubling the count, then size one repetition to seconds / REPS. */
    t0 = now();
    done = 0;
    do {
        sink += fma_loop(iters, 1.0f);
        done += iters;
        iters *= 2;
    } while ((dt = now() - t0) < 0.1);
    iters = (long)((double)done / dt * seconds / REPS);
    if (iters < INNER) iters = INNER;

    for (r = 0; r < REPS; r++) {
        t = now();
        sink += fma_loop(iters, 1.0f + (float)r);
        dt = now() - t;
        done = iters * CHAINS; /* FMAs of 8 lanes, 2 flops each */
        rate[r] = (double)done * 16.0 / dt * 1e-9;
    }
    qsort(rate, REPS, sizeof rate[0], cmp_double);
    ghz = clock_ghz();
    printf("{\"what\": \"fma_peak\", \"isa\": \"avx2-fma ymm\", \"chains\": %d, "
           "\"gflops\": %.2f, \"median_gflops\": %.2f, \"reps\": %d, \"clock_ghz\": %.2f, "
           "\"sink\": %g}\n",
           CHAINS, rate[REPS - 1], rate[REPS / 2], REPS, ghz, (double)sink);
    return 0;
}
