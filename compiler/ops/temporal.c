/* Ops over frames, in the per-frame chain:
 *   temporal_pool  max, mean or concat of a layer's values: over windows of
 *                  `frames` frames every `stride` (run when a window closes),
 *                  or, without `frames`, over the whole clip (a clip pool:
 *                  each value folded into an accumulator in the context, the
 *                  layers after it run per clip read, in m_clip);
 *   temporal_conv  nn.Conv3d with kernel (frames, kh, kw) over the last
 *                  `frames` frames as [C, T, H, W], every `stride` frames.
 * A window's frames are a ring in the context, pushed every frame. */
#include <math.h>
#include <string.h>

#include "../ops.h"

/* temporal_pool: {op, mode: max|mean|concat, frames: W, stride: W, count: K (concat)}
 * temporal_conv: {name, op: temporal_conv, out: N, frames: W, stride: 1, kernel: 1,
 *                 padding: 0|same, bias: true} */
static bool parse_temporal(const YNode *n, Layer *l) {
  const YNode *v, *frames = yaml_get(n, "frames"), *stride = yaml_get(n, "stride");
  bool conv = l->op == &op_temporal_conv;
  int mode = REEL_TPOOL_MAX;
  if ((v = yaml_get(n, "mode")) && !read_choice(v, "mode", tpool_name, REEL_TPOOL_COUNT, &mode))
    return false;
  l->tmode = mode;
  if (conv && !frames) {
    diag_error(n->loc, "temporal_conv '%s' has no 'frames': its temporal kernel size", l->name);
    return false;
  }
  if (frames && !read_int(frames, "frames", 1, MAX_WINDOW, &l->frames))
    return false;
  l->tstride = conv ? 1 : l->frames;
  if (stride && !frames) {
    diag_error(stride->loc, "'stride' steps a window of frames: give 'frames' too");
    return false;
  }
  if (stride && !read_int(stride, "stride", 1, MAX_WINDOW, &l->tstride))
    return false;
  v = yaml_get(n, "count");
  if (l->tmode == REEL_TPOOL_CONCAT) {
    if (frames) {
      diag_error(frames->loc, "mode concat keeps whole values, one per frame or window: it has "
                 "no 'frames'");
      return false;
    }
    if (!v) {
      diag_error(n->loc, "temporal_pool with mode concat needs 'count': how many values it keeps");
      return false;
    }
    return read_int(v, "count", 1, MAX_WINDOW, &l->count);
  }
  if (v) {
    diag_error(v->loc, "'count' is for mode concat");
    return false;
  }
  if (!conv)
    return true;
  l->bias = true;
  l->groups = 1;
  l->win = (Window){.kh = 1, .kw = 1, .sh = 1, .sw = 1, .dh = 1, .dw = 1};
  if (!(v = require(n, "out", "a temporal_conv layer")) || !read_int(v, "out", 1, MAX_DIM, &l->out))
    return false;
  if ((v = yaml_get(n, "bias")) && !read_bool(v, "bias", &l->bias))
    return false;
  if ((v = yaml_get(n, "kernel")) && !read_pair(v, "kernel", 1, &l->win.kh, &l->win.kw))
    return false;
  return !(v = yaml_get(n, "padding")) || read_padding(v, l, false);
}

static bool infer_temporal_pool(Arena *a, Graph *g, Layer *l) {
  (void)a, (void)g;
  /* checked before the first dimension grows: count * dim[0] can pass 2^31 */
  if (!fits(l, (l->tmode == REEL_TPOOL_CONCAT ? l->count : 1) * shape_elems(l->in_shape), "output") ||
      !fits(l, (int64_t)l->frames * shape_elems(l->in_shape), "window"))
    return false;
  l->out_shape = l->in_shape;
  if (l->tmode == REEL_TPOOL_CONCAT) /* values stacked along the first dimension, as torch.cat */
    l->out_shape.dim[0] *= l->count;
  return true;
}

