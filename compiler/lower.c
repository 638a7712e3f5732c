/* Lowering: spec layers into a flat Program of kernel calls over values.
 * Recurrent cells become one gate matmul plus a fused gate-math call; the
 * weights are packed here into the order the kernels read them:
 *   lstm: rows of [W_ih | W_hh] with b_ih + b_hh (one pass per step)
 *   gru:  W_ih and W_hh apart, biases apart (b_hn sits inside r (.) ...)
 * Arguments per kernel (value indices):
 *   GEMV       y W b x              dim: rows cols
 *   GEMV_CAT2  y W b x0 x1          dim: rows n0 n1
 *   pointwise  y x                  dim: n
 *   LSTM_CELL  h c gates            dim: n
 *   LSTM_PEEPHOLE_CELL h c gates wci wcf wco
 *   GRU_CELL   h gi gh              dim: n
 */
#include <string.h>
#include <strings.h>

#include "reel.h"

const char *const kernel_name[K_COUNT] = {
    "gemv", "gemv_cat2", "relu", "sigmoid", "tanh", "softmax",
    "lstm_cell", "lstm_peephole_cell", "gru_cell",
};

typedef struct {
  Arena *a;
  Program *p;
  int64_t weight_pos;
} Lowering;

static int add_value(Lowering *lw, ValueKind kind, int layer, int64_t size, const char *name) {
  Program *p = lw->p;
  if (p->nv == p->cap_v) {
    int cap = p->cap_v ? 2 * p->cap_v : 32;
    Value *v = arena_alloc(lw->a, (size_t)cap * sizeof *v);
    if (p->nv)
      memcpy(v, p->v, (size_t)p->nv * sizeof *v);
    p->v = v;
    p->cap_v = cap;
  }
  Value *v = &p->v[p->nv];
  *v = (Value){.kind = kind, .name = name, .size = size, .first = -1, .last = -1, .layer = layer};
  if (kind == V_WEIGHT) {
    v->offset = lw->weight_pos;
    /* 8-float (32-byte) steps: every tensor starts on a vector boundary */
    lw->weight_pos += (size + 7) / 8 * 8;
  }
  if (kind == V_STATE)
    p->state_floats += size;
  return p->nv++;
}

static void add_call(Lowering *lw, KernelOp op, int layer, int sublayer, const int *arg, int nargs,
                     int d0, int d1, int d2) {
  Program *p = lw->p;
  if (p->nc == p->cap_c) {
    int cap = p->cap_c ? 2 * p->cap_c : 32;
    Call *c = arena_alloc(lw->a, (size_t)cap * sizeof *c);
    if (p->nc)
      memcpy(c, p->call, (size_t)p->nc * sizeof *c);
    p->call = c;
    p->cap_c = cap;
  }
  Call *c = &p->call[p->nc++];
  *c = (Call){.op = op, .layer = layer, .sublayer = sublayer, .dim = {d0, d1, d2}};
  for (int i = 0; i < MAX_ARGS; i++)
    c->arg[i] = i < nargs ? arg[i] : -1;
}

/* A weight value holding a copy (or packing) of params; data stays NULL
 * when the graph has no weights bound (check, info). */
static float *weight_data(Lowering *lw, int v) {
  float *data = arena_alloc(lw->a, (size_t)lw->p->v[v].size * sizeof *data);
  lw->p->v[v].data = data;
  return data;
}

static int weight_copy(Lowering *lw, int layer, const Param *param, const char *name) {
  int v = add_value(lw, V_WEIGHT, layer, shape_elems(param->shape), name);
  if (param->data)
    memcpy(weight_data(lw, v), param->data, (size_t)lw->p->v[v].size * sizeof(float));
  return v;
}

static const Param *param(const Layer *l, const char *suffix, int k) {
  char name[MAX_NAME * 2];
  snprintf(name, sizeof name, "%s.%s_l%d", l->name, suffix, k);
  for (int i = 0; i < l->n_param; i++)
    if (strcmp(l->param[i].name, name) == 0)
      return &l->param[i];
  return NULL; /* shape.c made every name asked for here */
}

