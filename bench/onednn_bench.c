/*
** onednn_bench.c: the benchmark cells in oneDNN (2.6 C API), one thread.
**
**   cc -std=c99 -O2 -o onednn_bench bench/onednn_bench.c -ldnnl
**   OMP_NUM_THREADS=1 taskset -c 1 ./onednn_bench [SECONDS [BATCH...]]
**   DNNL_MAX_CPU_ISA=AVX2 OMP_NUM_THREADS=1 taskset -c 1 ./onednn_bench   (AVX2 kernels only)
**
** Cells, all f32, batch 1, forward inference:
**   lstm512     vanilla LSTM, 1 layer, 1 step, 512 -> 512
**   gru512      linear-before-reset GRU (lbr_gru: PyTorch's nn.GRU), same sizes
**   convlstm64  the gate convolution of a ConvLSTM step on 32x32 with C = H = 64:
**               128 -> 256 channels, 3x3, stride 1, pad 1, direct algorithm.
**               Only the conv: oneDNN has no ConvLSTM, and the gate math (64K
**               elements) is a small part of the step.  Measured twice: with
**               the library's preferred (`any`, blocked) activation layout, as
**               a cell keeping its state in that layout would run, and with
**               plain NCHW activations, as reel's are.
**
** With BATCH arguments, each cell is timed again at each batch size (N streams
** stepped together, "what": "batch"): lstm512 and gru512 with N rows of x and
** h, the conv with N images (preferred layout).
**
**   ./onednn_bench SECONDS --convs KEY...
** times convolutions by shape instead ("what": "conv"; KEY as bench/conv_shape.h
** says): one image, oneDNN's choice of algorithm (dnnl_convolution_auto: direct
** or Winograd, whichever it implements faster) and of layouts (`any`), as a model
** kept in its blocked layouts end to end would run it.
**
** Weights use the library's preferred formats (`any`); random plain-format
** weights are reordered into them once, before timing, as are the inputs.
** The scratchpad is user-managed (allocated up front), so the timed loop is
** the primitive execution only: dnnl_primitive_execute + dnnl_stream_wait.
** The recurrent cells carry their state: two argument sets swap the h (and
** c) buffers between steps, so step t + 1 reads what step t wrote.
**
** The library threads with OpenMP; run with OMP_NUM_THREADS=1 (bench/run.sh
** does, and pins the process to one core, which GOMP also respects).
**
** Output: one JSON line per cell, e.g.
**   {"peer": "onednn", "cell": "lstm512", "layout": "plain", "median_us": 80.1, ...,
**    "impl": "ref:any", "isa": "avx2"}
*/
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include "conv_shape.h"

#define WARMUP_SECONDS 0.3
#define WARMUP_MIN 3
#define MIN_TIMED 11
#define MAX_TIMED 200000
#define MAX_ARGS 12

#define CHECK(call)                                                                     \
    do {                                                                                \
        dnnl_status_t s_ = (call);                                                      \
        if (s_ != dnnl_success) {                                                       \
            fprintf(stderr, "onednn_bench: %s:%d: %s failed: %s\n", __FILE__, __LINE__, \
                    #call, dnnl_status2str(s_));                                        \
            exit(1);                                                                    \
        }                                                                               \
    } while (0)

static dnnl_engine_t engine;
static dnnl_stream_t stream;
static double samples[MAX_TIMED];

static float uniform(unsigned *s) /* xorshift32 -> [-1, 1) */
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return (float)(*s >> 8) * (2.0f / 16777216.0f) - 1.0f;
}

/* A plain md of the given dims and tag. */
static dnnl_memory_desc_t plain_md(int ndims, const dnnl_dim_t *dims, dnnl_format_tag_t tag)
{
    dnnl_memory_desc_t md;
    CHECK(dnnl_memory_desc_init_by_tag(&md, ndims, dims, dnnl_f32, tag));
    return md;
}

