/* conv_transpose2d (nn.ConvTranspose2d): the transposed convolution of a [C, H, W] map, the
 * learned upsampling of decoders.  Weights stay in PyTorch's layout (in, out / groups, kh,
 * kw); both kernels read them so (reel_conv_transpose_*.c). */
#include <string.h>

#include "../ops.h"

/* {name, op: conv_transpose2d, out: N, kernel: K, stride: 1, padding: 0, output_padding: 0,
 *  dilation: 1, groups: 1, bias: true}; pairs [rows, cols] or one integer for both */
static bool parse_conv_transpose2d(const YNode *n, Layer *l) {
  const YNode *v;
  Window *w = &l->win;
  *w = (Window){.sh = 1, .sw = 1, .dh = 1, .dw = 1};
  l->bias = true;
  l->groups = 1;
  l->out_pad_h = l->out_pad_w = 0;
  if (!(v = require(n, "out", "a conv_transpose2d layer")) ||
      !read_int(v, "out", 1, MAX_DIM, &l->out))
    return false;
  if (!(v = require(n, "kernel", "a conv_transpose2d layer")) ||
      !read_pair(v, "kernel", 1, &w->kh, &w->kw))
    return false;
  if ((v = yaml_get(n, "stride")) && !read_pair(v, "stride", 1, &w->sh, &w->sw))
    return false;
  if ((v = yaml_get(n, "padding")) && !read_pair(v, "padding", 0, &w->pad_top, &w->pad_left))
    return false;
  if ((v = yaml_get(n, "output_padding")) &&
      !read_pair(v, "output_padding", 0, &l->out_pad_h, &l->out_pad_w))
    return false;
  if ((v = yaml_get(n, "dilation")) && !read_pair(v, "dilation", 1, &w->dh, &w->dw))
    return false;
  if ((v = yaml_get(n, "groups")) && !read_int(v, "groups", 1, MAX_DIM, &l->groups))
    return false;
  if ((v = yaml_get(n, "bias")) && !read_bool(v, "bias", &l->bias))
    return false;
  w->pad_bottom = w->pad_top, w->pad_right = w->pad_left;
  return true;
}

static bool infer_conv_transpose2d(Arena *a, Graph *g, Layer *l) {
  (void)g;
  if (!need_rank(a, l, 3))
    return false;
  const Window *w = &l->win;
  int c = l->in_shape.dim[0], h = l->in_shape.dim[1], wd = l->in_shape.dim[2];
  if (c % l->groups || l->out % l->groups)
    return shape_error(a, l, "has groups %d, which must divide its %d input and %d output channels",
                       l->groups, c, l->out);
  /* PyTorch: output_padding below the stride or the dilation */
  if ((l->out_pad_h >= w->sh && l->out_pad_h >= w->dh) ||
      (l->out_pad_w >= w->sw && l->out_pad_w >= w->dw))
    return shape_error(a, l, "has output_padding %d,%d: it must be smaller than the stride %dx%d "
                       "or the dilation %dx%d", l->out_pad_h, l->out_pad_w, w->sh, w->sw, w->dh,
                       w->dw);
  /* H' = (H - 1) stride - 2 padding + dilation (kernel - 1) + output_padding + 1 */
  int64_t oh = (int64_t)(h - 1) * w->sh - 2LL * w->pad_top + (int64_t)w->dh * (w->kh - 1) +
               l->out_pad_h + 1;
  int64_t ow = (int64_t)(wd - 1) * w->sw - 2LL * w->pad_left + (int64_t)w->dw * (w->kw - 1) +
               l->out_pad_w + 1;
  if (oh < 1 || ow < 1 || oh > MAX_DIM || ow > MAX_DIM)
    return shape_error(a, l, "gives a %lldx%lld output: expected 1 to %d per side",
                       (long long)oh, (long long)ow, MAX_DIM);
  l->out_shape = chw(l->out, (int)oh, (int)ow);
  if (!fits(l, (int64_t)c * (l->out / l->groups) * w->kh * w->kw, "weight") ||
      !fits(l, shape_elems(l->out_shape), "output"))
    return false;
  Param *wp = add_param(a, l, oihw(c, l->out / l->groups, w->kh, w->kw), "weight");
  wp->fan_in = (int64_t)(l->out / l->groups) * w->kh * w->kw; /* PyTorch's: weight.size(1) kh kw */
  wp->compress = true;
  if (l->bias)
    add_param(a, l, vec(l->out), "bias")->fan_in = (int64_t)(l->out / l->groups) * w->kh * w->kw;
  l->macs = shape_elems(l->in_shape) * (l->out / l->groups) * w->kh * w->kw;
  return true;
}

