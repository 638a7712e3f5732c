/* Per-frame CNN ops on [C, H, W] maps: conv2d (nn.Conv2d), batchnorm
 * (nn.BatchNorm1d/2d in eval mode, folded into a conv before it where
 * fuse.c can), maxpool and avgpool (nn.MaxPool2d, nn.AvgPool2d),
 * global_avgpool (nn.AdaptiveAvgPool2d(1)), pixel_shuffle and
 * pixel_unshuffle (nn.PixelShuffle, nn.PixelUnshuffle). */
#include <math.h>
#include <string.h>

#include "../ops.h"

/* Kernel, stride (default: kernel for pools, 1 for conv), padding, dilation. */
static bool read_window(const YNode *n, Layer *l, bool pool) {
  Window *w = &l->win;
  const YNode *v;
  *w = (Window){.sh = 1, .sw = 1, .dh = 1, .dw = 1, .count_include_pad = true};
  if (!(v = require(n, "kernel", pool ? "a pooling layer" : "a conv2d layer")) ||
      !read_pair(v, "kernel", 1, &w->kh, &w->kw))
    return false;
  if (pool) {
    w->sh = w->kh;
    w->sw = w->kw;
  }
  if ((v = yaml_get(n, "stride")) && !read_pair(v, "stride", 1, &w->sh, &w->sw))
    return false;
  if ((v = yaml_get(n, "padding")) && !read_padding(v, l, true))
    return false;
  if (l->same_pad && pool) {
    diag_error(v->loc, "'padding: same' is for conv2d; a pool takes an integer or [rows, cols], as "
               "nn.MaxPool2d and nn.AvgPool2d do");
    return false;
  }
  if (l->same_pad && (w->sh != 1 || w->sw != 1)) {
    diag_error(v->loc, "'padding: same' needs stride 1, as in PyTorch");
    return false;
  }
  if ((v = yaml_get(n, "dilation")) && !read_pair(v, "dilation", 1, &w->dh, &w->dw))
    return false;
  if ((v = yaml_get(n, "ceil_mode")) && !read_bool(v, "ceil_mode", &w->ceil_mode))
    return false;
  if ((v = yaml_get(n, "count_include_pad")) && !read_bool(v, "count_include_pad", &w->count_include_pad))
    return false;
  return true;
}

/* ---- conv2d: {name, op: conv2d, out: N, kernel: K|[kh,kw], stride: 1,
 *      padding: 0|[ph,pw]|same|valid, dilation: 1, groups: 1, bias: true} ---- */
static bool parse_conv2d(const YNode *n, Layer *l) {
  const YNode *v;
  l->bias = true;
  l->groups = 1;
  if (!(v = require(n, "out", "a conv2d layer")) || !read_int(v, "out", 1, MAX_DIM, &l->out))
    return false;
  if ((v = yaml_get(n, "bias")) && !read_bool(v, "bias", &l->bias))
    return false;
  if ((v = yaml_get(n, "groups")) && !read_int(v, "groups", 1, MAX_DIM, &l->groups))
    return false;
  return read_window(n, l, false);
}

static bool infer_conv2d(Arena *a, Graph *g, Layer *l) {
  (void)g;
  if (!need_rank(a, l, 3))
    return false;
  Window *w = &l->win;
  int c = l->in_shape.dim[0], h = l->in_shape.dim[1], wd = l->in_shape.dim[2];
  if (l->same_pad) {
    /* no more padding per side than an explicit 'padding' may give */
    int64_t th = (int64_t)w->dh * (w->kh - 1), tw = (int64_t)w->dw * (w->kw - 1);
    if (th > 2 * (int64_t)MAX_DIM || tw > 2 * (int64_t)MAX_DIM)
      return shape_error(a, l, "kernel %dx%d with dilation %dx%d needs more than %d padding per "
                         "side for 'padding: same'", w->kh, w->kw, w->dh, w->dw, MAX_DIM);
    w->pad_top = (int)(th / 2), w->pad_bottom = (int)(th - th / 2);
    w->pad_left = (int)(tw / 2), w->pad_right = (int)(tw - tw / 2);
  }
  if (c % l->groups || l->out % l->groups)
    return shape_error(a, l, "has groups %d, which must divide its %d input and %d output channels",
                       l->groups, c, l->out);
  int oh = window_out(h, w->pad_top, w->pad_bottom, w->kh, w->sh, w->dh, false);
  int ow = window_out(wd, w->pad_left, w->pad_right, w->kw, w->sw, w->dw, false);
  if (oh < 1 || ow < 1)
    return shape_error(a, l, "kernel %dx%d (dilation %dx%d, padding %d,%d) does not fit its input",
                       w->kh, w->kw, w->dh, w->dw, w->pad_top, w->pad_left);
  l->out_shape = chw(l->out, oh, ow);
  if (!fits(l, (int64_t)l->out * (c / l->groups) * w->kh * w->kw, "weight") ||
      !fits(l, shape_elems(l->out_shape), "output"))
    return false;
  add_param(a, l, oihw(l->out, c / l->groups, w->kh, w->kw), "weight")->compress = true;
  if (l->bias)
    add_param(a, l, vec(l->out), "bias");
  l->macs = shape_elems(l->out_shape) * (c / l->groups) * w->kh * w->kw;
  return true;
}