/* Memory for execute argument `arg` of `pd`, in the layout the primitive
** chose, holding uniform random values in [-scale, scale): they are made in
** the plain layout `user` and reordered (outside any timing).  With user ==
** NULL (outputs, scratchpad) the memory is just allocated and zeroed.
** Returns NULL when the primitive has no such argument. */
static dnnl_memory_t arg_memory(const_dnnl_primitive_desc_t pd, int arg,
                                const dnnl_memory_desc_t *user, float scale, unsigned seed)
{
    const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg);
    dnnl_memory_t mem, src;
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_t reorder;
    dnnl_exec_arg_t args[2];
    size_t i, n;
    float *p;

    if (!md || md->ndims == 0) return NULL;
    CHECK(dnnl_memory_create(&mem, md, engine, DNNL_MEMORY_ALLOCATE));
    CHECK(dnnl_memory_get_data_handle(mem, (void **)&p));
    memset(p, 0, dnnl_memory_desc_get_size(md));
    if (!user) return mem;

    CHECK(dnnl_memory_create(&src, user, engine, DNNL_MEMORY_ALLOCATE));
    CHECK(dnnl_memory_get_data_handle(src, (void **)&p));
    n = dnnl_memory_desc_get_size(user) / sizeof(float);
    for (i = 0; i < n; i++) p[i] = scale * uniform(&seed);
    CHECK(dnnl_reorder_primitive_desc_create(&rpd, user, engine, md, engine, NULL));
    CHECK(dnnl_primitive_create(&reorder, rpd));
    args[0].arg = DNNL_ARG_FROM; args[0].memory = src;
    args[1].arg = DNNL_ARG_TO; args[1].memory = mem;
    CHECK(dnnl_primitive_execute(reorder, stream, 2, args));
    CHECK(dnnl_stream_wait(stream));
    dnnl_primitive_destroy(reorder);
    dnnl_primitive_desc_destroy(rpd);
    dnnl_memory_destroy(src);
    return mem;
}

/* Argument lists for the two alternating steps. */
typedef struct {
    int n;
    dnnl_exec_arg_t a[MAX_ARGS];
} arg_list;

static void add(arg_list *l, int arg, dnnl_memory_t mem)
{
    if (!mem) return;
    l->a[l->n].arg = arg;
    l->a[l->n].memory = mem;
    l->n++;
}

static const char *isa_name(dnnl_cpu_isa_t isa)
{
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

/* Warm up, then time `prim` call by call (alternating the two argument
** lists), about `seconds` in all; print one JSON line (batch 0: the batch-1 row; key: a
** convolution by shape, else NULL). */
static void time_primitive(const char *cell, const char *layout, int batch, const char *key,
                           dnnl_primitive_t prim, const_dnnl_primitive_desc_t pd, arg_list *lists,
                           double seconds)
{
    const char *impl = "?";
    double t0, t, est, sum = 0;
    long warm = 0, n, i;

    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    t0 = conv_now();
    do {
        CHECK(dnnl_primitive_execute(prim, stream, lists[warm & 1].n, lists[warm & 1].a));
        CHECK(dnnl_stream_wait(stream));
        warm++;
    } while (warm < WARMUP_MIN || conv_now() - t0 < WARMUP_SECONDS);
    est = (conv_now() - t0) / (double)warm;
    n = (long)(seconds / est);
    if (n < MIN_TIMED) n = MIN_TIMED;
    if (n > MAX_TIMED) n = MAX_TIMED;
    for (i = 0; i < n; i++) {
        const arg_list *l = &lists[(warm + i) & 1];
        t = conv_now();
        CHECK(dnnl_primitive_execute(prim, stream, l->n, l->a));
        CHECK(dnnl_stream_wait(stream));
        samples[i] = conv_now() - t;
        sum += samples[i];
    }
    qsort(samples, (size_t)n, sizeof samples[0], conv_cmp_double);
    if (key)
        printf("{\"peer\": \"onednn\", \"what\": \"conv\", \"key\": \"%s\", ", key);
    else if (batch > 0)
        printf("{\"peer\": \"onednn\", \"what\": \"batch\", \"batch\": %d, ", batch);
    else
        printf("{\"peer\": \"onednn\", ");
    printf("\"cell\": \"%s\", \"layout\": \"%s\", \"steps\": %ld, "
           "\"median_us\": %.3f, \"p10_us\": %.3f, \"p90_us\": %.3f, \"mean_us\": %.3f, "
           "\"min_us\": %.3f, \"impl\": \"%s\", \"isa\": \"%s\"}\n",
           cell, layout, n, 1e6 * conv_quantile(samples, n, 0.5), 1e6 * conv_quantile(samples, n, 0.1),
           1e6 * conv_quantile(samples, n, 0.9), 1e6 * sum / (double)n, 1e6 * samples[0], impl,
           isa_name(dnnl_get_effective_cpu_isa()));
    fflush(stdout);
}

/* A user-managed scratchpad, so nothing is allocated while timing. */
static dnnl_primitive_attr_t scratchpad_attr(void)
{
    dnnl_primitive_attr_t attr;
    CHECK(dnnl_primitive_attr_create(&attr));
    CHECK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));
    return attr;
}