static int lower_linear(Lowering *lw, int li, int x) {
  const Layer *l = &lw->p->g->layer[li];
  int w = weight_copy(lw, li, &l->param[0], arena_printf(lw->a, "%s_weight", l->cname));
  int b = l->bias ? weight_copy(lw, li, &l->param[1], arena_printf(lw->a, "%s_bias", l->cname)) : -1;
  int y = add_value(lw, V_TRANSIENT, li, l->out, arena_printf(lw->a, "%s_out", l->cname));
  add_call(lw, K_GEMV, li, -1, (int[]){y, w, b, x}, 4, l->out, (int)lw->p->v[x].size, 0);
  return y;
}

static int lower_pointwise(Lowering *lw, int li, int x, KernelOp op) {
  const Layer *l = &lw->p->g->layer[li];
  /* In place when x is a transient nobody reads later (a chain: nobody). */
  int y = x;
  if (lw->p->v[x].kind != V_TRANSIENT)
    y = add_value(lw, V_TRANSIENT, li, lw->p->v[x].size, arena_printf(lw->a, "%s_out", l->cname));
  add_call(lw, op, li, -1, (int[]){y, x}, 2, (int)lw->p->v[x].size, 0, 0);
  return y;
}

static int lower_lstm(Lowering *lw, int li, int x) {
  const Layer *l = &lw->p->g->layer[li];
  Arena *a = lw->a;
  int H = l->hidden;
  for (int k = 0; k < l->stack; k++) {
    const Param *wih = param(l, "weight_ih", k), *whh = param(l, "weight_hh", k);
    const Param *bih = param(l, "bias_ih", k), *bhh = param(l, "bias_hh", k);
    int in = wih->shape.dim[1];
    int w = add_value(lw, V_WEIGHT, li, (int64_t)4 * H * (in + H),
                      arena_printf(a, "%s_l%d_weight", l->cname, k));
    int b = add_value(lw, V_WEIGHT, li, 4 * H, arena_printf(a, "%s_l%d_bias", l->cname, k));
    if (wih->data) {
      float *wd = weight_data(lw, w), *bd = weight_data(lw, b);
      for (int r = 0; r < 4 * H; r++) {
        memcpy(wd + (size_t)r * (in + H), wih->data + (size_t)r * in, (size_t)in * 4);
        memcpy(wd + (size_t)r * (in + H) + in, whh->data + (size_t)r * H, (size_t)H * 4);
        bd[r] = bih->data[r] + bhh->data[r];
      }
    }
    int h = add_value(lw, V_STATE, li, H, arena_printf(a, "%s_h%d", l->cname, k));
    int c = add_value(lw, V_STATE, li, H, arena_printf(a, "%s_c%d", l->cname, k));
    int gates = add_value(lw, V_TRANSIENT, li, 4 * H, arena_printf(a, "%s_gates%d", l->cname, k));
    add_call(lw, K_GEMV_CAT2, li, k, (int[]){gates, w, b, x, h}, 5, 4 * H, in, H);
    if (l->peephole == PEEPHOLE_DIAGONAL) {
      int ci = weight_copy(lw, li, param(l, "weight_ci", k), arena_printf(a, "%s_l%d_ci", l->cname, k));
      int cf = weight_copy(lw, li, param(l, "weight_cf", k), arena_printf(a, "%s_l%d_cf", l->cname, k));
      int co = weight_copy(lw, li, param(l, "weight_co", k), arena_printf(a, "%s_l%d_co", l->cname, k));
      add_call(lw, K_LSTM_PEEPHOLE_CELL, li, k, (int[]){h, c, gates, ci, cf, co}, 6, H, 0, 0);
    } else {
      add_call(lw, K_LSTM_CELL, li, k, (int[]){h, c, gates}, 3, H, 0, 0);
    }
    x = h;
  }
  return x;
}

