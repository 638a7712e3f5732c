/*
** driver.c: runs one generated reel model on raw float32 files, for the Tcl
** tests (tests/lib.tcl builds it with build_model).
**
**   drive info                   print "IN_SIZE OUT_SIZE CLIP_SIZE FORECAST_FLOATS
**                                ATTENTION_SIZE IN_TYPE" (0: none; float or uint8)
**   drive MODE IN.f32 T OUT.f32  read T frames, run, write the outputs
**
** Each run writes T per-frame outputs, the clip output and the forecast
** (when the model has them), then the clip read after each of the T frames
** and the attention weights after each frame (when it has them).  Reading
** the clip every frame also shows that clip() leaves the stream alone.
** MODE is one of
**   seq         reset, step frames 0..T-1, write the run
**   rerun       as seq twice on one context; writes only the second run,
**               so it equals seq iff reset restores the initial state
**   interleave  contexts A (frames in order) and B (frames reversed),
**               stepped A,B,A,B,...; writes A's run then B's run
**   alone       B's run (frames reversed) on its own in a fresh context;
**               interleave must equal seq followed by alone
**   poison      frames of NaN, +Inf, -Inf and 3e38 (clip, forecast and
**               attention read after each), then reset and seq: a bad
**               input must neither crash nor outlive a reset, so this
**               equals seq
**
** A caller-owned context may hold anything before its first reset, so the
** driver fills it with 0xff bytes (NaN floats) first, except in rerun,
** which zero-fills it: a field that reset forgets is then NaN in seq but
** finite in rerun's second run, and rerun != seq shows the bug either way.
**
** Compile with -DREEL_MODEL=m -DREEL_MODEL_UP=M -DREEL_MODEL_H='"m.h"'.
** It allocates nothing and uses no stdio (stdio buffers come from malloc),
** only read/write on file descriptors, so it can be linked with noheap.c.
** The float files are in host byte order, which the tests assume is
** little-endian.
*/
#define _POSIX_C_SOURCE 200112L
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include REEL_MODEL_H

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(s) CAT(REEL_MODEL, s)    /* FN(_step) -> m_step */
#define UP(s) CAT(REEL_MODEL_UP, s) /* UP(_IN_SIZE) -> M_IN_SIZE */

#define IN_N UP(_IN_SIZE)
#define OUT_N UP(_OUT_SIZE)
typedef UP(_IN_TYPE) in_t;               /* float, or uint8_t for a camera's bytes */
#define IN_IS_FLOAT ((in_t)0.5 != 0)

/* #ifdef cannot test a pasted name, but #if expands it: an identifier left
** over after expansion counts as 0, so this is 0 exactly when the model has
** no M_CLIP_SIZE (which must therefore be a plain integer constant; and
** -Wundef would warn here for a model without a clip). */
#if UP(_CLIP_SIZE) > 0
#define CLIP_N UP(_CLIP_SIZE)
#else
#define CLIP_N 0
#endif

/* The same trick for a forecast: FC_N floats after the clip. */
#if UP(_FORECAST_STEPS) > 0
#define FC_N (UP(_FORECAST_STEPS) * UP(_FORECAST_SIZE))
#else
#define FC_N 0
#endif

/* And for attention weights. */
#if UP(_ATTENTION_SIZE) > 0
#define ATT_N UP(_ATTENTION_SIZE)
#else
#define ATT_N 0
#endif

#ifndef MAX_T
#define MAX_T 256 /* longest clip the driver accepts */
#endif

typedef FN(_ctx) ctx_t;

/* One run's outputs: T frames, then the clip, then the forecast. */
#define RUN_N (MAX_T * OUT_N + CLIP_N + FC_N)

/* The clip and the attention weights after each frame. */
#define EXTRA_N (MAX_T * (CLIP_N + ATT_N) + 1)