/* One step of a 1-layer unidirectional LSTM or LBR GRU, n -> n, over `batch` streams
** (0: batch 1, the plain row). */
static void bench_rnn(int gru, int n, int batch, double seconds)
{
    const int G = gru ? 3 : 4;       /* gates */
    const int GB = gru ? G + 1 : G;  /* bias rows: LBR GRU keeps b_hn apart, as nn.GRU */
    const float scale = 1.0f / sqrtf((float)n);  /* PyTorch's init range */
    const int mb = batch > 0 ? batch : 1;
    dnnl_dim_t d_layer[3] = {1, mb, n}, d_iter[4] = {1, 1, mb, n};
    dnnl_dim_t d_w[5] = {1, 1, n, G, n}, d_b[4] = {1, 1, GB, n};
    dnnl_memory_desc_t layer = plain_md(3, d_layer, dnnl_tnc);
    dnnl_memory_desc_t iter = plain_md(4, d_iter, dnnl_ldnc);
    dnnl_memory_desc_t w_any = plain_md(5, d_w, dnnl_format_tag_any);
    dnnl_memory_desc_t w_user = plain_md(5, d_w, dnnl_ldigo);
    dnnl_memory_desc_t bias = plain_md(4, d_b, dnnl_ldgo);
    dnnl_rnn_desc_t desc;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_primitive_attr_t attr = scratchpad_attr();
    dnnl_memory_t x, wl, wi, b, y, h[2], c[2] = {NULL, NULL}, pad;
    arg_list lists[2];
    int k;

    if (gru)
        CHECK(dnnl_lbr_gru_forward_desc_init(&desc, dnnl_forward_inference,
                                             dnnl_unidirectional_left2right, &layer, &iter,
                                             &w_any, &w_any, &bias, &layer, &iter, 0));
    else
        CHECK(dnnl_lstm_forward_desc_init(&desc, dnnl_forward_inference,
                                          dnnl_unidirectional_left2right, &layer, &iter, &iter,
                                          &w_any, &w_any, &bias, &layer, &iter, &iter, 0));
    CHECK(dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL));
    CHECK(dnnl_primitive_create(&prim, pd));

    x = arg_memory(pd, DNNL_ARG_SRC_LAYER, &layer, 1.0f, 1);
    wl = arg_memory(pd, DNNL_ARG_WEIGHTS_LAYER, &w_user, scale, 2);
    wi = arg_memory(pd, DNNL_ARG_WEIGHTS_ITER, &w_user, scale, 3);
    b = arg_memory(pd, DNNL_ARG_BIAS, &bias, scale, 4);
    y = arg_memory(pd, DNNL_ARG_DST_LAYER, NULL, 0, 0);
    h[0] = arg_memory(pd, DNNL_ARG_SRC_ITER, NULL, 0, 0);
    h[1] = arg_memory(pd, DNNL_ARG_DST_ITER, NULL, 0, 0);
    if (!gru) {
        c[0] = arg_memory(pd, DNNL_ARG_SRC_ITER_C, NULL, 0, 0);
        c[1] = arg_memory(pd, DNNL_ARG_DST_ITER_C, NULL, 0, 0);
    }
    pad = arg_memory(pd, DNNL_ARG_SCRATCHPAD, NULL, 0, 0);
    for (k = 0; k < 2; k++) { /* step k reads state k, writes state 1 - k */
        lists[k].n = 0;
        add(&lists[k], DNNL_ARG_SRC_LAYER, x);
        add(&lists[k], DNNL_ARG_SRC_ITER, h[k]);
        add(&lists[k], DNNL_ARG_SRC_ITER_C, c[k]);
        add(&lists[k], DNNL_ARG_WEIGHTS_LAYER, wl);
        add(&lists[k], DNNL_ARG_WEIGHTS_ITER, wi);
        add(&lists[k], DNNL_ARG_BIAS, b);
        add(&lists[k], DNNL_ARG_DST_LAYER, y);
        add(&lists[k], DNNL_ARG_DST_ITER, h[1 - k]);
        add(&lists[k], DNNL_ARG_DST_ITER_C, c[1 - k]);
        add(&lists[k], DNNL_ARG_SCRATCHPAD, pad);
    }
    time_primitive(gru ? "gru512" : "lstm512", "plain", batch, NULL, prim, pd, lists, seconds);
}

