/* Shape inference: every layer's output shape (PyTorch's formulas), the
 * parameter tensors it needs (PyTorch names and shapes), its multiply-adds
 * per step, and how many layers read it. */
#include <stdarg.h>
#include <string.h>

#include "reel.h"

int64_t shape_elems(Shape s) {
  int64_t n = 1;
  for (int i = 0; i < s.rank; i++)
    n *= s.dim[i];
  return n;
}

const char *shape_str(Arena *a, Shape s) {
  char text[64] = "[";
  for (int i = 0; i < s.rank; i++)
    snprintf(text + strlen(text), sizeof text - strlen(text), "%s%d", i ? ", " : "", s.dim[i]);
  strcat(text, "]");
  return arena_strdup(a, text);
}

static Shape vec(int n) { return (Shape){1, {n}}; }
static Shape mat(int r, int c) { return (Shape){2, {r, c}}; }
static Shape chw(int c, int h, int w) { return (Shape){3, {c, h, w}}; }
static Shape oihw(int o, int i, int h, int w) { return (Shape){4, {o, i, h, w}}; }

int graph_out_size(const Graph *g) {
  return (int)shape_elems(g->layer[g->n_step_layers - 1].out_shape);
}

const Layer *forecast_output(const Graph *g) {
  return g->forecast_steps ? &g->layer[g->n_layer - 1] : NULL;
}

static Param *add_param(Arena *a, Layer *l, Shape s, const char *fmt, ...) {
  enum { CAP = 8 * MAX_STACK };
  if (l->n_param == 0)
    l->param = arena_alloc(a, CAP * sizeof *l->param);
  Param *p = &l->param[l->n_param++];
  char suffix[MAX_NAME];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(suffix, sizeof suffix, fmt, ap);
  va_end(ap);
  p->name = arena_printf(a, "%s.%s", l->name, suffix);
  p->shape = s;
  /* PyTorch's fan-in: a weight's inputs per output (dims after the first);
   * a bias or other vector takes the fan of the weight before it */
  p->fan_in = 1;
  if (s.rank >= 2)
    p->fan_in = shape_elems(s) / s.dim[0];
  else if (l->n_param > 1)
    p->fan_in = l->param[l->n_param - 2].fan_in;
  return p;
}

const Param *find_param(const Layer *l, const char *fmt, int k) {
  char suffix[MAX_NAME], name[2 * MAX_NAME];
  snprintf(suffix, sizeof suffix, fmt, k);
  snprintf(name, sizeof name, "%s.%s", l->name, suffix);
  for (int i = 0; i < l->n_param; i++)
    if (strcmp(l->param[i].name, name) == 0)
      return &l->param[i];
  return NULL;
}

static bool fail(Arena *a, const Layer *l, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  diag_error(l->loc, "%s '%s' %s, got %s", op_name[l->op], l->name, msg, shape_str(a, l->in_shape));
  return false;
}

/* Products that could overflow an int index in generated code, or an int
 * dimension here: flatten turns a whole tensor into one dimension, so a
 * tensor of exactly MAX_ELEMS = 2^31 elements would wrap to -2^31. */
static bool fits(const Layer *l, int64_t elems, const char *what) {
  if (elems < MAX_ELEMS)
    return true;
  diag_error(l->loc, "%s '%s' needs a %s of %lld elements: more than %lld", op_name[l->op], l->name,
             what, (long long)elems, (long long)MAX_ELEMS - 1);
  return false;
}

/* PyTorch's output size of a convolution or pooling window along one axis.
 * In 64 bits: a dilated kernel d (k - 1) can reach 2^40. */
static int window_out(int in, int pad_lo, int pad_hi, int k, int s, int d, bool ceil_mode) {
  int64_t span = (int64_t)in + pad_lo + pad_hi - (int64_t)d * (k - 1) - 1;
  if (span < 0)
    return 0;
  int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= (int64_t)in + pad_lo) /* the last window must start inside */
    out--;
  return (int)out; /* at most span + 1 < 2^22 */
}

