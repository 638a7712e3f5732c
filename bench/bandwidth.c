/*
** bandwidth.c: single-core streaming read bandwidth for given buffer sizes.
**
**   cc -std=c99 -O2 -mavx2 -mfma -o bandwidth bench/bandwidth.c
**   taskset -c 1 ./bandwidth [--seconds S] LABEL=SIZE ...
**
** SIZE is bytes with an optional K, M or G suffix (powers of 2), e.g.
** L1=24K L2=1M L3=16M DRAM=1G lstm512=8396800.  For each size the buffer is
** allocated (64-byte aligned), written once (so its pages exist and it sits
** in the caches it fits in), then read front to back again and again.
**
** The read loop is the simplest one that the loads alone limit: 256 bytes
** per iteration as eight 32-byte loads, each folded into its own running
** integer XOR (vpxor has latency 1 and runs on three or four ports, so the
** XORs never become the bottleneck, unlike FP adds or FMAs).  Nothing is
** written back.  The loop runs three ways: as is; with a software
** prefetch of every line PREFETCH_AHEAD bytes ahead (beyond L2 the hardware
** prefetchers alone can leave bandwidth unused, and a kernel could
** prefetch too); and front to back then back to front in turn, so each
** pass starts on what the previous one read last, still in the caches
** when the buffer is larger than them (reel's LSTM/GRU steps alternate
** their order so).  The best of the three is the bound a kernel that
** streams weights cannot beat: the bandwidth roofline of a batch-1
** LSTM/GRU step.
**
** Each size is measured in repetitions of about 2 ms (at least one pass);
** the best rate is reported (the least disturbed repetition) with the
** median.  GB/s are 1e9 bytes per second.  One JSON line per size:
**   {"what": "bandwidth", "label": "L2", "bytes": 1048576, "gbs": 117.0, ...}
*/
#define _POSIX_C_SOURCE 200112L
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_REPS 1000
#define PREFETCH_AHEAD 2048
#define REP_SECONDS 0.002

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

enum { PLAIN, PREFETCH, ALTERNATE, MODES };
static const char *const mode_name[MODES] = {"plain", "prefetch", "alternate"};

/* Read `bytes` (a multiple of 256) from p, `passes` times, the way `mode`
** says; returns a value that depends on every byte so the loads cannot be
** dropped.  (A prefetch past the end is harmless: prefetches never
** fault.) */
static long long read_passes(const void *p, size_t bytes, long passes, int mode)
{
    static long backwards; /* ALTERNATE: flips every pass, across calls */
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    __m256i a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    long long out[4];
    long k;
    for (k = 0; k < passes; k++) {
        const __m256i *base = (const __m256i *)p;
        size_t n = bytes / 32, i;
        int down = mode == ALTERNATE && (backwards ^= 1);
        for (i = 0; i < n; i += 8) {
            const __m256i *q = base + (down ? n - 8 - i : i);
            if (mode == PREFETCH) {
                const char *ahead = (const char *)q + PREFETCH_AHEAD;
                _mm_prefetch(ahead, _MM_HINT_T0);
                _mm_prefetch(ahead + 64, _MM_HINT_T0);
                _mm_prefetch(ahead + 128, _MM_HINT_T0);
                _mm_prefetch(ahead + 192, _MM_HINT_T0);
            }
            a0 = _mm256_xor_si256(a0, _mm256_load_si256(q + 0));
            a1 = _mm256_xor_si256(a1, _mm256_load_si256(q + 1));
            a2 = _mm256_xor_si256(a2, _mm256_load_si256(q + 2));
            a3 = _mm256_xor_si256(a3, _mm256_load_si256(q + 3));
            a4 = _mm256_xor_si256(a4, _mm256_load_si256(q + 4));
            a5 = _mm256_xor_si256(a5, _mm256_load_si256(q + 5));
            a6 = _mm256_xor_si256(a6, _mm256_load_si256(q + 6));
            a7 = _mm256_xor_si256(a7, _mm256_load_si256(q + 7));
        }
    }
    a0 = _mm256_xor_si256(_mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3)),
                          _mm256_xor_si256(_mm256_xor_si256(a4, a5), _mm256_xor_si256(a6, a7)));
    _mm256_storeu_si256((__m256i *)out, a0);
    return out[0] ^ out[1] ^ out[2] ^ out[3];
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* "24K" -> 24576; 0 on a malformed size. */
static size_t parse_size(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v <= 0) return 0;
    if (*end == 'K' || *end == 'k') v *= 1024.0, end++;
    else if (*end == 'M' || *end == 'm') v *= 1048576.0, end++;
    else if (*end == 'G' || *end == 'g') v *= 1073741824.0, end++;
    if (*end == 'B') end++;
    return *end ? 0 : (size_t)v;
}