static int lower_gru(Lowering *lw, int li, int x) {
  const Layer *l = &lw->p->g->layer[li];
  Arena *a = lw->a;
  int H = l->hidden;
  for (int k = 0; k < l->stack; k++) {
    const Param *wih = param(l, "weight_ih", k);
    int in = wih->shape.dim[1];
    int w_i = weight_copy(lw, li, wih, arena_printf(a, "%s_l%d_weight_ih", l->cname, k));
    int b_i = weight_copy(lw, li, param(l, "bias_ih", k), arena_printf(a, "%s_l%d_bias_ih", l->cname, k));
    int w_h = weight_copy(lw, li, param(l, "weight_hh", k), arena_printf(a, "%s_l%d_weight_hh", l->cname, k));
    int b_h = weight_copy(lw, li, param(l, "bias_hh", k), arena_printf(a, "%s_l%d_bias_hh", l->cname, k));
    int h = add_value(lw, V_STATE, li, H, arena_printf(a, "%s_h%d", l->cname, k));
    int gi = add_value(lw, V_TRANSIENT, li, 3 * H, arena_printf(a, "%s_gi%d", l->cname, k));
    int gh = add_value(lw, V_TRANSIENT, li, 3 * H, arena_printf(a, "%s_gh%d", l->cname, k));
    add_call(lw, K_GEMV, li, k, (int[]){gi, w_i, b_i, x}, 4, 3 * H, in, 0);
    add_call(lw, K_GEMV, li, k, (int[]){gh, w_h, b_h, h}, 4, 3 * H, H, 0);
    add_call(lw, K_GRU_CELL, li, k, (int[]){h, gi, gh}, 3, H, 0, 0);
    x = h;
  }
  return x;
}

/* Value names become C identifiers (state fields, upper-cased weight
 * macros), so two layers must not map to one: 'head' and 'HEAD', or a
 * linear 'x_l0' beside an lstm 'x'.  A clash gets the value's index. */
static void unique_names(Arena *a, Program *p) {
  for (int i = 0; i < p->nv; i++)
    for (int j = 0; j < i; j++)
      if (strcasecmp(p->v[i].name, p->v[j].name) == 0) {
        p->v[i].name = arena_printf(a, "%s_%d", p->v[i].name, i);
        j = -1; /* the new name may clash too: check again */
      }
}

/* Lifetimes: a value lives from the call that first touches it to the
 * call that last does; the model output lives to the end of the step. */
static void fill_lifetimes(Program *p) {
  for (int c = 0; c < p->nc; c++)
    for (int i = 0; i < MAX_ARGS; i++) {
      int v = p->call[c].arg[i];
      if (v < 0)
        continue;
      if (p->v[v].first < 0)
        p->v[v].first = c;
      p->v[v].last = c;
    }
  p->v[p->out_value].last = p->nc;
}

Program *lower(Arena *a, const Graph *g) {
  Program *p = arena_alloc(a, sizeof *p);
  p->g = g;
  Lowering lw = {a, p, 0};
  int x = add_value(&lw, V_INPUT, -1, shape_elems(g->input), "in");
  for (int i = 0; i < g->n_layer; i++) {
    switch (g->layer[i].op) {
    case OP_LINEAR:
      x = lower_linear(&lw, i, x);
      break;
    case OP_RELU:
      x = lower_pointwise(&lw, i, x, K_RELU);
      break;
    case OP_SIGMOID:
      x = lower_pointwise(&lw, i, x, K_SIGMOID);
      break;
    case OP_TANH:
      x = lower_pointwise(&lw, i, x, K_TANH);
      break;
    case OP_SOFTMAX:
      x = lower_pointwise(&lw, i, x, K_SOFTMAX);
      break;
    case OP_DROPOUT: /* identity at inference */
      break;
    case OP_LSTM:
      x = lower_lstm(&lw, i, x);
      break;
    case OP_GRU:
      x = lower_gru(&lw, i, x);
      break;
    default:
      break;
    }
  }
  p->out_value = x;
  p->weight_floats = lw.weight_pos;
  unique_names(a, p);
  fill_lifetimes(p);
  return p;
}