static bool infer_conv(Arena *a, Layer *l) {
  Window *w = &l->win;
  int c = l->in_shape.dim[0], h = l->in_shape.dim[1], wd = l->in_shape.dim[2];
  if (l->same_pad) {
    /* no more padding per side than an explicit 'padding' may give */
    int64_t th = (int64_t)w->dh * (w->kh - 1), tw = (int64_t)w->dw * (w->kw - 1);
    if (th > 2 * (int64_t)MAX_DIM || tw > 2 * (int64_t)MAX_DIM)
      return fail(a, l, "kernel %dx%d with dilation %dx%d needs more than %d padding per side for "
                  "'padding: same'", w->kh, w->kw, w->dh, w->dw, MAX_DIM);
    w->pad_top = (int)(th / 2), w->pad_bottom = (int)(th - th / 2);
    w->pad_left = (int)(tw / 2), w->pad_right = (int)(tw - tw / 2);
  }
  if (c % l->groups || l->out % l->groups)
    return fail(a, l, "has groups %d, which must divide its %d input and %d output channels",
                l->groups, c, l->out);
  int oh = window_out(h, w->pad_top, w->pad_bottom, w->kh, w->sh, w->dh, false);
  int ow = window_out(wd, w->pad_left, w->pad_right, w->kw, w->sw, w->dw, false);
  if (oh < 1 || ow < 1)
    return fail(a, l, "kernel %dx%d (dilation %dx%d, padding %d,%d) does not fit its input", w->kh,
                w->kw, w->dh, w->dw, w->pad_top, w->pad_left);
  l->out_shape = chw(l->out, oh, ow);
  if (!fits(l, (int64_t)l->out * (c / l->groups) * w->kh * w->kw, "weight") ||
      !fits(l, shape_elems(l->out_shape), "output"))
    return false;
  add_param(a, l, oihw(l->out, c / l->groups, w->kh, w->kw), "weight");
  if (l->bias)
    add_param(a, l, vec(l->out), "bias");
  l->macs = shape_elems(l->out_shape) * (c / l->groups) * w->kh * w->kw;
  return true;
}

static bool infer_pool(Arena *a, Layer *l) {
  Window *w = &l->win;
  int c = l->in_shape.dim[0], h = l->in_shape.dim[1], wd = l->in_shape.dim[2];
  if (w->dh != 1 || w->dw != 1)
    return fail(a, l, "supports dilation 1 only");
  if (2 * w->pad_top > w->kh || 2 * w->pad_left > w->kw)
    return fail(a, l, "has padding %d,%d: PyTorch allows at most half the kernel %dx%d",
                w->pad_top, w->pad_left, w->kh, w->kw);
  int oh = window_out(h, w->pad_top, w->pad_bottom, w->kh, w->sh, 1, w->ceil_mode);
  int ow = window_out(wd, w->pad_left, w->pad_right, w->kw, w->sw, 1, w->ceil_mode);
  if (oh < 1 || ow < 1)
    return fail(a, l, "kernel %dx%d does not fit its input", w->kh, w->kw);
  l->out_shape = chw(c, oh, ow);
  return true;
}

static bool infer_convlstm(Arena *a, Graph *g, Layer *l) {
  int rows = l->in_shape.dim[1], cols = l->in_shape.dim[2];
  int c = l->n_input ? l->in_shape.dim[0] : 0, k = l->kernel, total = 0;
  for (int s = 0; s < l->stack; s++) {
    int hid = l->hidden[s], in = s == 0 ? c : l->hidden[s - 1];
    if (!fits(l, (int64_t)4 * hid * (in + hid) * k * k, "gate weight") ||
        !fits(l, (int64_t)4 * hid * rows * cols, "gate tensor"))
      return false;
    add_param(a, l, oihw(4 * hid, in + hid, k, k), "cell_list.%d.conv.weight", s);
    add_param(a, l, vec(4 * hid), "cell_list.%d.conv.bias", s);
    if (l->peephole) {
      Shape p = l->peephole == PEEPHOLE_CHANNEL ? chw(hid, 1, 1) : chw(hid, rows, cols);
      add_param(a, l, p, "cell_list.%d.weight_ci", s);
      add_param(a, l, p, "cell_list.%d.weight_cf", s);
      add_param(a, l, p, "cell_list.%d.weight_co", s);
    }
    l->macs += (int64_t)rows * cols * 4 * hid * (in + hid) * k * k;
    total += hid;
  }
  l->out_shape = chw(l->concat_output ? total : l->hidden[l->stack - 1], rows, cols);
  (void)g;
  return true;
}

