/* Shape inference: every layer's output shape, the parameter tensors it
 * needs (PyTorch names and shapes) and its multiply-adds per step. */
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

int graph_out_size(const Graph *g) {
  return (int)shape_elems(g->layer[g->n_layer - 1].out_shape);
}

int64_t layer_state_floats(const Layer *l) {
  if (l->op == OP_LSTM)
    return 2 * (int64_t)l->hidden * l->stack;
  if (l->op == OP_GRU)
    return (int64_t)l->hidden * l->stack;
  return 0;
}

static void add_param(Arena *a, Layer *l, int cap, Shape s, const char *fmt, int k) {
  if (l->n_param == 0)
    l->param = arena_alloc(a, (size_t)cap * sizeof *l->param);
  Param *p = &l->param[l->n_param++];
  p->name = arena_printf(a, fmt, l->name, k);
  p->shape = s;
}

static bool need_vector(Arena *a, const Layer *l) {
  if (l->in_shape.rank == 1)
    return true;
  diag_error(l->loc, "%s '%s' needs a vector input, got %s", op_name[l->op], l->name,
             shape_str(a, l->in_shape));
  return false;
}

/* A weight matrix whose element count could overflow an int index. */
static bool check_size(const Layer *l, int64_t rows, int64_t cols) {
  if (rows * cols <= MAX_ELEMS)
    return true;
  diag_error(l->loc, "%s '%s' needs a %lld x %lld weight matrix: more than %lld elements",
             op_name[l->op], l->name, (long long)rows, (long long)cols, (long long)MAX_ELEMS);
  return false;
}

static bool infer_layer(Arena *a, Layer *l) {
  int in = (int)shape_elems(l->in_shape);
  switch (l->op) {
  case OP_LINEAR:
    if (!need_vector(a, l) || !check_size(l, l->out, in))
      return false;
    l->out_shape = vec(l->out);
    add_param(a, l, 2, mat(l->out, in), "%s.weight", 0);
    if (l->bias)
      add_param(a, l, 2, vec(l->out), "%s.bias", 0);
    l->macs = (int64_t)l->out * in;
    return true;
  case OP_SOFTMAX:
    if (!need_vector(a, l))
      return false;
    l->out_shape = l->in_shape;
    return true;
  case OP_RELU:
  case OP_SIGMOID:
  case OP_TANH:
  case OP_DROPOUT:
    l->out_shape = l->in_shape;
    return true;
  case OP_LSTM:
  case OP_GRU: {
    if (!need_vector(a, l))
      return false;
    int gates = (l->op == OP_LSTM ? 4 : 3) * l->hidden;
    int per_layer = l->op == OP_LSTM && l->peephole == PEEPHOLE_DIAGONAL ? 7 : 4;
    int cap = per_layer * l->stack;
    for (int k = 0; k < l->stack; k++) {
      int in_k = k == 0 ? in : l->hidden;
      if (!check_size(l, gates, (int64_t)in_k + l->hidden))
        return false;
      add_param(a, l, cap, mat(gates, in_k), "%s.weight_ih_l%d", k);
      add_param(a, l, cap, mat(gates, l->hidden), "%s.weight_hh_l%d", k);
      add_param(a, l, cap, vec(gates), "%s.bias_ih_l%d", k);
      add_param(a, l, cap, vec(gates), "%s.bias_hh_l%d", k);
      if (per_layer == 7) {
        add_param(a, l, cap, vec(l->hidden), "%s.weight_ci_l%d", k);
        add_param(a, l, cap, vec(l->hidden), "%s.weight_cf_l%d", k);
        add_param(a, l, cap, vec(l->hidden), "%s.weight_co_l%d", k);
      }
      l->macs += (int64_t)gates * (in_k + l->hidden);
    }
    l->out_shape = vec(l->hidden);
    return true;
  }
  default: /* every op in ops.h has a rule above */
    return false;
  }
}

bool infer_shapes(Arena *a, Graph *g) {
  for (int i = 0; i < g->n_layer; i++) {
    Layer *l = &g->layer[i];
    l->in_shape = l->input < 0 ? g->input : g->layer[l->input].out_shape;
    if (!infer_layer(a, l))
      return false;
  }
  return true;
}