/* nn.Conv3d with kernel (frames, kh, kw) over [C, T, H, W]. */
static bool infer_temporal_conv(Arena *a, Graph *g, Layer *l) {
  (void)g;
  if (!need_rank(a, l, 3))
    return false;
  Window *w = &l->win;
  int c = l->in_shape.dim[0], h = l->in_shape.dim[1], wd = l->in_shape.dim[2];
  if (l->same_pad) {
    w->pad_top = (w->kh - 1) / 2, w->pad_bottom = w->kh - 1 - w->pad_top;
    w->pad_left = (w->kw - 1) / 2, w->pad_right = w->kw - 1 - w->pad_left;
  }
  int oh = window_out(h, w->pad_top, w->pad_bottom, w->kh, 1, 1, false);
  int ow = window_out(wd, w->pad_left, w->pad_right, w->kw, 1, 1, false);
  if (oh < 1 || ow < 1)
    return shape_error(a, l, "kernel %dx%d does not fit its input", w->kh, w->kw);
  l->out_shape = chw(l->out, oh, ow);
  int64_t taps = (int64_t)c * l->frames * w->kh * w->kw;
  if (!fits(l, l->out * taps, "weight") || !fits(l, (int64_t)l->frames * c * h * wd, "window"))
    return false;
  add_param(a, l, (Shape){5, {l->out, c, l->frames, w->kh, w->kw}}, "weight")->compress = true;
  if (l->bias)
    add_param(a, l, vec(l->out), "bias");
  l->macs = shape_elems(l->out_shape) * taps;
  return true;
}

/* ---- lowering ---- */

/* A windowed temporal_pool or a temporal_conv: a ring of the last w
 * frames, read when the window closes. */
static int lower_windowed(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int x = input_value(lw, l, 0), size = (int)lw->p->v[x].size, w = l->frames;
  int ring = window_ring(lw, li, x, w, "frames");
  if (l->op == &op_temporal_pool) {
    int y = add_value(lw, V_TRANSIENT, li, size, vname(lw, l, "out", -1));
    add_call(lw, l->tmode == REEL_TPOOL_MAX ? K_WINDOW_MAX : K_WINDOW_MEAN, li, -1,
             (int[]){y, ring}, 2, (int[]){size, w}, 2);
    return y;
  }
  /* temporal_conv: the frames in time order as w C channels, one conv2d
   * with weights (out, C, w, kh, kw) permuted to (out, w, C, kh, kw) */
  int c = l->in_shape.dim[0], kk = l->win.kh * l->win.kw;
  int stacked = add_value(lw, V_TRANSIENT, li, (int64_t)size * w, vname(lw, l, "stacked", -1));
  add_call(lw, K_WINDOW_GATHER, li, -1, (int[]){stacked, ring}, 2, (int[]){size, w}, 2);
  float *wt = NULL;
  if (l->param[0].data) {
    wt = arena_alloc(lw->a, (size_t)l->out * c * w * kk * sizeof *wt);
    for (int o = 0; o < l->out; o++)
      for (int ch = 0; ch < c; ch++)
        for (int t = 0; t < w; t++)
          memcpy(wt + (((size_t)o * w + t) * c + ch) * kk,
                 l->param[0].data + (((size_t)o * c + ch) * w + t) * kk, (size_t)kk * sizeof *wt);
  }
  int b = l->bias ? weight_copy(lw, li, &l->param[1], vname(lw, l, "bias", -1)) : -1;
  int y = add_value(lw, V_TRANSIENT, li, shape_elems(l->out_shape), vname(lw, l, "out", -1));
  Geom geom = {.in_c0 = c * w, .in_h = l->in_shape.dim[1], .in_w = l->in_shape.dim[2], .out_c = l->out,
               .out_h = l->out_shape.dim[1], .out_w = l->out_shape.dim[2], .win = l->win, .groups = 1};
  conv_call(lw, li, -1, vname(lw, l, "weight", -1), wt, b, y, stacked, -1, geom);
  return y;
}

/* A clip pool, per frame: fold the value (each frame's, or each closed
 * window's) into the accumulator in the context. */