static ctx_t ctx_a, ctx_b;
static float frames[MAX_T * IN_N];
static float run_a[RUN_N], run_b[RUN_N];
static float extra_a[EXTRA_N], extra_b[EXTRA_N];
static in_t bad[IN_N];
static in_t frame_in[IN_N]; /* the frame being stepped, as m_step takes it */

static void fail(const char *what, const char *arg)
{
    const char *parts[4];
    int i;
    parts[0] = "drive: ";
    parts[1] = what;
    parts[2] = arg ? arg : "";
    parts[3] = "\n";
    for (i = 0; i < 4; i++)
        if (write(2, parts[i], strlen(parts[i])) < 0) break;
    exit(1);
}

/* Format v in decimal at the end of buf (no stdio); returns its start. */
static char *utoa(unsigned long v, char *buf, size_t size)
{
    char *p = buf + size - 1;
    *p = 0;
    do *--p = (char)('0' + v % 10); while ((v /= 10) != 0 && p > buf);
    return p;
}

static void read_frames(const char *path, long t)
{
    size_t want = (size_t)t * IN_N * sizeof(float), got = 0;
    char *dst = (char *)frames, extra;
    ssize_t n;
    int fd = open(path, O_RDONLY);
    if (fd < 0) fail("cannot open ", path);
    while (got < want && (n = read(fd, dst + got, want - got)) > 0)
        got += (size_t)n;
    if (got != want) fail("input too short: ", path);
    if (read(fd, &extra, 1) != 0) fail("input longer than T frames: ", path);
    close(fd);
}

static void write_floats(int fd, const float *v, size_t count)
{
    const char *src = (const char *)v;
    size_t want = count * sizeof(float), done = 0;
    ssize_t n;
    while (done < want && (n = write(fd, src + done, want - done)) > 0)
        done += (size_t)n;
    if (done != want) fail("write failed", NULL);
}

/* Fill a context with a byte (garbage), then reset it. */
static void fresh(ctx_t *ctx, int fill)
{
    memset(ctx, fill, sizeof *ctx);
    FN(_reset)(ctx);
}

/* Step frame `f` into slot `t` of a run; the extras after it. */
static void step(ctx_t *ctx, long f, float *run, long t)
{
    float *extra = run == run_a ? extra_a : extra_b;
    (void)extra;
    long i;
    for (i = 0; i < IN_N; i++) frame_in[i] = (in_t)frames[f * IN_N + i];
    FN(_step)(ctx, frame_in, run + t * OUT_N);
#if CLIP_N > 0
    FN(_clip)(ctx, extra + t * CLIP_N);
#endif
#if ATT_N > 0
    FN(_attention)(ctx, extra + MAX_T * CLIP_N + t * ATT_N);
#endif
}

/* A run's extras, packed: T clips, then T attention rows. */
static void write_extras(int fd, const float *extra, long t)
{
    write_floats(fd, extra, (size_t)t * CLIP_N);
    write_floats(fd, extra + MAX_T * CLIP_N, (size_t)t * ATT_N);
}

/* A frame of one bad value: NaN, +Inf, -Inf or a huge finite number (bytes: 255, 170,
** 85, 0: the extremes a camera gives). */
static void bad_frame(in_t *frame, int kind)
{
    static const unsigned long bits[4] = {0x7fc00000UL, 0x7f800000UL, 0xff800000UL, 0x7f61b1e6UL};
    unsigned int b = (unsigned int)bits[kind % 4];
    float v;
    long i;
    memcpy(&v, &b, sizeof v);
    for (i = 0; i < IN_N; i++) frame[i] = IN_IS_FLOAT ? (in_t)v : (in_t)(255 - 85 * (kind % 4));
}

/* Append the clip output and the forecast (where the model has them)
** after T frames of a run. */
static void finish(ctx_t *ctx, float *run, long t)
{
    (void)ctx; (void)run; (void)t;
#if CLIP_N > 0
    FN(_clip)(ctx, run + t * OUT_N);
#endif
#if FC_N > 0
    FN(_forecast)(ctx, run + t * OUT_N + CLIP_N);
#endif
}

