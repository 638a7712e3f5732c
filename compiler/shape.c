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

/* h (and c) per stacked layer; a GRU-RCN layer l's state is pooled 2^l. */
int64_t layer_state_floats(const Layer *l) {
  bool conv = l->op == OP_CONVLSTM || l->op == OP_CONVGRU;
  int64_t rows = conv ? l->in_shape.dim[1] : 1, cols = conv ? l->in_shape.dim[2] : 1, n = 0;
  for (int k = 0; k < l->stack; k++) {
    if (l->rcn && k > 0)
      rows /= 2, cols /= 2;
    n += (int64_t)l->hidden[k] * rows * cols;
  }
  return l->op == OP_LSTM || l->op == OP_CONVLSTM ? 2 * n : n;
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

/* Products that could overflow an int index in generated code. */
static bool fits(const Layer *l, int64_t elems, const char *what) {
  if (elems <= MAX_ELEMS)
    return true;
  diag_error(l->loc, "%s '%s' needs a %s of %lld elements: more than %lld", op_name[l->op], l->name,
             what, (long long)elems, (long long)MAX_ELEMS);
  return false;
}

/* PyTorch's output size of a convolution or pooling window along one axis. */
static int window_out(int in, int pad_lo, int pad_hi, int k, int s, int d, bool ceil_mode) {
  int span = in + pad_lo + pad_hi - d * (k - 1) - 1;
  if (span < 0)
    return 0;
  int out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= in + pad_lo) /* the last window must start inside */
    out--;
  return out;
}

static bool infer_conv(Arena *a, Layer *l) {
  Window *w = &l->win;
  int c = l->in_shape.dim[0], h = l->in_shape.dim[1], wd = l->in_shape.dim[2];
  if (l->same_pad) {
    int th = w->dh * (w->kh - 1), tw = w->dw * (w->kw - 1);
    w->pad_top = th / 2, w->pad_bottom = th - th / 2;
    w->pad_left = tw / 2, w->pad_right = tw - tw / 2;
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
    add_param(a, l, vec(c), "weight");
    add_param(a, l, vec(c), "bias");
    add_param(a, l, vec(c), "running_mean");
    add_param(a, l, vec(c), "running_var");
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
  default: /* every op in ops.h has a rule above */
    return false;
  }
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
    if (!infer_layer(a, g, l))
      return false;
    for (int k = 0; k < l->n_input; k++)
      if (l->input[k] >= 0)
        g->layer[l->input[k]].consumers++;
  }
  g->layer[g->n_step_layers - 1].consumers++;
  if (g->forecast_steps)
    g->layer[g->n_layer - 1].consumers++;
  return true;
}