static void lower_clip_pool_fold(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int x = input_value(lw, l, 0), size = (int)lw->p->v[x].size;
  int64_t floats = shape_elems(l->out_shape) * (l->tmode == REEL_TPOOL_MEAN ? 2 : 1); /* + compensation */
  int acc = add_state(lw, li, floats, vname(lw, l, "acc", -1), "clip pool");
  add_call(lw, K_TPOOL_FOLD, li, -1, (int[]){acc, x}, 2, (int[]){size, l->tmode, l->count}, 3);
  lw->out[li] = acc;
}

/* ... and per clip read: the pool's value; before its input's first window
 * closed, the frames so far as that window (the gated calls run again,
 * without folding). */
static int lower_clip_pool_read(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int x = input_value(lw, l, 0), size = (int)lw->p->v[x].size, acc = lw->out[li];
  int y = add_value(lw, V_TRANSIENT, li, shape_elems(l->out_shape), vname(lw, l, "out", -1));
  int dims[3] = {size, l->tmode, l->count};
  add_call(lw, K_TPOOL_READ, li, -1, (int[]){y, acc}, 2, dims, 3)->gate = l->gate;
  if (l->gate < 0)
    return y;
  lw->guard = G_PARTIAL;
  lw->gate = l->gate;
  if (!lw->rerun[l->gate]) {
    lw->rerun[l->gate] = true;
    for (int k = 0, end = lw->p->step_end; k < end; k++) {
      const Call *c = &lw->p->call[k];
      if (c->guard == G_CLOSE && c->gate == l->gate && c->op != K_TPOOL_FOLD)
        repeat_call(lw, k);
    }
  }
  add_call(lw, K_TPOOL_FIRST, li, -1, (int[]){y, x}, 2, dims, 3);
  lw->guard = G_ALWAYS;
  lw->gate = -1;
  return y;
}

static int lower_temporal(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  return l->rate == RATE_CLIP ? lower_clip_pool_read(lw, li) : lower_windowed(lw, li);
}

/* ---- the interpreter ---- */
static void interp_init_temporal(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  if (l->frames)
    in->s[li].ring = interp_zeros(in->a, l->frames * shape_elems(l->in_shape));
  else
    in->s[li].acc = interp_zeros(in->a, shape_elems(l->out_shape));
}

/* Values a clip pool has folded in: frames, or closed windows. */
static uint64_t pool_values(const Interp *in, const Layer *l) {
  if (l->gate < 0)
    return in->frames;
  const Layer *t = &in->g->layer[l->gate];
  return in->frames >= (uint64_t)t->frames
             ? (in->frames - (uint64_t)t->frames) / (uint64_t)t->tstride + 1 : 0;
}

/* Every frame: a windowed op pushes its input into its ring; a clip pool
 * folds its input in when that input has a new value. */
static void interp_temporal_frame(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  LayerState *s = &in->s[li];
  const double *x = interp_input(in, l, 0);
  int64_t size = shape_elems(l->in_shape);
  if (l->frames) {
    ring_push(s->ring, x, size, l->frames, in->frames);
    return;
  }
  if (l->gate >= 0 && !window_closes(in, &in->g->layer[l->gate]))
    return;
  uint64_t k = pool_values(in, l);
  for (int64_t j = 0; j < size; j++) {
    if (l->tmode == REEL_TPOOL_MAX)
      s->acc[j] = k == 1 || x[j] > s->acc[j] || isnan(x[j]) ? x[j] : s->acc[j];
    else if (l->tmode == REEL_TPOOL_MEAN)
      s->acc[j] += x[j];
    else if (k <= (uint64_t)l->count)
      s->acc[(k - 1) * size + j] = x[j];
  }
}

/* A windowed op on the frames of its ring, oldest first (a window not yet
 * full: the frames so far; temporal_conv pads it with zeros). */
