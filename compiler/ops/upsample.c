/* upsample (F.interpolate, nn.Upsample): nearest or bilinear resizing of a [C, H, W] map.
 * Each output row and column reads input rows and columns chosen, and for bilinear weighted,
 * exactly as PyTorch's CPU kernels choose them, in float; the compiler writes those choices
 * as tables (weights), so the kernels only gather and blend. */
#include <math.h>
#include <string.h>

#include "../ops.h"

static const char *const mode_name[] = {"nearest", "bilinear"};

/* upsample: {op: upsample, scale: S | [sh, sw] | size: [H, W], mode: nearest | bilinear,
 *            align_corners: false (bilinear)} */
static bool parse_upsample(const YNode *n, Layer *l) {
  const YNode *scale = yaml_get(n, "scale"), *size = yaml_get(n, "size"), *v;
  if (!scale == !size) {
    diag_error(n->loc, "an upsample layer needs 'scale' or 'size', one of them");
    return false;
  }
  if (scale && scale->kind == Y_SEQ && scale->n == 2) {
    if (!read_number(scale->item[0], "scale", 1.0 / 1024, 1025, &l->resize.scale_h) ||
        !read_number(scale->item[1], "scale", 1.0 / 1024, 1025, &l->resize.scale_w))
      return false;
  } else if (scale) {
    if (scale->kind == Y_SEQ) {
      diag_error(scale->loc, "'scale' must be a number or [rows, cols], got a list of %d",
                 scale->n);
      return false;
    }
    if (!read_number(scale, "scale", 1.0 / 1024, 1025, &l->resize.scale_h))
      return false;
    l->resize.scale_w = l->resize.scale_h;
  } else if (!read_pair(size, "size", 1, &l->resize.h, &l->resize.w)) {
    return false;
  }
  int mode = 0;
  if ((v = yaml_get(n, "mode")) && !read_choice(v, "mode", mode_name, 2, &mode))
    return false;
  l->resize.bilinear = mode == 1;
  if ((v = yaml_get(n, "align_corners"))) {
    if (!l->resize.bilinear) {
      diag_error(v->loc, "'align_corners' is for mode: bilinear (PyTorch rejects it with "
                 "nearest)");
      return false;
    }
    if (!read_bool(v, "align_corners", &l->resize.align_corners))
      return false;
  }
  return true;
}

static bool infer_upsample(Arena *a, Graph *g, Layer *l) {
  (void)g;
  if (!need_rank(a, l, 3))
    return false;
  int c = l->in_shape.dim[0], h = l->in_shape.dim[1], w = l->in_shape.dim[2];
  if (l->resize.scale_h > 0) { /* F.interpolate: floor(size * scale), in double */
    double oh = floor(h * l->resize.scale_h), ow = floor(w * l->resize.scale_w);
    if (oh < 1 || ow < 1 || oh > MAX_DIM || ow > MAX_DIM)
      return shape_error(a, l, "scales %dx%d by %gx%g to %.0fx%.0f: expected 1 to %d per side",
                         h, w, l->resize.scale_h, l->resize.scale_w, oh, ow, MAX_DIM);
    l->resize.h = (int)oh, l->resize.w = (int)ow;
  }
  l->out_shape = chw(c, l->resize.h, l->resize.w);
  return fits(l, shape_elems(l->out_shape), "output");
}

/* PyTorch's scale for a source index (area_pixel_compute_scale, compute_scales_value). */
static float source_scale(int in, int out, double factor, bool align_corners) {
  if (align_corners)
    return out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
  return factor > 0 ? (float)(1.0 / factor) : (float)in / (float)out;
}

/* The input index each output index reads, as PyTorch's nearest_idx. */
static void nearest_table(float *t, int in, int out, double factor) {
  float scale = source_scale(in, out, factor, false);
  for (int o = 0; o < out; o++) {
    int i = out == in ? o : out == 2 * in ? o >> 1 : (int)floorf((float)o * scale);
    t[o] = (float)(i < in - 1 ? i : in - 1);
  }
}