/* One conv call; a batch norm after it is folded into its weights and
 * bias, an activation after it into its store (fuse.c). */
/* w' = w scale / std[c], b' = b - sum over c and the taps of w mean[c] / std[c], for weights
 * [out_c][in_c / groups][taps]. */
static void fold_input_norm(float *wt, float *bd, const InputFormat *f, int out_c, int in_c,
                            int groups, int taps) {
  int per_group = in_c / groups;
  for (int o = 0; o < out_c; o++) {
    double shift = 0;
    for (int i = 0; i < per_group; i++) {
      int c = o / (out_c / groups) * per_group + i;
      double sd = f->std ? f->std[c] : 1.0, mean = f->mean ? f->mean[c] : 0.0;
      for (int k = 0; k < taps; k++) {
        float *w = &wt[((size_t)o * per_group + i) * taps + k];
        shift -= *w * mean / sd;
        *w = (float)(*w * f->scale / sd);
      }
    }
    bd[o] = (float)(bd[o] + shift);
  }
}

static int lower_conv2d(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  const Layer *bn = l->fused_bn >= 0 ? &lw->g->layer[l->fused_bn] : NULL;
  int x = input_value(lw, l, 0);
  const InputFormat *fold = l->input[0] < 0 && lw->g->in_fmt.folded ? &lw->g->in_fmt : NULL;
  int out_c = l->out, per_out = (int)(shape_elems(l->param[0].shape) / out_c);
  int b = l->bias || bn || fold ? add_value(lw, V_WEIGHT, li, out_c, vname(lw, l, "bias", -1)) : -1;
  float *bd = b >= 0 ? weight_data(lw, b, l->param[0].data) : NULL;
  float *wt = NULL;
  if (l->param[0].data) {
    wt = arena_alloc(lw->a, (size_t)out_c * per_out * sizeof *wt);
    memcpy(wt, l->param[0].data, (size_t)out_c * per_out * sizeof *wt);
    for (int o = 0; bd && o < out_c; o++)
      bd[o] = l->bias ? l->param[1].data[o] : 0.0f;
    if (bn) { /* w' = w s, b' = (b - mean) s + beta, s = gamma / sqrt(var + eps) */
      const float *gamma = bn->param[0].data, *beta = bn->param[1].data;
      const float *mean = bn->param[2].data, *var = bn->param[3].data;
      for (int o = 0; o < out_c; o++) {
        double s = gamma[o] / sqrt((double)var[o] + bn->eps);
        for (int i = 0; i < per_out; i++)
          wt[(size_t)o * per_out + i] = (float)(wt[(size_t)o * per_out + i] * s);
        bd[o] = (float)((bd[o] - (double)mean[o]) * s + beta[o]);
      }
    }
    if (fold) /* the input's (x scale - mean) / std per input channel */
      fold_input_norm(wt, bd, fold, out_c, l->in_shape.dim[0], l->groups, l->win.kh * l->win.kw);
  }
  int y = add_value(lw, V_TRANSIENT, li, shape_elems(l->out_shape), vname(lw, l, "out", -1));
  Geom geom = {.in_c0 = l->in_shape.dim[0], .in_h = l->in_shape.dim[1], .in_w = l->in_shape.dim[2],
               .out_c = out_c, .out_h = l->out_shape.dim[1], .out_w = l->out_shape.dim[2],
               .win = l->win, .groups = l->groups};
  geom.act = fused_act(lw, l, &geom.alpha);
  conv_call(lw, li, -1, vname(lw, l, "weight", -1), wt, b, y, x, -1, geom);
  return y;
}

