/*
** xnnpack_convs.c: convolutions by shape in XNNPACK (TFLite's CPU backend; Debian's
** libxnnpack-dev), f32, NHWC, one thread: its fastest CPU path for a single image.
**
**   cc -std=c99 -O2 -o xnnpack_convs bench/xnnpack_convs.c -lXNNPACK
**   taskset -c 1 ./xnnpack_convs SECONDS KEY...
**
** Each KEY (bench/conv_shape.h) is one convolution: the operator is created once with
** random weights (its packing happens then, as a model's load would do it) and set up
** on fixed input and output buffers; the timed call is xnn_run_operator alone, with no
** thread pool.  XNNPACK picks its kernels for this CPU (AVX-512 where there is one);
** it has no switch to cap them at AVX2.
**
** Output: one JSON line per shape, e.g.
**   {"peer": "xnnpack", "what": "conv", "key": "64,56,56,64,3,3,...", "median_us": 812.4, ...}
*/
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <string.h>
#include <xnnpack.h>

#include "conv_shape.h"

static void run_op(void *op)
{
    if (xnn_run_operator((xnn_operator_t)op, NULL) != xnn_status_success) {
        fprintf(stderr, "xnnpack_convs: xnn_run_operator failed\n");
        exit(1);
    }
}

static float *random_floats(size_t n, unsigned seed)
{
    float *v = malloc((n ? n : 1) * sizeof *v);
    size_t i;
    if (!v) {
        fprintf(stderr, "xnnpack_convs: out of memory\n");
        exit(1);
    }
    for (i = 0; i < n; i++)
        v[i] = conv_uniform(&seed);
    return v;
}

static int bench_shape(const char *key, double seconds)
{
    conv_shape s;
    xnn_operator_t op = NULL;
    size_t cg, og;
    float *in, *w, *b, *out;
    conv_timing t;
    if (!conv_shape_parse(key, &s)) {
        fprintf(stderr, "xnnpack_convs: bad shape '%s': expected 15 integers "
                "C,H,W,O,kh,kw,sh,sw,dh,dw,pt,pb,pl,pr,groups\n", key);
        return 0;
    }
    cg = (size_t)(s.c / s.groups), og = (size_t)(s.o / s.groups);
    in = random_floats((size_t)s.h * s.w * s.c, 1);
    w = random_floats((size_t)s.o * s.kh * s.kw * cg, 2); /* [groups][O/g][kh][kw][C/g] */
    b = random_floats((size_t)s.o, 3);
    out = random_floats((size_t)s.oh * s.ow * s.o, 4);
    if (xnn_create_convolution2d_nhwc_f32((uint32_t)s.pt, (uint32_t)s.pr, (uint32_t)s.pb,
                                          (uint32_t)s.pl, (uint32_t)s.kh, (uint32_t)s.kw,
                                          (uint32_t)s.sh, (uint32_t)s.sw, (uint32_t)s.dh,
                                          (uint32_t)s.dw, (uint32_t)s.groups, cg, og,
                                          (size_t)s.c, (size_t)s.o, w, b, -INFINITY, INFINITY, 0,
                                          &op) != xnn_status_success ||
        xnn_setup_convolution2d_nhwc_f32(op, 1, (size_t)s.h, (size_t)s.w, in, out, NULL) !=
            xnn_status_success) {
        fprintf(stderr, "xnnpack_convs: shape %s: XNNPACK cannot create or set up it\n", key);
        printf("{\"peer\": \"xnnpack\", \"what\": \"conv\", \"key\": \"%s\", "
               "\"error\": \"unsupported\"}\n", key);
        return 1;
    }
    t = conv_time(run_op, op, seconds);
    printf("{\"peer\": \"xnnpack\", \"what\": \"conv\", \"key\": \"%s\", \"steps\": %ld, "
           "\"median_us\": %.3f, \"p10_us\": %.3f, \"p90_us\": %.3f, \"min_us\": %.3f}\n", key,
           t.n, t.median_us, t.p10_us, t.p90_us, t.min_us);
    fflush(stdout);
    xnn_delete_operator(op);
    free(in), free(w), free(b), free(out);
    return 1;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0;
    int i;
    if (argc < 3 || seconds <= 0) {
        fprintf(stderr, "usage: %s SECONDS KEY...   (timed budget per shape; KEY: "
                "C,H,W,O,kh,kw,sh,sw,dh,dw,pt,pb,pl,pr,groups)\n", argv[0]);
        return 2;
    }
    if (xnn_initialize(NULL) != xnn_status_success) {
        fprintf(stderr, "xnnpack_convs: xnn_initialize failed (an unsupported CPU?)\n");
        return 1;
    }
    for (i = 2; i < argc; i++)
        if (!bench_shape(argv[i], seconds))
            return 2;
    xnn_deinitialize();
    return 0;
}
