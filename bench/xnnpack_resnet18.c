/*
** xnnpack_resnet18.c: lrcn_resnet18's per-frame backbone (torchvision's ResNet-18 on a
** 3 x 112 x 112 frame, up to its global average pool: 512 features) in XNNPACK, f32, NHWC,
** one thread, as a TFLite user would run it on the CPU.
**
**   cc -std=c99 -O2 -o xnnpack_resnet18 bench/xnnpack_resnet18.c -lXNNPACK -lm
**   taskset -c 1 ./xnnpack_resnet18 SECONDS
**
** The operators are XNNPACK's own, created once with random weights (batch norms folded
** into the convs, as a converter would): convolutions with their ReLU fused as the output
** clamp, a 3x3/2 max pool, the residual adds with their ReLU fused the same way, and the
** global average pool.  The timed call runs them in order (xnn_run_operator, no thread
** pool).  XNNPACK picks its kernels for this CPU (AVX-512 where there is one); it has no
** switch to cap them at AVX2.
**
** Output: one JSON line,
**   {"peer": "xnnpack", "what": "resnet18_backbone", "median_us": ..., ...}
*/
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <string.h>
#include <xnnpack.h>

#include "conv_shape.h"

enum { MAX_OPS = 40 };

typedef struct {
    xnn_operator_t op[MAX_OPS];
    int n;
} network;

static unsigned seed = 1;

static void fail(const char *what)
{
    fprintf(stderr, "xnnpack_resnet18: %s failed\n", what);
    printf("{\"peer\": \"xnnpack\", \"what\": \"resnet18_backbone\", \"error\": \"%s\"}\n", what);
    exit(1);
}

static float *buffer(size_t n)
{
    float *v = malloc((n ? n : 1) * sizeof *v);
    size_t i;
    if (!v)
        fail("malloc");
    for (i = 0; i < n; i++)
        v[i] = conv_uniform(&seed);
    return v;
}

static void add_op(network *net, xnn_operator_t op)
{
    if (net->n == MAX_OPS)
        fail("too many operators");
    net->op[net->n++] = op;
}

/* y [h/s][w/s][out] = conv(x [h][w][in]), k x k, stride s, pad k/2, ReLU if relu; returns y. */
static float *conv(network *net, const float *x, size_t h, size_t w, size_t in, size_t out,
                   uint32_t k, uint32_t s, int relu, size_t *oh, size_t *ow)
{
    xnn_operator_t op;
    uint32_t p = k / 2;
    float *wt = buffer(out * k * k * in), *b = buffer(out), *y;
    *oh = (h + 2 * p - k) / s + 1, *ow = (w + 2 * p - k) / s + 1;
    y = buffer(*oh * *ow * out);
    if (xnn_create_convolution2d_nhwc_f32(p, p, p, p, k, k, s, s, 1, 1, 1, in, out, in, out, wt,
                                          b, relu ? 0.0f : -INFINITY, INFINITY, 0,
                                          &op) != xnn_status_success ||
        xnn_setup_convolution2d_nhwc_f32(op, 1, h, w, x, y, NULL) != xnn_status_success)
        fail("convolution");
    add_op(net, op);
    free(wt), free(b);
    return y;
}

/* y = relu(a + b), n floats. */
static void add_relu(network *net, const float *a, const float *b, float *y, size_t n)
{
    xnn_operator_t op;
    size_t shape[1];
    shape[0] = n;
    if (xnn_create_add_nd_f32(0.0f, INFINITY, 0, &op) != xnn_status_success ||
        xnn_setup_add_nd_f32(op, 1, shape, 1, shape, a, b, y, NULL) != xnn_status_success)
        fail("add");
    add_op(net, op);
}

/* torchvision's BasicBlock: relu(conv(relu(conv(x))) + (downsample(x) or x)). */
static float *block(network *net, float *x, size_t *h, size_t *w, size_t in, size_t out,
                    uint32_t s)
{
    size_t h1, w1, h2, w2;
    float *a = conv(net, x, *h, *w, in, out, 3, s, 1, &h1, &w1);
    float *y = conv(net, a, h1, w1, out, out, 3, 1, 0, &h2, &w2);
    const float *skip = x;
    if (s != 1 || in != out)
        skip = conv(net, x, *h, *w, in, out, 1, s, 0, &h1, &w1);
    add_relu(net, y, skip, y, h2 * w2 * out);
    *h = h2, *w = w2;
    return y;
}

static void run(void *arg)
{
    network *net = arg;
    int i;
    for (i = 0; i < net->n; i++)
        if (xnn_run_operator(net->op[i], NULL) != xnn_status_success)
            fail("xnn_run_operator");
}

int main(int argc, char **argv)
{
    static network net;
    double seconds = argc > 1 ? atof(argv[1]) : 0;
    size_t h = 112, w = 112, c = 64, ph, pw;
    static const size_t widths[4] = {64, 128, 256, 512};
    xnn_operator_t op;
    float *x, *y, *feat;
    conv_timing t;
    int stage, i;
    if (argc != 2 || seconds <= 0) {
        fprintf(stderr, "usage: %s SECONDS   (timed budget)\n", argv[0]);
        return 2;
    }
    if (xnn_initialize(NULL) != xnn_status_success)
        fail("xnn_initialize");
    x = buffer(h * w * 3);
    y = conv(&net, x, h, w, 3, 64, 7, 2, 1, &h, &w); /* 56 x 56 */
    ph = (h + 2 - 3) / 2 + 1, pw = (w + 2 - 3) / 2 + 1;
    x = buffer(ph * pw * c);
    if (xnn_create_max_pooling2d_nhwc_f32(1, 1, 1, 1, 3, 3, 2, 2, 1, 1, c, c, c, -INFINITY,
                                          INFINITY, 0, &op) != xnn_status_success ||
        xnn_setup_max_pooling2d_nhwc_f32(op, 1, h, w, y, x, NULL) != xnn_status_success)
        fail("max pooling");
    add_op(&net, op);
    h = ph, w = pw;
    for (stage = 0; stage < 4; stage++)
        for (i = 0; i < 2; i++) {
            size_t out = widths[stage];
            x = block(&net, x, &h, &w, c, out, stage > 0 && i == 0 ? 2 : 1);
            c = out;
        }
    feat = buffer(c);
    if (xnn_create_global_average_pooling_nwc_f32(c, c, c, -INFINITY, INFINITY, 0, &op) !=
            xnn_status_success ||
        xnn_setup_global_average_pooling_nwc_f32(op, 1, h * w, x, feat, NULL) !=
            xnn_status_success)
        fail("global average pooling");
    add_op(&net, op);
    t = conv_time(run, &net, seconds);
    printf("{\"peer\": \"xnnpack\", \"what\": \"resnet18_backbone\", \"operators\": %d, "
           "\"steps\": %ld, \"median_us\": %.3f, \"p10_us\": %.3f, \"p90_us\": %.3f, "
           "\"min_us\": %.3f}\n", net.n, t.n, t.median_us, t.p10_us, t.p90_us, t.min_us);
    for (i = 0; i < net.n; i++)
        xnn_delete_operator(net.op[i]);
    xnn_deinitialize();
    return 0;
}