static void interp_conv2d(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  interp_conv(in->s[li].y, false, interp_input(in, l, 0), l->in_shape.dim[0], NULL, 0,
              l->in_shape.dim[1], l->in_shape.dim[2], l->param[0].data,
              l->bias ? l->param[1].data : NULL, l->out, l->out_shape.dim[1], l->out_shape.dim[2],
              &l->win, l->groups);
}

const OpDesc op_conv2d = {
    .name = "conv2d", .keys = "out kernel stride padding dilation groups bias",
    .flags = OP_WEIGHTED | OP_EPILOGUE | OP_FOLDS_NORM | OP_MATRICES, .min_inputs = 1, .max_inputs = 1,
    .parse = parse_conv2d, .infer = infer_conv2d, .lower = lower_conv2d, .interp = interp_conv2d};

/* ---- batchnorm: {name, op: batchnorm, eps: 1e-5} over [N] or [C, H, W]:
 *      y = (x - running_mean) / sqrt(running_var + eps) weight + bias ---- */
static bool parse_batchnorm(const YNode *n, Layer *l) {
  const YNode *v;
  l->eps = 1e-5;
  return !(v = yaml_get(n, "eps")) || read_number(v, "eps", 1e-12, 1, &l->eps);
}

static bool infer_batchnorm(Arena *a, Graph *g, Layer *l) {
  (void)g;
  if (l->in_shape.rank != 1 && l->in_shape.rank != 3)
    return shape_error(a, l, "needs a vector or [C, H, W] input");
  int c = l->in_shape.dim[0];
  l->out_shape = l->in_shape;
  add_param(a, l, vec(c), "weight")->init = INIT_NEAR_ONE;
  add_param(a, l, vec(c), "bias")->init = INIT_NEAR_ZERO;
  add_param(a, l, vec(c), "running_mean")->init = INIT_NEAR_ZERO;
  add_param(a, l, vec(c), "running_var")->init = INIT_NEAR_ONE;
  return true;
}

/* A batch norm nothing folded: per-channel scale and shift, in place. */
static int lower_batchnorm(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int x = input_value(lw, l, 0), c = l->in_shape.dim[0];
  int hw = (int)(shape_elems(l->in_shape) / c);
  int scale = add_value(lw, V_WEIGHT, li, c, vname(lw, l, "scale", -1));
  int shift = add_value(lw, V_WEIGHT, li, c, vname(lw, l, "shift", -1));
  float *sd = weight_data(lw, scale, l->param[0].data), *td = weight_data(lw, shift, l->param[0].data);
  for (int k = 0; sd && k < c; k++) {
    double s = l->param[0].data[k] / sqrt((double)l->param[3].data[k] + l->eps);
    sd[k] = (float)s;
    td[k] = (float)(l->param[1].data[k] - l->param[2].data[k] * s);
  }
  int y = inplace_output(lw, li, lw->p->v[x].size);
  add_call(lw, K_CHANNEL_AFFINE, li, -1, (int[]){y, x, scale, shift}, 4, (int[]){c, hw}, 2);
  return y;
}

static void interp_batchnorm(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  const double *x = interp_input(in, l, 0);
  double *y = in->s[li].y;
  int c = l->in_shape.dim[0];
  int64_t plane = shape_elems(l->out_shape) / c;
  for (int k = 0; k < c; k++) {
    double scale = l->param[0].data[k] / sqrt((double)l->param[3].data[k] + l->eps);
    for (int64_t i = 0; i < plane; i++)
      y[k * plane + i] = (x[k * plane + i] - l->param[2].data[k]) * scale + l->param[1].data[k];
  }
}

const OpDesc op_batchnorm = {.name = "batchnorm", .keys = "eps", .extra = "num_batches_tracked",
                             .flags = OP_WEIGHTED | OP_NORM, .min_inputs = 1, .max_inputs = 1,
                             .parse = parse_batchnorm, .infer = infer_batchnorm,
                             .lower = lower_batchnorm, .interp = interp_batchnorm};