/* Step all T frames through `ctx`, in order or reversed, then the clip. */
static void run(ctx_t *ctx, long t, int reversed, float *out)
{
    long i;
    for (i = 0; i < t; i++) step(ctx, reversed ? t - 1 - i : i, out, i);
    finish(ctx, out, t);
}

int main(int argc, char **argv)
{
    const char *mode;
    long t, i;
    char *end;
    int fd;

    if (argc == 2 && strcmp(argv[1], "info") == 0) {
        char b1[24], b2[24], b3[24], b4[24], b5[24];
        const char *p[12];
        p[0] = utoa(IN_N, b1, sizeof b1); p[1] = " ";
        p[2] = utoa(OUT_N, b2, sizeof b2); p[3] = " ";
        p[4] = utoa(CLIP_N, b3, sizeof b3); p[5] = " ";
        p[6] = utoa(FC_N, b4, sizeof b4); p[7] = " ";
        p[8] = utoa(ATT_N, b5, sizeof b5); p[9] = " ";
        p[10] = IN_IS_FLOAT ? "float" : "uint8"; p[11] = "\n";
        for (i = 0; i < 12; i++)
            if (write(1, p[i], strlen(p[i])) < 0) fail("write failed", NULL);
        return 0;
    }
    if (argc != 5) fail("usage: drive info | drive seq|rerun|interleave|alone IN.f32 T OUT.f32", NULL);
    mode = argv[1];
    t = strtol(argv[3], &end, 10);
    if (*argv[3] == 0 || *end != 0 || t < 0) fail("bad frame count ", argv[3]);
    if (t > MAX_T) fail("too many frames for MAX_T (rebuild with -DMAX_T=N): ", argv[3]);
    read_frames(argv[2], t);

    if (strcmp(mode, "seq") == 0) {
        fresh(&ctx_a, 0xff);
        run(&ctx_a, t, 0, run_a);
    } else if (strcmp(mode, "rerun") == 0) {
        fresh(&ctx_a, 0);
        run(&ctx_a, t, 0, run_a);
        memset(run_a, 0, sizeof run_a); /* a step that writes nothing shows */
        memset(extra_a, 0, sizeof extra_a);
        FN(_reset)(&ctx_a);
        run(&ctx_a, t, 0, run_a);
    } else if (strcmp(mode, "interleave") == 0) {
        fresh(&ctx_a, 0xff);
        fresh(&ctx_b, 0xff);
        for (i = 0; i < t; i++) {
            step(&ctx_a, i, run_a, i);
            step(&ctx_b, t - 1 - i, run_b, i);
        }
        finish(&ctx_a, run_a, t);
        finish(&ctx_b, run_b, t);
    } else if (strcmp(mode, "poison") == 0) {
        fresh(&ctx_a, 0);
        for (i = 0; i < 8; i++) {
            bad_frame(bad, (int)i);
            FN(_step)(&ctx_a, bad, run_b);
            finish(&ctx_a, run_b, 1);
#if ATT_N > 0
            FN(_attention)(&ctx_a, extra_b);
#endif
        }
        FN(_reset)(&ctx_a);
        run(&ctx_a, t, 0, run_a);
    } else if (strcmp(mode, "alone") == 0) {
        fresh(&ctx_b, 0xff);
        run(&ctx_b, t, 1, run_b);
    } else {
        fail("unknown mode ", mode);
    }

    fd = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) fail("cannot create ", argv[4]);
    if (strcmp(mode, "alone") != 0) {
        write_floats(fd, run_a, (size_t)t * OUT_N + CLIP_N + FC_N);
        write_extras(fd, extra_a, t);
    }
    if (strcmp(mode, "interleave") == 0 || strcmp(mode, "alone") == 0) {
        write_floats(fd, run_b, (size_t)t * OUT_N + CLIP_N + FC_N);
        write_extras(fd, extra_b, t);
    }
    if (close(fd) != 0) fail("cannot write ", argv[4]);
    return 0;
}