/* The ConvLSTM gate conv: (cin -> cout) k x k, pad k/2, on a rows x cols map, for `batch`
** images (0: one, the plain row). */
static void bench_conv(int cin, int cout, int k, int rows, int cols, int any_layout, int batch,
                       double seconds)
{
    const float scale = 1.0f / sqrtf((float)(cin * k * k));
    const int mb = batch > 0 ? batch : 1;
    dnnl_dim_t d_src[4] = {mb, cin, rows, cols}, d_dst[4] = {mb, cout, rows, cols};
    dnnl_dim_t d_w[4] = {cout, cin, k, k}, d_b[1] = {cout};
    dnnl_dims_t strides = {1, 1}, pad_l = {0}, pad_r = {0}; /* dnnl_dims_t: 12 entries */
    dnnl_format_tag_t act = any_layout ? dnnl_format_tag_any : dnnl_nchw;
    dnnl_memory_desc_t src = plain_md(4, d_src, act), dst = plain_md(4, d_dst, act);
    dnnl_memory_desc_t src_user = plain_md(4, d_src, dnnl_nchw);
    dnnl_memory_desc_t w_any = plain_md(4, d_w, dnnl_format_tag_any);
    dnnl_memory_desc_t w_user = plain_md(4, d_w, dnnl_oihw);
    dnnl_memory_desc_t bias = plain_md(1, d_b, dnnl_x);
    dnnl_convolution_desc_t desc;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_primitive_attr_t attr = scratchpad_attr();
    arg_list lists[2];

    pad_l[0] = pad_l[1] = pad_r[0] = pad_r[1] = k / 2;
    CHECK(dnnl_convolution_forward_desc_init(&desc, dnnl_forward_inference,
                                             dnnl_convolution_direct, &src, &w_any, &bias, &dst,
                                             strides, pad_l, pad_r));
    CHECK(dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL));
    CHECK(dnnl_primitive_create(&prim, pd));
    lists[0].n = 0;
    add(&lists[0], DNNL_ARG_SRC, arg_memory(pd, DNNL_ARG_SRC, &src_user, 1.0f, 5));
    add(&lists[0], DNNL_ARG_WEIGHTS, arg_memory(pd, DNNL_ARG_WEIGHTS, &w_user, scale, 6));
    add(&lists[0], DNNL_ARG_BIAS, arg_memory(pd, DNNL_ARG_BIAS, &bias, scale, 7));
    add(&lists[0], DNNL_ARG_DST, arg_memory(pd, DNNL_ARG_DST, NULL, 0, 0));
    add(&lists[0], DNNL_ARG_SCRATCHPAD, arg_memory(pd, DNNL_ARG_SCRATCHPAD, NULL, 0, 0));
    lists[1] = lists[0]; /* no state: both steps alike */
    time_primitive("convlstm64", any_layout ? "any" : "nchw", batch, NULL, prim, pd, lists,
                   seconds);
}