/* ---- maxpool | avgpool: {op, kernel, stride: kernel, padding: 0,
 *      ceil_mode: false, count_include_pad: true (avgpool)} ---- */
static bool parse_pool(const YNode *n, Layer *l) { return read_window(n, l, true); }

static bool infer_pool(Arena *a, Graph *g, Layer *l) {
  (void)g;
  if (!need_rank(a, l, 3))
    return false;
  Window *w = &l->win;
  int c = l->in_shape.dim[0], h = l->in_shape.dim[1], wd = l->in_shape.dim[2];
  if (w->dh != 1 || w->dw != 1)
    return shape_error(a, l, "supports dilation 1 only");
  if (w->pad_bottom != w->pad_top || w->pad_right != w->pad_left)
    return shape_error(a, l,
                       "has padding [%d, %d, %d, %d]: a pool takes a pair [rows, columns], "
                       "the same on both sides as PyTorch's",
                       w->pad_top, w->pad_bottom, w->pad_left, w->pad_right);
  if (2 * w->pad_top > w->kh || 2 * w->pad_left > w->kw)
    return shape_error(a, l, "has padding %d,%d: PyTorch allows at most half the kernel %dx%d",
                       w->pad_top, w->pad_left, w->kh, w->kw);
  int oh = window_out(h, w->pad_top, w->pad_bottom, w->kh, w->sh, 1, w->ceil_mode);
  int ow = window_out(wd, w->pad_left, w->pad_right, w->kw, w->sw, 1, w->ceil_mode);
  if (oh < 1 || ow < 1)
    return shape_error(a, l, "kernel %dx%d does not fit its input", w->kh, w->kw);
  l->out_shape = chw(c, oh, ow);
  return true;
}

static int lower_pool(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  bool max = l->op == &op_maxpool;
  int x = input_value(lw, l, 0);
  int y = add_value(lw, V_TRANSIENT, li, shape_elems(l->out_shape), vname(lw, l, "out", -1));
  Call *c = add_call(lw, max ? K_MAXPOOL : K_AVGPOOL, li, -1, (int[]){y, x}, 2, NULL, 0);
  c->geom = (Geom){.in_c0 = l->in_shape.dim[0], .in_h = l->in_shape.dim[1], .in_w = l->in_shape.dim[2],
                   .out_c = l->in_shape.dim[0], .out_h = l->out_shape.dim[1],
                   .out_w = l->out_shape.dim[2], .win = l->win};
  if (l->win.kw > REEL_MAXPOOL_AVX2_MAX_K)
    c->avx2 = false;
  return y;
}

static void interp_pool2d(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  interp_pool(in->s[li].y, interp_input(in, l, 0), l->in_shape.dim[0], l->in_shape.dim[1],
              l->in_shape.dim[2], l->out_shape.dim[1], l->out_shape.dim[2], &l->win,
              l->op == &op_maxpool);
}

const OpDesc op_maxpool = {.name = "maxpool", .keys = "kernel stride padding ceil_mode",
                           .min_inputs = 1, .max_inputs = 1, .parse = parse_pool,
                           .infer = infer_pool, .lower = lower_pool, .interp = interp_pool2d};

const OpDesc op_avgpool = {.name = "avgpool",
                           .keys = "kernel stride padding ceil_mode count_include_pad",
                           .min_inputs = 1, .max_inputs = 1, .parse = parse_pool,
                           .infer = infer_pool, .lower = lower_pool, .interp = interp_pool2d};

/* ---- global_avgpool: {op}, [C, H, W] -> [C, 1, 1] ---- */
static bool infer_global_avgpool(Arena *a, Graph *g, Layer *l) {
  (void)g;
  if (!need_rank(a, l, 3))
    return false;
  l->out_shape = chw(l->in_shape.dim[0], 1, 1);
  return true;
}

static int lower_global_avgpool(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int x = input_value(lw, l, 0), c = l->in_shape.dim[0];
  int y = add_value(lw, V_TRANSIENT, li, c, vname(lw, l, "out", -1));
  add_call(lw, K_GLOBAL_AVGPOOL, li, -1, (int[]){y, x}, 2,
           (int[]){c, l->in_shape.dim[1] * l->in_shape.dim[2]}, 2);
  return y;
}

