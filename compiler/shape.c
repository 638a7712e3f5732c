/* Shape inference: every layer's output shape (PyTorch's formulas), the
 * parameter tensors it needs (PyTorch names and shapes), its multiply-adds
 * per step, and how many layers read it. */
#include <stdarg.h>
#include <string.h>

#include "ops.h"

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

int graph_out_size(const Graph *g) {
  return (int)shape_elems(g->layer[g->n_step_layers - 1].out_shape);
}

const Layer *forecast_output(const Graph *g) {
  return g->forecast_steps ? &g->layer[g->n_layer - 1] : NULL;
}

Param *add_param(Arena *a, Layer *l, Shape s, const char *fmt, ...) {
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

bool shape_error(Arena *a, const Layer *l, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  diag_error(l->loc, "%s '%s' %s, got %s", l->op->name, l->name, msg, shape_str(a, l->in_shape));
  return false;
}

Shape layer_shape(const Graph *g, int src) { return src < 0 ? g->input : g->layer[src].out_shape; }

/* Products that could overflow an int index in generated code, or an int
 * dimension here: flatten turns a whole tensor into one dimension, so a
 * tensor of exactly MAX_ELEMS = 2^31 elements would wrap to -2^31. */
bool fits(const Layer *l, int64_t elems, const char *what) {
  if (elems < MAX_ELEMS)
    return true;
  diag_error(l->loc, "%s '%s' needs a %s of %lld elements: more than %lld", l->op->name, l->name,
             what, (long long)elems, (long long)MAX_ELEMS - 1);
  return false;
}

/* PyTorch's output size of a convolution or pooling window along one axis.
 * In 64 bits: a dilated kernel d (k - 1) can reach 2^40. */
int window_out(int in, int pad_lo, int pad_hi, int k, int s, int d, bool ceil_mode) {
  int64_t span = (int64_t)in + pad_lo + pad_hi - (int64_t)d * (k - 1) - 1;
  if (span < 0)
    return 0;
  int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= (int64_t)in + pad_lo) /* the last window must start inside */
    out--;
  return (int)out; /* at most span + 1 < 2^22 */
}

bool need_rank(Arena *a, const Layer *l, int rank) {
  if (l->in_shape.rank == rank)
    return true;
  return shape_error(a, l, "needs a %s input", rank == 1 ? "vector" : "[C, H, W]");
}

/* How often layer l runs: as often as its inputs (which must agree), except
 * that a windowed temporal op runs when its window closes and a clip pool
 * once per clip read. */
static bool infer_rate(Graph *g, int i) {
  Layer *l = &g->layer[i];
  bool temporal = layer_flags(l) & OP_TEMPORAL;
  if (temporal && l->phase != PHASE_STEP) {
    diag_error(l->loc, "%s '%s' pools over observed frames: it belongs to the per-frame chain",
               l->op->name, l->name);
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
                 l->op->name, l->name, first < 0 ? "input" : g->layer[first].name,
                 src < 0 ? "input" : g->layer[src].name);
      return false;
    }
    l->rate = rate;
    l->gate = gate;
  }
  if (temporal && !l->frames) {
    if (l->rate == RATE_CLIP) {
      diag_error(l->loc, "%s '%s' reads a value computed once per clip: a clip pool "
                 "reads every frame or every window", l->op->name, l->name);
      return false;
    }
    l->rate = RATE_CLIP; /* gate: the windows it reads, if any */
  } else if (temporal) {
    if (l->rate != RATE_FRAME) {
      diag_error(l->loc, "%s '%s' has a window of frames, so it must read a layer that runs every "
                 "frame", l->op->name, l->name);
      return false;
    }
    l->rate = RATE_WINDOW;
    l->gate = i;
  }
  unsigned flags = layer_flags(l);
  const char *why = l->rate == RATE_FRAME ? NULL
                    : flags & OP_RECURRENT ? "a recurrent layer steps once per frame"
                    : flags & OP_EVERY_FRAME ? "it runs once per frame"
                    : l->window ? "'window' keeps per-frame outputs" : NULL;
  if (why) {
    diag_error(l->loc, "%s '%s' would run once per %s: %s", l->op->name, l->name,
               l->rate == RATE_WINDOW ? "window" : "clip", why);
    return false;
  }
  return true;
}

/* Whether the model has an output, and of what kind. */
static bool check_outputs(Arena *a, Graph *g) {
  const Layer *last = &g->layer[g->n_step_layers - 1];
  if (last->rate == RATE_WINDOW) {
    diag_error(last->loc, "the model ends in %s '%s', which runs once per window: end it with a "
               "temporal_pool without 'frames' (a clip pool)", last->op->name, last->name);
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
    if (!infer_rate(g, i) || !l->op->infer(a, g, l))
      return false;
    /* the window is one array in the context, indexed like any tensor */
    if (l->window && !fits(l, l->window * shape_elems(l->out_shape), "window"))
      return false;
    for (int k = 0; k < l->n_input; k++)
      if (l->input[k] >= 0)
        g->layer[l->input[k]].consumers++;
    if (l->window) /* its window keeps a copy */
      l->consumers++;
    for (int k = 0; k < l->n_ref; k++) /* readers by name: nobody overwrites them in place */
      g->layer[l->ref[k]].consumers++;
  }
  g->layer[g->n_step_layers - 1].consumers++;
  if (g->forecast_steps)
    g->layer[g->n_layer - 1].consumers++;
  return check_outputs(a, g);
}