/* Best and median GB/s of repeated reads of buf, the way `mode` says. */
static void time_reads(const unsigned char *buf, size_t bytes, double seconds, int mode,
                       double *best, double *median, long long *sink)
{
    static double rate[MAX_REPS];
    double t0, t, dt, pass_s;
    long passes, reps, r;

    /* Warm up with passes for 50 ms at least, to time one pass. */
    t0 = now();
    passes = 0;
    do {
        *sink ^= read_passes(buf, bytes, 1, mode);
        passes++;
    } while ((dt = now() - t0) < 0.05);
    pass_s = dt / (double)passes;

    passes = (long)(REP_SECONDS / pass_s);
    if (passes < 1) passes = 1;
    reps = (long)(seconds / (pass_s * (double)passes));
    if (reps < 5) reps = 5;
    if (reps > MAX_REPS) reps = MAX_REPS;
    for (r = 0; r < reps; r++) {
        t = now();
        *sink ^= read_passes(buf, bytes, passes, mode);
        dt = now() - t;
        rate[r] = (double)bytes * (double)passes / dt * 1e-9;
    }
    qsort(rate, (size_t)reps, sizeof rate[0], cmp_double);
    *best = rate[reps - 1];
    *median = rate[reps / 2];
}

static void measure(const char *label, size_t bytes, double seconds)
{
    double best[MODES], median[MODES];
    long long sink = 0;
    unsigned char *buf;
    void *mem;
    int mode, top = PLAIN;

    bytes = (bytes + 255) / 256 * 256; /* whole loop iterations */
    if (posix_memalign(&mem, 64, bytes) != 0) {
        fprintf(stderr, "bandwidth: cannot allocate %zu bytes for %s\n", bytes, label);
        exit(1);
    }
    buf = mem;
    memset(buf, 0x5a, bytes);
    for (mode = 0; mode < MODES; mode++) {
        time_reads(buf, bytes, seconds / MODES, mode, &best[mode], &median[mode], &sink);
        if (best[mode] > best[top]) top = mode;
    }
    printf("{\"what\": \"bandwidth\", \"label\": \"%s\", \"bytes\": %zu, \"gbs\": %.2f, "
           "\"median_gbs\": %.2f, \"mode\": \"%s\", \"plain_gbs\": %.2f, \"prefetch_gbs\": %.2f, "
           "\"alternate_gbs\": %.2f, \"sink\": %lld}\n",
           label, bytes, best[top], median[top], mode_name[top], best[PLAIN], best[PREFETCH],
           best[ALTERNATE], sink & 1);
    fflush(stdout);
    free(buf);
}

int main(int argc, char **argv)
{
    double seconds = 0.5; /* per size */
    int i = 1;

    if (argc > 2 && strcmp(argv[1], "--seconds") == 0) {
        seconds = atof(argv[2]);
        i = 3;
    }
    if (i >= argc || seconds <= 0) {
        fprintf(stderr, "usage: %s [--seconds S] LABEL=SIZE ...   (SIZE: bytes, K, M, G)\n",
                argv[0]);
        return 2;
    }
    for (; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        char label[64];
        size_t bytes;
        if (!eq || eq == argv[i] || (size_t)(eq - argv[i]) >= sizeof label ||
            (bytes = parse_size(eq + 1)) == 0) {
            fprintf(stderr, "bandwidth: bad argument '%s': expected LABEL=SIZE\n", argv[i]);
            return 2;
        }
        memcpy(label, argv[i], (size_t)(eq - argv[i]));
        label[eq - argv[i]] = 0;
        measure(label, bytes, seconds);
    }
    return 0;
}