static bool infer_convgru(Arena *a, Graph *g, Layer *l) {
  int rows = l->in_shape.dim[1], cols = l->in_shape.dim[2], k = l->kernel;
  for (int s = 0; s < l->stack; s++) {
    int hid = l->hidden[s], in;
    if (l->rcn) {
      int src = l->input[s];
      Shape x = src < 0 ? g->input : g->layer[src].out_shape;
      if (s > 0 && (x.rank != 3 || x.dim[1] != rows / 2 || x.dim[2] != cols / 2)) {
        diag_error(l->from_loc, "convgru '%s' layer %d reads %s, but layer %d's state pooled 2x2 is "
                   "%dx%d: each layer's input must have the resolution of its state", l->name, s,
                   shape_str(a, x), s - 1, rows / 2, cols / 2);
        return false;
      }
      if (x.rank != 3)
        return fail(a, l, "needs [C, H, W] inputs");
      in = x.dim[0];
      if (s > 0) {
        rows /= 2, cols /= 2;
      }
    } else {
      in = s == 0 ? l->in_shape.dim[0] : l->hidden[s - 1];
    }
    if (!fits(l, (int64_t)2 * hid * (in + hid) * k * k, "gate weight") ||
        !fits(l, (int64_t)2 * hid * rows * cols, "gate tensor"))
      return false;
    add_param(a, l, oihw(2 * hid, in + hid, k, k), "cell_list.%d.conv_gates.weight", s);
    add_param(a, l, vec(2 * hid), "cell_list.%d.conv_gates.bias", s);
    add_param(a, l, oihw(hid, in + hid, k, k), "cell_list.%d.conv_can.weight", s);
    add_param(a, l, vec(hid), "cell_list.%d.conv_can.bias", s);
    l->macs += (int64_t)rows * cols * 3 * hid * (in + hid) * k * k;
    if (l->rcn && s > 0) {
      add_param(a, l, oihw(2 * hid, l->hidden[s - 1], k, k), "cell_list.%d.conv_below.weight", s);
      l->macs += (int64_t)rows * cols * 2 * hid * l->hidden[s - 1] * k * k;
    }
    if (rows < 1 || cols < 1)
      return fail(a, l, "pools its state below 1x1");
  }
  l->out_shape = chw(l->hidden[l->stack - 1], rows, cols);
  return true;
}