static int lower_conv_transpose2d(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int x = input_value(lw, l, 0);
  int w = weight_copy(lw, li, &l->param[0], vname(lw, l, "weight", -1));
  int b = l->bias ? weight_copy(lw, li, &l->param[1], vname(lw, l, "bias", -1)) : -1;
  int y = add_value(lw, V_TRANSIENT, li, shape_elems(l->out_shape), vname(lw, l, "out", -1));
  Geom geom = {.in_c0 = l->in_shape.dim[0], .in_h = l->in_shape.dim[1], .in_w = l->in_shape.dim[2],
               .out_c = l->out, .out_h = l->out_shape.dim[1], .out_w = l->out_shape.dim[2],
               .win = l->win, .groups = l->groups};
  geom.act = fused_act(lw, l, &geom.alpha);
  Call *c;
  if (lw->avx2) { /* the stride phases of one output channel */
    int64_t sh = geom.win.sh, sw = geom.win.sw;
    int64_t phases = sh * sw * ((geom.out_h + sh - 1) / sh) * ((geom.out_w + sw - 1) / sw);
    int scratch = add_value(lw, V_TRANSIENT, li, phases, vname(lw, l, "phases", -1));
    c = add_call(lw, K_CONV_TRANSPOSE2D, li, -1, (int[]){y, w, b, x, scratch}, 5, NULL, 0);
  } else {
    c = add_call(lw, K_CONV_TRANSPOSE2D, li, -1, (int[]){y, w, b, x}, 4, NULL, 0);
  }
  c->geom = geom;
  return y;
}

static void interp_conv_transpose2d(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  const double *x = interp_input(in, l, 0);
  double *y = in->s[li].y;
  const Window *w = &l->win;
  int c = l->in_shape.dim[0], h = l->in_shape.dim[1], wd = l->in_shape.dim[2];
  int oh = l->out_shape.dim[1], ow = l->out_shape.dim[2], opg = l->out / l->groups;
  int ipg = c / l->groups;
  const float *wt = l->param[0].data, *b = l->bias ? l->param[1].data : NULL;
  for (int oc = 0; oc < l->out; oc++)
    for (int i = 0; i < oh * ow; i++)
      y[(int64_t)oc * oh * ow + i] = b ? b[oc] : 0.0;
  for (int ic = 0; ic < c; ic++)
    for (int i = 0; i < h; i++)
      for (int j = 0; j < wd; j++)
        for (int oc = ic / ipg * opg; oc < (ic / ipg + 1) * opg; oc++)
          for (int u = 0; u < w->kh; u++)
            for (int v = 0; v < w->kw; v++) {
              int oy = i * w->sh - w->pad_top + u * w->dh, ox = j * w->sw - w->pad_left + v * w->dw;
              if (oy >= 0 && oy < oh && ox >= 0 && ox < ow)
                y[((int64_t)oc * oh + oy) * ow + ox] +=
                    x[((int64_t)ic * h + i) * wd + j] *
                    wt[(((int64_t)ic * opg + oc % opg) * w->kh + u) * w->kw + v];
            }
}

const OpDesc op_conv_transpose2d = {
    .name = "conv_transpose2d",
    .keys = "out kernel stride padding output_padding dilation groups bias",
    .flags = OP_WEIGHTED | OP_EPILOGUE | OP_MATRICES, .min_inputs = 1, .max_inputs = 1,
    .parse = parse_conv_transpose2d, .infer = infer_conv_transpose2d,
    .lower = lower_conv_transpose2d, .interp = interp_conv_transpose2d};