/* One convolution by shape, one image (see the top). */
static void bench_conv_shape(const char *key, double seconds)
{
    conv_shape c;
    int grouped;
    dnnl_dim_t d_src[4], d_dst[4], d_w[5], d_b[1];
    dnnl_dims_t strides = {0}, dilates = {0}, pad_l = {0}, pad_r = {0};
    dnnl_memory_desc_t src, dst, src_user, w_any, w_user, bias;
    dnnl_convolution_desc_t desc;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    dnnl_primitive_attr_t attr = scratchpad_attr();
    arg_list lists[2];

    if (!conv_shape_parse(key, &c)) {
        fprintf(stderr, "onednn_bench: bad shape '%s': expected 15 integers "
                "C,H,W,O,kh,kw,sh,sw,dh,dw,pt,pb,pl,pr,groups\n", key);
        exit(2);
    }
    grouped = c.groups > 1;
    d_src[0] = 1, d_src[1] = c.c, d_src[2] = c.h, d_src[3] = c.w;
    d_dst[0] = 1, d_dst[1] = c.o, d_dst[2] = c.oh, d_dst[3] = c.ow;
    d_w[0] = c.groups, d_w[1] = c.o / c.groups, d_w[2] = c.c / c.groups, d_w[3] = c.kh,
    d_w[4] = c.kw;
    d_b[0] = c.o;
    strides[0] = c.sh, strides[1] = c.sw, dilates[0] = c.dh - 1, dilates[1] = c.dw - 1;
    pad_l[0] = c.pt, pad_l[1] = c.pl, pad_r[0] = c.pb, pad_r[1] = c.pr;
    src = plain_md(4, d_src, dnnl_format_tag_any), dst = plain_md(4, d_dst, dnnl_format_tag_any);
    src_user = plain_md(4, d_src, dnnl_nchw);
    w_any = plain_md(grouped ? 5 : 4, grouped ? d_w : d_w + 1, dnnl_format_tag_any);
    w_user = plain_md(grouped ? 5 : 4, grouped ? d_w : d_w + 1, grouped ? dnnl_goihw : dnnl_oihw);
    bias = plain_md(1, d_b, dnnl_x);
    CHECK(dnnl_dilated_convolution_forward_desc_init(&desc, dnnl_forward_inference,
                                                     dnnl_convolution_auto, &src, &w_any, &bias,
                                                     &dst, strides, dilates, pad_l, pad_r));
    CHECK(dnnl_primitive_desc_create(&pd, &desc, attr, engine, NULL));
    CHECK(dnnl_primitive_create(&prim, pd));
    lists[0].n = 0;
    add(&lists[0], DNNL_ARG_SRC, arg_memory(pd, DNNL_ARG_SRC, &src_user, 1.0f, 5));
    add(&lists[0], DNNL_ARG_WEIGHTS, arg_memory(pd, DNNL_ARG_WEIGHTS, &w_user, 0.1f, 6));
    add(&lists[0], DNNL_ARG_BIAS, arg_memory(pd, DNNL_ARG_BIAS, &bias, 0.1f, 7));
    add(&lists[0], DNNL_ARG_DST, arg_memory(pd, DNNL_ARG_DST, NULL, 0, 0));
    add(&lists[0], DNNL_ARG_SCRATCHPAD, arg_memory(pd, DNNL_ARG_SCRATCHPAD, NULL, 0, 0));
    lists[1] = lists[0];
    time_primitive("conv", "any", 0, key, prim, pd, lists, seconds);
    dnnl_primitive_destroy(prim);
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    int i, batch;
    const dnnl_version_t *v = dnnl_version();
    const char *omp = getenv("OMP_NUM_THREADS");

    if (seconds <= 0) {
        fprintf(stderr, "usage: %s [SECONDS [BATCH...]]   (timed budget per cell, default 2;"
                " each BATCH: the cells again at that batch, 1 to 1024)\n"
                "       %s SECONDS --convs KEY...   (convolutions by shape: "
                "bench/conv_shape.h)\n", argv[0], argv[0]);
        return 2;
    }
    if (!omp || strcmp(omp, "1") != 0)
        fprintf(stderr, "onednn_bench: warning: OMP_NUM_THREADS is not 1: may use more threads\n");
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    printf("{\"peer\": \"onednn\", \"what\": \"version\", \"version\": \"%d.%d.%d\", "
           "\"isa\": \"%s\", \"max_isa_env\": \"%s\"}\n",
           v->major, v->minor, v->patch, isa_name(dnnl_get_effective_cpu_isa()),
           getenv("DNNL_MAX_CPU_ISA") ? getenv("DNNL_MAX_CPU_ISA") : "");
    if (argc > 2 && strcmp(argv[2], "--convs") == 0) {
        for (i = 3; i < argc; i++)
            bench_conv_shape(argv[i], seconds);
        return 0;
    }
    bench_rnn(0, 512, 0, seconds);
    bench_rnn(1, 512, 0, seconds);
    bench_conv(128, 256, 3, 32, 32, 1, 0, seconds);
    bench_conv(128, 256, 3, 32, 32, 0, 0, seconds);
    for (i = 2; i < argc; i++) {
        batch = atoi(argv[i]);
        if (batch < 1 || batch > 1024) {
            fprintf(stderr, "onednn_bench: batch '%s': expected 1 to 1024\n", argv[i]);
            return 2;
        }
        bench_rnn(0, 512, batch, seconds);
        bench_rnn(1, 512, batch, seconds);
        bench_conv(128, 256, 3, 32, 32, 1, batch, seconds);
    }
    return 0;
}