/* Attention: keys (and values) from a window or the positions of a map. */
static bool infer_attention(Arena *a, Graph *g, Layer *l) {
  int src = l->input[0];
  const Layer *k = src >= 0 ? &g->layer[src] : NULL;
  if (k && k->window) {
    l->keys_n = k->window;
    l->key_dim = (int)shape_elems(k->out_shape);
  } else if (l->in_shape.rank == 3) {
    l->keys_map = true;
    l->keys_n = l->in_shape.dim[1] * l->in_shape.dim[2];
    l->key_dim = l->in_shape.dim[0];
  } else {
    diag_error(l->loc, "attention '%s' takes its keys from '%s', which has no 'window' and is not a "
               "[D, H, W] map", l->name, k ? k->name : "input");
    return false;
  }
  l->value_dim = l->key_dim;
  if (l->values >= 0) {
    const Layer *v = &g->layer[l->values];
    bool ok = l->keys_map ? v->out_shape.rank == 3 && v->out_shape.dim[1] * v->out_shape.dim[2] == l->keys_n &&
                                v->out_shape.dim[1] == l->in_shape.dim[1]
                          : v->window == l->keys_n;
    if (!ok) {
      diag_error(l->values_loc, l->keys_map
                 ? "attention '%s': values '%s' must be a map of the keys' rows and columns"
                 : "attention '%s': values '%s' must keep a window of the keys' %d frames",
                 l->name, v->name, l->keys_n);
      return false;
    }
    l->value_dim = l->keys_map ? v->out_shape.dim[0] : (int)shape_elems(v->out_shape);
  }
  const Layer *q = &g->layer[l->query];
  int dq = l->query_prev ? q->hidden[q->stack - 1] : (int)shape_elems(q->out_shape);
  if (!l->query_prev && q->out_shape.rank != 1) {
    diag_error(l->query_loc, "attention '%s': the query '%s' must be a vector, got %s", l->name,
               q->name, shape_str(a, q->out_shape));
    return false;
  }
  if (!l->query_prev && q->rate != RATE_FRAME) {
    diag_error(l->query_loc, "attention '%s': the query '%s' does not run every frame", l->name,
               q->name);
    return false;
  }
  int n = l->keys_n, dk = l->key_dim, A = l->hidden[0];
  switch (l->score) {
  case SCORE_DOT:
    if (dq != dk) {
      diag_error(l->query_loc, "attention '%s': score dot needs a query of the keys' size %d, but "
                 "'%s' gives %d (score general maps one to the other)", l->name, dk, q->name, dq);
      return false;
    }
    break;
  case SCORE_GENERAL:
    add_param(a, l, mat(dk, dq), "w_q.weight");
    l->macs += (int64_t)dk * dq;
    break;
  case SCORE_ADDITIVE:
    add_param(a, l, mat(A, dk), "w_x.weight");
    add_param(a, l, vec(A), "w_x.bias");
    add_param(a, l, mat(A, dq), "w_h.weight");
    add_param(a, l, mat(1, A), "v.weight");
    l->macs += (int64_t)A * dq + (int64_t)n * A * (dk + 1);
    break;
  case SCORE_LOCATION:
    if (!l->keys_map) {
      diag_error(l->loc, "attention '%s': score location scores the positions of a map; its keys "
                 "are a window", l->name);
      return false;
    }
    add_param(a, l, mat(n, dq), "weight");
    add_param(a, l, vec(n), "bias");
    l->macs += (int64_t)n * dq;
    break;
  }
  if (l->score != SCORE_ADDITIVE && l->score != SCORE_LOCATION)
    l->macs += (int64_t)n * dk;
  l->macs += (int64_t)n * l->value_dim;
  l->out_shape = vec(l->value_dim);
  return fits(l, (int64_t)n * (dk > l->value_dim ? dk : l->value_dim), "key window");
}

/* A temporal conv: nn.Conv3d with kernel (frames, kh, kw) over [C, T, H, W]. */
static bool infer_temporal_conv(Arena *a, Layer *l) {
  Window *w = &l->win;
  int c = l->in_shape.dim[0], h = l->in_shape.dim[1], wd = l->in_shape.dim[2];
  if (l->same_pad) {
    w->pad_top = (w->kh - 1) / 2, w->pad_bottom = w->kh - 1 - w->pad_top;
    w->pad_left = (w->kw - 1) / 2, w->pad_right = w->kw - 1 - w->pad_left;
  }
  int oh = window_out(h, w->pad_top, w->pad_bottom, w->kh, 1, 1, false);
  int ow = window_out(wd, w->pad_left, w->pad_right, w->kw, 1, 1, false);
  if (oh < 1 || ow < 1)
    return fail(a, l, "kernel %dx%d does not fit its input", w->kh, w->kw);
  l->out_shape = chw(l->out, oh, ow);
  int64_t taps = (int64_t)c * l->frames * w->kh * w->kw;
  if (!fits(l, l->out * taps, "weight") || !fits(l, (int64_t)l->frames * c * h * wd, "window"))
    return false;
  add_param(a, l, (Shape){5, {l->out, c, l->frames, w->kh, w->kw}}, "weight");
  if (l->bias)
    add_param(a, l, vec(l->out), "bias");
  l->macs = shape_elems(l->out_shape) * taps;
  return true;
}

static bool need_rank(Arena *a, const Layer *l, int rank) {
  if (l->in_shape.rank == rank)
    return true;
  return fail(a, l, "needs a %s input", rank == 1 ? "vector" : "[C, H, W]");
}

