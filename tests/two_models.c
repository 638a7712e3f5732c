/*
** two_models.c: two generated models linked into one program, as firmware
** with several models has them: both compiled into one output directory (one
** copy of each runtime file), the model files and the runtime built once.
**
**   two_models A_IN.f32 A_T B_IN.f32 B_T OUT.f32
**
** steps model A over A's T frames and model B over B's, interleaved frame by
** frame, and writes A's per-frame outputs, then B's (float32, host order).
** Frames are float32 files converted to each model's M_IN_TYPE.  Build with
** -DA=name -DA_UP=NAME -DA_H='"name.h"' and the same for B.
*/
#include <stdio.h>
#include <stdlib.h>
#include A_H
#include B_H

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define AF(s) CAT(A, s)
#define AU(s) CAT(A_UP, s)
#define BF(s) CAT(B, s)
#define BU(s) CAT(B_UP, s)

enum { MAX_T = 64 };
static AF(_ctx) ctx_a;
static BF(_ctx) ctx_b;
static float frames_a[MAX_T * AU(_IN_SIZE)], frames_b[MAX_T * BU(_IN_SIZE)];
static float out_a[MAX_T * AU(_OUT_SIZE)], out_b[MAX_T * BU(_OUT_SIZE)];
static AU(_IN_TYPE) in_a[AU(_IN_SIZE)];
static BU(_IN_TYPE) in_b[BU(_IN_SIZE)];

static long read_frames(const char *path, float *dst, long size, const char *t)
{
    long n = strtol(t, NULL, 10);
    FILE *f = fopen(path, "rb");
    if (!f || n < 1 || n > MAX_T ||
        fread(dst, sizeof(float) * (size_t)size, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "two_models: cannot read %s frames of %s\n", t, path);
        exit(1);
    }
    fclose(f);
    return n;
}

int main(int argc, char **argv)
{
    long ta, tb, t, i;
    FILE *out;
    if (argc != 6) {
        fprintf(stderr, "usage: two_models A_IN.f32 A_T B_IN.f32 B_T OUT.f32\n");
        return 2;
    }
    ta = read_frames(argv[1], frames_a, AU(_IN_SIZE), argv[2]);
    tb = read_frames(argv[3], frames_b, BU(_IN_SIZE), argv[4]);
    AF(_reset)(&ctx_a);
    BF(_reset)(&ctx_b);
    for (t = 0; t < (ta > tb ? ta : tb); t++) {
        if (t < ta) {
            for (i = 0; i < AU(_IN_SIZE); i++)
                in_a[i] = (AU(_IN_TYPE))frames_a[t * AU(_IN_SIZE) + i];
            AF(_step)(&ctx_a, in_a, out_a + t * AU(_OUT_SIZE));
        }
        if (t < tb) {
            for (i = 0; i < BU(_IN_SIZE); i++)
                in_b[i] = (BU(_IN_TYPE))frames_b[t * BU(_IN_SIZE) + i];
            BF(_step)(&ctx_b, in_b, out_b + t * BU(_OUT_SIZE));
        }
    }
    out = fopen(argv[5], "wb");
    if (!out || fwrite(out_a, sizeof(float) * AU(_OUT_SIZE), (size_t)ta, out) != (size_t)ta ||
        fwrite(out_b, sizeof(float) * BU(_OUT_SIZE), (size_t)tb, out) != (size_t)tb) {
        fprintf(stderr, "two_models: cannot write %s\n", argv[5]);
        return 1;
    }
    return fclose(out) != 0;
}