static void interp_global_avgpool(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  const double *x = interp_input(in, l, 0);
  int64_t plane = (int64_t)l->in_shape.dim[1] * l->in_shape.dim[2];
  for (int k = 0; k < l->in_shape.dim[0]; k++) {
    double sum = 0;
    for (int64_t i = 0; i < plane; i++)
      sum += x[k * plane + i];
    in->s[li].y[k] = sum / (double)plane;
  }
}

const OpDesc op_global_avgpool = {.name = "global_avgpool", .keys = "", .min_inputs = 1,
                                  .max_inputs = 1, .infer = infer_global_avgpool,
                                  .lower = lower_global_avgpool, .interp = interp_global_avgpool};

/* ---- pixel_shuffle | pixel_unshuffle: {op, factor: R},
 *      [C r^2, H, W] <-> [C, H r, W r] in PyTorch's channel order ---- */
static bool parse_pixel(const YNode *n, Layer *l) {
  const YNode *v;
  return (v = require(n, "factor", "a pixel shuffle layer")) && read_int(v, "factor", 1, 64, &l->factor);
}

static bool infer_pixel(Arena *a, Graph *g, Layer *l) {
  (void)g;
  if (!need_rank(a, l, 3))
    return false;
  int r = l->factor, c = l->in_shape.dim[0], h = l->in_shape.dim[1], w = l->in_shape.dim[2];
  if (l->op == &op_pixel_shuffle) {
    if (c % (r * r))
      return shape_error(a, l, "with factor %d needs channels divisible by %d", r, r * r);
    l->out_shape = chw(c / (r * r), h * r, w * r);
  } else {
    if (h % r || w % r)
      return shape_error(a, l, "with factor %d needs rows and columns divisible by %d", r, r);
    l->out_shape = chw(c * r * r, h / r, w / r);
  }
  return fits(l, shape_elems(l->out_shape), "output");
}

static int lower_pixel(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int x = input_value(lw, l, 0);
  int y = add_value(lw, V_TRANSIENT, li, shape_elems(l->out_shape), vname(lw, l, "out", -1));
  bool up = l->op == &op_pixel_shuffle;
  const Shape *small = up ? &l->in_shape : &l->out_shape;
  int c = up ? l->out_shape.dim[0] : l->in_shape.dim[0];
  add_call(lw, up ? K_PIXEL_SHUFFLE : K_PIXEL_UNSHUFFLE, li, -1, (int[]){y, x}, 2,
           (int[]){c, small->dim[1], small->dim[2], l->factor}, 4);
  return y;
}

static void interp_pixel(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  const double *x = interp_input(in, l, 0);
  double *y = in->s[li].y;
  bool up = l->op == &op_pixel_shuffle;
  int r = l->factor, c = up ? l->out_shape.dim[0] : l->in_shape.dim[0];
  int h = up ? l->in_shape.dim[1] : l->out_shape.dim[1], w = up ? l->in_shape.dim[2] : l->out_shape.dim[2];
  for (int k = 0; k < c; k++)
    for (int i = 0; i < r; i++)
      for (int j = 0; j < r; j++)
        for (int row = 0; row < h; row++)
          for (int col = 0; col < w; col++) {
            size_t big = ((size_t)k * h * r + (size_t)row * r + i) * w * r + (size_t)col * r + j;
            size_t small = (((size_t)k * r + i) * r + j) * h * w + (size_t)row * w + col;
            if (up)
              y[big] = x[small];
            else
              y[small] = x[big];
          }
}

const OpDesc op_pixel_shuffle = {.name = "pixel_shuffle", .keys = "factor", .min_inputs = 1,
                                 .max_inputs = 1, .parse = parse_pixel, .infer = infer_pixel,
                                 .lower = lower_pixel, .interp = interp_pixel};

const OpDesc op_pixel_unshuffle = {.name = "pixel_unshuffle", .keys = "factor", .min_inputs = 1,
                                   .max_inputs = 1, .parse = parse_pixel, .infer = infer_pixel,
                                   .lower = lower_pixel, .interp = interp_pixel};