static bool infer_layer(Arena *a, Graph *g, Layer *l) {
  int in = (int)shape_elems(l->in_shape);
  switch (l->op) {
  case OP_LINEAR:
    if (!need_rank(a, l, 1) || !fits(l, (int64_t)l->out * in, "weight"))
      return false;
    l->out_shape = vec(l->out);
    add_param(a, l, mat(l->out, in), "weight");
    if (l->bias)
      add_param(a, l, vec(l->out), "bias");
    l->macs = (int64_t)l->out * in;
    return true;
  case OP_SOFTMAX:
    if (!need_rank(a, l, 1))
      return false;
    l->out_shape = l->in_shape;
    return true;
  case OP_RELU:
  case OP_RELU6:
  case OP_LEAKY_RELU:
  case OP_SIGMOID:
  case OP_TANH:
  case OP_DROPOUT:
    l->out_shape = l->in_shape;
    return true;
  case OP_FLATTEN:
    l->out_shape = vec(in);
    return true;
  case OP_LSTM:
  case OP_GRU: {
    if (!need_rank(a, l, 1))
      return false;
    int gates = (l->op == OP_LSTM ? 4 : 3) * l->hidden[0], H = l->hidden[0];
    for (int k = 0; k < l->stack; k++) {
      int in_k = k == 0 ? in : H;
      if (!fits(l, (int64_t)gates * (in_k + H), "weight"))
        return false;
      add_param(a, l, mat(gates, in_k), "weight_ih_l%d", k);
      add_param(a, l, mat(gates, H), "weight_hh_l%d", k);
      add_param(a, l, vec(gates), "bias_ih_l%d", k);
      add_param(a, l, vec(gates), "bias_hh_l%d", k);
      if (l->peephole == PEEPHOLE_DIAGONAL) {
        add_param(a, l, vec(H), "weight_ci_l%d", k);
        add_param(a, l, vec(H), "weight_cf_l%d", k);
        add_param(a, l, vec(H), "weight_co_l%d", k);
      }
      l->macs += (int64_t)gates * (in_k + H);
    }
    for (int j = 0; j < l->n_param; j++) /* nn.LSTM and nn.GRU: U(-1/sqrt(H), 1/sqrt(H)) */
      l->param[j].fan_in = H;
    if (l->init_from >= 0) { /* h0, c0 = tanh(linear(mean of the first frame's features)) */
      int d = g->layer[l->init_from].out_shape.dim[0];
      if (g->layer[l->init_from].out_shape.rank == 2) {
        diag_error(l->init_from_loc, "'init_from' needs a vector or a [D, H, W] map");
        return false;
      }
      add_param(a, l, mat(H, d), "init_h.weight");
      add_param(a, l, vec(H), "init_h.bias");
      add_param(a, l, mat(H, d), "init_c.weight");
      add_param(a, l, vec(H), "init_c.bias");
    }
    l->out_shape = vec(H);
    return true;
  }
  case OP_CONV2D:
    return need_rank(a, l, 3) && infer_conv(a, l);
  case OP_MAXPOOL:
  case OP_AVGPOOL:
    return need_rank(a, l, 3) && infer_pool(a, l);
  case OP_GLOBAL_AVGPOOL:
    if (!need_rank(a, l, 3))
      return false;
    l->out_shape = chw(l->in_shape.dim[0], 1, 1);
    return true;
  case OP_BATCHNORM: {
    if (l->in_shape.rank != 1 && l->in_shape.rank != 3)
      return fail(a, l, "needs a vector or [C, H, W] input");
    int c = l->in_shape.dim[0];
    l->out_shape = l->in_shape;
    add_param(a, l, vec(c), "weight")->init = INIT_NEAR_ONE;
    add_param(a, l, vec(c), "bias")->init = INIT_NEAR_ZERO;
    add_param(a, l, vec(c), "running_mean")->init = INIT_NEAR_ZERO;
    add_param(a, l, vec(c), "running_var")->init = INIT_NEAR_ONE;
    return true;
  }
  case OP_ADD:
  case OP_CONCAT: {
    Shape s = l->in_shape;
    for (int i = 1; i < l->n_input; i++) {
      int src = l->input[i];
      Shape t = src < 0 ? g->input : g->layer[src].out_shape;
      bool ok = t.rank == s.rank;
      for (int d = l->op == OP_CONCAT ? 1 : 0; ok && d < s.rank; d++)
        ok = t.dim[d] == s.dim[d];
      if (!ok) {
        diag_error(l->from_loc, "%s '%s': input %d is %s but input 0 is %s: %s", op_name[l->op],
                   l->name, i, shape_str(a, t), shape_str(a, l->in_shape),
                   l->op == OP_ADD ? "add needs equal shapes" : "concat needs equal shapes but for channels");
        return false;
      }
      if (l->op == OP_CONCAT)
        s.dim[0] += t.dim[0];
    }
    l->out_shape = s;
    return fits(l, shape_elems(s), "output");
  }
  case OP_PIXEL_SHUFFLE:
  case OP_PIXEL_UNSHUFFLE: {
    if (!need_rank(a, l, 3))
      return false;
    int r = l->factor, c = l->in_shape.dim[0], h = l->in_shape.dim[1], w = l->in_shape.dim[2];
    if (l->op == OP_PIXEL_SHUFFLE) {
      if (c % (r * r))
        return fail(a, l, "with factor %d needs channels divisible by %d", r, r * r);
      l->out_shape = chw(c / (r * r), h * r, w * r);
    } else {
      if (h % r || w % r)
        return fail(a, l, "with factor %d needs rows and columns divisible by %d", r, r);
      l->out_shape = chw(c * r * r, h / r, w / r);
    }
    return fits(l, shape_elems(l->out_shape), "output");
  }
  case OP_CONVLSTM:
    return (l->n_input == 0 || need_rank(a, l, 3)) && infer_convlstm(a, g, l);
  case OP_CONVGRU:
    return need_rank(a, l, 3) && infer_convgru(a, g, l);
  case OP_ATTENTION:
    return infer_attention(a, g, l);
  case OP_TEMPORAL_POOL:
    /* checked before the first dimension grows: count * dim[0] can pass 2^31 */
    if (!fits(l, (l->tmode == TPOOL_CONCAT ? l->count : 1) * shape_elems(l->in_shape), "output") ||
        !fits(l, (int64_t)l->frames * shape_elems(l->in_shape), "window"))
      return false;
    l->out_shape = l->in_shape;
    if (l->tmode == TPOOL_CONCAT) /* values stacked along the first dimension, as torch.cat */
      l->out_shape.dim[0] *= l->count;
    return true;
  case OP_TEMPORAL_CONV:
    return need_rank(a, l, 3) && infer_temporal_conv(a, l);
  default: /* every op in ops.h has a rule above */
    return false;
  }
}