/* i0 [out], i1 [out], lambda1 [out]: output o blends inputs i0 and i1 with weights
 * 1 - lambda1 and lambda1, as PyTorch's area_pixel_compute_source_index and its bilinear
 * kernel (i1 = i0 + 1 but at the last input). */
static void bilinear_table(float *t, int in, int out, double factor, bool align_corners) {
  float scale = source_scale(in, out, factor, align_corners);
  for (int o = 0; o < out; o++) {
    float src = align_corners ? scale * (float)o : scale * ((float)o + 0.5f) - 0.5f;
    if (src < 0.0f)
      src = 0.0f;
    int i0 = (int)src;
    t[o] = (float)i0;
    t[out + o] = (float)(i0 + (i0 < in - 1));
    t[2 * out + o] = src - (float)i0;
  }
}

/* The tables of layer l: rows then columns (nearest: 1 float each; bilinear: 3). */
static int64_t table_size(const Layer *l) {
  return (l->resize.bilinear ? 3 : 1) * (int64_t)(l->resize.h + l->resize.w);
}

static void fill_tables(const Layer *l, float *t) {
  int h = l->in_shape.dim[1], w = l->in_shape.dim[2], oh = l->resize.h, ow = l->resize.w;
  if (l->resize.bilinear) {
    bilinear_table(t, h, oh, l->resize.scale_h, l->resize.align_corners);
    bilinear_table(t + 3L * oh, w, ow, l->resize.scale_w, l->resize.align_corners);
  } else {
    nearest_table(t, h, oh, l->resize.scale_h);
    nearest_table(t + oh, w, ow, l->resize.scale_w);
  }
}

static int lower_upsample(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int x = input_value(lw, l, 0);
  int t = add_value(lw, V_WEIGHT, li, table_size(l), vname(lw, l, "table", -1));
  float *td = weight_data(lw, t, true);
  fill_tables(l, td);
  int y = add_value(lw, V_TRANSIENT, li, shape_elems(l->out_shape), vname(lw, l, "y", -1));
  add_call(lw, l->resize.bilinear ? K_UPSAMPLE_BILINEAR : K_UPSAMPLE_NEAREST, li, -1,
           (int[]){y, x, t}, 3,
           (int[]){l->in_shape.dim[0], l->in_shape.dim[1], l->in_shape.dim[2], l->resize.h,
                   l->resize.w},
           5);
  return y;
}

static void interp_upsample(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  const double *x = interp_input(in, l, 0);
  double *y = in->s[li].y;
  int c = l->in_shape.dim[0], h = l->in_shape.dim[1], w = l->in_shape.dim[2];
  int oh = l->resize.h, ow = l->resize.w;
  float *t = arena_alloc(in->a, (size_t)table_size(l) * sizeof *t);
  fill_tables(l, t);
  for (int k = 0; k < c; k++)
    for (int i = 0; i < oh; i++)
      for (int j = 0; j < ow; j++) {
        const double *xc = x + (int64_t)k * h * w;
        double v;
        if (l->resize.bilinear) {
          int r0 = (int)t[i], r1 = (int)t[oh + i], c0 = (int)t[3 * oh + j];
          int c1 = (int)t[3 * oh + ow + j];
          double lr = t[2 * oh + i], lc = t[3 * oh + 2 * ow + j];
          v = (1 - lr) * ((1 - lc) * xc[r0 * w + c0] + lc * xc[r0 * w + c1]) +
              lr * ((1 - lc) * xc[r1 * w + c0] + lc * xc[r1 * w + c1]);
        } else {
          v = xc[(int)t[i] * w + (int)t[oh + j]];
        }
        y[((int64_t)k * oh + i) * ow + j] = v;
      }
}

const OpDesc op_upsample = {.name = "upsample", .keys = "scale size mode align_corners",
                            .min_inputs = 1, .max_inputs = 1, .parse = parse_upsample,
                            .infer = infer_upsample, .lower = lower_upsample,
                            .interp = interp_upsample};