static void interp_window(Interp *in, const Layer *l, LayerState *s) {
  int w = l->frames, valid = ring_valid(in, w), size = (int)shape_elems(l->in_shape);
  if (l->op == &op_temporal_pool) {
    for (int i = 0; i < size; i++) {
      double acc = l->tmode == REEL_TPOOL_MAX ? -INFINITY : 0;
      for (int t = 0; t < valid; t++) {
        double v = s->ring[(size_t)ring_slot(in, w, t) * size + i];
        acc = l->tmode == REEL_TPOOL_MAX ? (v > acc || isnan(v) ? v : acc) : acc + v;
      }
      s->y[i] = l->tmode == REEL_TPOOL_MAX ? acc : acc / valid;
    }
    return;
  }
  int c = l->in_shape.dim[0], h = l->in_shape.dim[1], wd = l->in_shape.dim[2];
  int oh = l->out_shape.dim[1], ow = l->out_shape.dim[2], kh = l->win.kh, kw = l->win.kw;
  const float *wt = l->param[0].data;
  for (int o = 0; o < l->out; o++)
    for (int r = 0; r < oh; r++)
      for (int q = 0; q < ow; q++) {
        double acc = l->bias ? l->param[1].data[o] : 0;
        for (int t = 0; t < valid; t++) { /* position t of the window: frame age valid-1-t */
          const double *frame = s->ring + (size_t)ring_slot(in, w, valid - 1 - t) * size;
          for (int ch = 0; ch < c; ch++)
            for (int kr = 0; kr < kh; kr++)
              for (int kq = 0; kq < kw; kq++) {
                int ir = r - l->win.pad_top + kr, iq = q - l->win.pad_left + kq;
                if (ir >= 0 && ir < h && iq >= 0 && iq < wd)
                  acc += wt[((((size_t)o * c + ch) * w + t) * kh + kr) * kw + kq] *
                         frame[((size_t)ch * h + ir) * wd + iq];
              }
        }
        s->y[((size_t)o * oh + r) * ow + q] = acc;
      }
}

/* A clip pool's value for clip(): the pool of what it folded, or, while
 * its input's first window has not closed, the frames so far run through
 * the layers that window feeds, as that window. */
static void interp_clip_pool(Interp *in, int li) {
  const Graph *g = in->g;
  const Layer *l = &g->layer[li];
  LayerState *s = &in->s[li];
  int64_t size = shape_elems(l->in_shape), total = shape_elems(l->out_shape);
  uint64_t k = pool_values(in, l);
  if (l->gate >= 0 && k == 0) {
    for (int j = l->gate; j < li; j++)
      if (g->layer[j].rate == RATE_WINDOW && g->layer[j].gate == l->gate)
        interp_layer(in, j);
    memset(s->y, 0, (size_t)total * sizeof(double));
    memcpy(s->y, interp_input(in, l, 0), (size_t)size * sizeof(double));
    return;
  }
  for (int64_t j = 0; j < total; j++)
    s->y[j] = k == 0 ? 0 : l->tmode == REEL_TPOOL_MEAN ? s->acc[j] / (double)k : s->acc[j];
}

static void interp_temporal(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  if (l->rate == RATE_CLIP)
    interp_clip_pool(in, li);
  else
    interp_window(in, l, &in->s[li]);
}

const OpDesc op_temporal_pool = {
    .name = "temporal_pool", .keys = "mode frames stride count", .flags = OP_TEMPORAL,
    .min_inputs = 1, .max_inputs = 1, .parse = parse_temporal, .infer = infer_temporal_pool,
    .lower = lower_temporal, .lower_frame = lower_clip_pool_fold,
    .interp_init = interp_init_temporal, .interp = interp_temporal,
    .interp_frame = interp_temporal_frame};

const OpDesc op_temporal_conv = {
    .name = "temporal_conv", .keys = "out frames stride kernel padding bias",
    .flags = OP_WEIGHTED | OP_TEMPORAL | OP_MATRICES, .min_inputs = 1, .max_inputs = 1,
    .parse = parse_temporal, .infer = infer_temporal_conv, .lower = lower_temporal, .interp_init = interp_init_temporal,
    .interp = interp_temporal, .interp_frame = interp_temporal_frame};