static bool is_recurrent(Op op) {
  return op == OP_LSTM || op == OP_GRU || op == OP_CONVLSTM || op == OP_CONVGRU;
}

/* How often layer l runs: as often as its inputs (which must agree), except
 * that a windowed temporal op runs when its window closes and a clip pool
 * once per clip read. */
static bool infer_rate(Graph *g, int i) {
  Layer *l = &g->layer[i];
  bool temporal = l->op == OP_TEMPORAL_POOL || l->op == OP_TEMPORAL_CONV;
  if (temporal && l->phase != PHASE_STEP) {
    diag_error(l->loc, "%s '%s' pools over observed frames: it belongs to the per-frame chain",
               op_name[l->op], l->name);
    return false;
  }
  l->rate = RATE_FRAME;
  for (int k = 0; k < l->n_input; k++) {
    int src = l->input[k];
    if (src >= 0 && g->layer[src].phase != l->phase) /* a window read across chains */
      continue;
    Rate rate = src < 0 ? RATE_FRAME : g->layer[src].rate; /* the frame comes every frame */
    int gate = rate == RATE_WINDOW ? g->layer[src].gate : -1;
    if (k > 0 && (rate != l->rate || gate != l->gate)) {
      int first = l->input[0];
      diag_error(l->from_loc.file ? l->from_loc : l->loc, "%s '%s' reads '%s' and '%s', which do not "
                 "run equally often (per frame, per window of one temporal op, or per clip)",
                 op_name[l->op], l->name, first < 0 ? "input" : g->layer[first].name,
                 src < 0 ? "input" : g->layer[src].name);
      return false;
    }
    l->rate = rate;
    l->gate = gate;
  }
  if (l->op == OP_TEMPORAL_POOL && !l->frames) {
    if (l->rate == RATE_CLIP) {
      diag_error(l->loc, "temporal_pool '%s' reads a value computed once per clip: a clip pool "
                 "reads every frame or every window", l->name);
      return false;
    }
    l->rate = RATE_CLIP; /* gate: the windows it reads, if any */
  } else if (temporal) {
    if (l->rate != RATE_FRAME) {
      diag_error(l->loc, "%s '%s' has a window of frames, so it must read a layer that runs every "
                 "frame", op_name[l->op], l->name);
      return false;
    }
    l->rate = RATE_WINDOW;
    l->gate = i;
  }
  const char *why = l->rate == RATE_FRAME ? NULL
                    : is_recurrent(l->op) ? "a recurrent layer steps once per frame"
                    : l->op == OP_ATTENTION ? "attention runs once per frame"
                    : l->window ? "'window' keeps per-frame outputs" : NULL;
  if (why) {
    diag_error(l->loc, "%s '%s' would run once per %s: %s", op_name[l->op], l->name,
               l->rate == RATE_WINDOW ? "window" : "clip", why);
    return false;
  }
  if (l->init_from >= 0 && g->layer[l->init_from].rate != RATE_FRAME) {
    diag_error(l->init_from_loc, "'init_from: %s' must name a layer that runs every frame",
               g->layer[l->init_from].name);
    return false;
  }
  return true;
}

/* Whether the model has an output, and of what kind. */
static bool check_outputs(Arena *a, Graph *g) {
  const Layer *last = &g->layer[g->n_step_layers - 1];
  if (last->rate == RATE_WINDOW) {
    diag_error(last->loc, "the model ends in %s '%s', which runs once per window: end it with a "
               "temporal_pool without 'frames' (a clip pool)", op_name[last->op], last->name);
    return false;
  }
  if (last->rate == RATE_CLIP) {
    if ((g->per_frame_set && g->per_frame) || g->clip) {
      diag_error(g->loc_output, "the model ends in '%s', which runs once per clip (after a clip "
                 "temporal_pool): it has no per-frame output to %s", last->name,
                 g->clip ? "aggregate; drop 'clip'" : "write; drop 'per_frame: true'");
      return false;
    }
    g->clip_head = true;
    g->per_frame = false;
  } else if (!g->per_frame && g->clip == CLIP_NONE && !g->forecast_steps) {
    diag_error(g->loc_output, "'per_frame: false' needs a 'clip' aggregate or a forecast, or the "
               "model has no output");
    return false;
  }
  const Layer *fc = forecast_output(g);
  if (g->feedback && fc) {
    bool same = fc->out_shape.rank == g->input.rank;
    for (int d = 0; same && d < g->input.rank; d++)
      same = fc->out_shape.dim[d] == g->input.dim[d];
    if (!same) {
      diag_error(g->loc_forecast, "with 'feedback: true' each forecast frame is the next step's "
                 "input, so the forecast chain must end in the frame's shape %s; '%s' gives %s",
                 shape_str(a, g->input), fc->name, shape_str(a, fc->out_shape));
      return false;
    }
  }
  return true;
}

bool infer_shapes(Arena *a, Graph *g) {
  for (int i = 0; i < g->n_layer; i++) {
    Layer *l = &g->layer[i];
    if (l->n_input > 0) {
      int src = l->input[0];
      l->in_shape = src < 0 ? g->input : g->layer[src].out_shape;
    } else if (l->init_state >= 0) { /* no input: the frame size of the state it starts from */
      l->in_shape = g->layer[l->init_state].in_shape;
      l->in_shape.dim[0] = 0;
    }
    if (!infer_rate(g, i) || !infer_layer(a, g, l))
      return false;
    /* the window is one array in the context, indexed like any tensor */
    if (l->window && !fits(l, l->window * shape_elems(l->out_shape), "window"))
      return false;
    for (int k = 0; k < l->n_input; k++)
      if (l->input[k] >= 0)
        g->layer[l->input[k]].consumers++;
    if (l->window) /* its window keeps a copy */
      l->consumers++;
    if (l->values >= 0) /* readers by name, so that no op overwrites them in place */
      g->layer[l->values].consumers++;
    if (l->op == OP_ATTENTION && !l->query_prev)
      g->layer[l->query].consumers++;
    if (l->init_from >= 0)
      g->layer[l->init_from].consumers++;
  }
  g->layer[g->n_step_layers - 1].consumers++;
  if (g->forecast_steps)
    g->layer[g->n_layer - 1].consumers++;
  return check_outputs(a, g);
}
