/* Lowering: spec layers into a flat Program of kernel calls over values.
 * Recurrent cells become one gate matmul or conv plus fused gate math; the
 * weights are packed here into the order the kernels read them:
 *   lstm:     rows of [W_ih | W_hh] with b_ih + b_hh (one pass per step)
 *   gru:      W_ih and W_hh apart, biases apart (b_hn sits inside r (.) ...)
 *   convlstm: gate blocks reordered [i f o g] -> [i f g o] so the LSTM cell
 *             kernel serves both; channel peepholes spread over the plane
 *   conv2d:   a batch norm after it folded into weights and bias
 * Arguments per kernel (value indices):
 *   GEMV       y W b x              dim: rows cols
 *   GEMV_CAT2  y W b x0 x1          dim: rows n0 n1
 *   pointwise  y x                  dim: n
 *   LSTM_CELL  h c gates            dim: n
 *   LSTM_PEEPHOLE_CELL h c gates wci wcf wco
 *   GRU_CELL   h gi gh              dim: n
 *   CONV2D     y W b x0 x1          geom
 *   MAXPOOL, AVGPOOL  y x           geom;  GLOBAL_AVGPOOL y x  dim: c hw
 *   CHANNEL_AFFINE  y x scale shift dim: c hw
 *   ADD2       y a b                dim: n
 *   COPY       y x                  dim: n, offset into y
 *   PIXEL_(UN)SHUFFLE y x           dim: c h w r (output c; h w of the smaller side)
 *   CONVGRU_RESET  rh gates h       dim: n;   CONVGRU_UPDATE h gates cand  dim: n
 *   WINDOW_PUSH ring x              dim: size n  (a ring of the last n frames)
 *   WINDOW_GATHER, _MAX, _MEAN  y ring   dim: size n
 *   ATTN_DOT   e keys q             attn;   ATTN_ADDITIVE e keys hq wx bx v  attn, dim: hidden
 *   ATTN_APPLY out weights e values attn
 *   TPOOL_FOLD acc x, TPOOL_READ y acc, TPOOL_FIRST y x   dim: size mode count
 * With --target avx2 (runtime/avx2/ has the layouts, pack.c makes them):
 *   GEMV       weights in panels of 8 rows, bias padded to 8
 *   LSTM_STEP  h c scratch W b x [wci wcf wco]   dim: nx hidden   (a dense layer step)
 *   GRU_STEP   h scratch W b x                   dim: nx hidden
 *   CONV2D     y W b x0 x1 scratch  (one group, kernel sides up to 16;
 *              weights [out_c/6][in_c][kh][kw][6]; other convs stay generic)
 *   CONV2D_WINOGRAD  the same arguments, for 3x3 stride-1 convs with enough
 *              channels; weights G g G^T, [out_c/6][16][in_c][6]
 */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "reel.h"

const char *const kernel_name[K_COUNT] = {
    "gemv", "gemv_cat2", "relu", "relu6", "leaky_relu", "sigmoid", "tanh", "softmax",
    "lstm_cell", "lstm_peephole_cell", "gru_cell", "conv2d", "maxpool", "avgpool",
    "global_avgpool", "channel_affine", "add2", "copy", "pixel_shuffle", "pixel_unshuffle",
    "convgru_reset", "convgru_update", "lstm_step", "gru_step", "window_push", "window_gather",
    "window_max", "window_mean", "attention_dot", "attention_additive", "attention_apply",
    "tpool_fold", "tpool_read", "tpool_first", "conv2d_winograd",
};

typedef struct {
  int call, arg, layer;
} Fixup; /* an argument that is a recurrent layer's h, lowered after the call */

typedef struct {
  Arena *a;
  Program *p;
  const Graph *g;
  int64_t weight_pos;
  int *out;  /* per layer: the value holding its output */
  int *ring; /* per layer: the value holding its window, or -1 */
  bool avx2;
  Guard guard; /* stamped on new calls */
  int gate;
  int feedback; /* the forecast's fed-back frame, or -1 */
  Fixup *fixup;
  int n_fixup;
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

static Call *add_call(Lowering *lw, KernelOp op, int layer, int sublayer, const int *arg, int nargs) {
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
  *c = (Call){.op = op, .layer = layer, .sublayer = sublayer, .guard = lw->guard, .gate = lw->gate};
  for (int i = 0; i < MAX_ARGS; i++)
    c->arg[i] = i < nargs ? arg[i] : -1;
  return c;
}

static void dims(Call *c, int d0, int d1, int d2, int d3) {
  c->dim[0] = d0, c->dim[1] = d1, c->dim[2] = d2, c->dim[3] = d3;
}

/* A weight value's data, allocated when weights are bound (NULL for
 * check and info, which only need sizes). */
static float *weight_data(Lowering *lw, int v, bool bound) {
  if (!bound)
    return NULL;
  float *data = arena_alloc(lw->a, (size_t)lw->p->v[v].size * sizeof *data);
  lw->p->v[v].data = data;
  return data;
}

static int weight_copy(Lowering *lw, int layer, const Param *param, const char *name) {
  int v = add_value(lw, V_WEIGHT, layer, shape_elems(param->shape), name);
  float *d = weight_data(lw, v, param->data != NULL);
  if (d)
    memcpy(d, param->data, (size_t)lw->p->v[v].size * sizeof(float));
  return v;
}

static const char *vname(Lowering *lw, const Layer *l, const char *what, int k) {
  return k < 0 ? arena_printf(lw->a, "%s_%s", l->cname, what)
               : arena_printf(lw->a, "%s_%s%d", l->cname, what, k);
}

/* The value layer i's readers see; -1 is the model input (value 0), or in
 * a forecast chain the frame fed back. */
static int input_value(Lowering *lw, const Layer *l, int k) {
  if (l->input[k] < 0)
    return l->phase == PHASE_FORECAST ? lw->feedback : 0;
  return lw->out[l->input[k]];
}

static bool is_alias(const Layer *l) {
  return l->op == OP_DROPOUT || l->op == OP_FLATTEN || l->fused_into >= 0;
}

/* True when layer i's output may be overwritten by its one reader: nobody
 * else reads it, through any chain of aliases (flatten, dropout, fused). */
static bool exclusive(const Graph *g, int i) {
  for (; i >= 0; i = g->layer[i].input[0]) {
    if (g->layer[i].consumers != 1)
      return false;
    if (!is_alias(&g->layer[i]))
      return true;
  }
  return false;
}

static int lower_pointwise(Lowering *lw, int li, KernelOp op) {
  const Layer *l = &lw->g->layer[li];
  int x = input_value(lw, l, 0);
  int y = lw->p->v[x].kind == V_TRANSIENT && exclusive(lw->g, l->input[0])
              ? x : add_value(lw, V_TRANSIENT, li, lw->p->v[x].size, vname(lw, l, "out", -1));
  Call *c = add_call(lw, op, li, -1, (int[]){y, x}, 2);
  dims(c, (int)lw->p->v[x].size, 0, 0, 0);
  c->slope = (float)l->slope;
  c->avx2 = lw->avx2 && (op == K_RELU || op == K_SIGMOID || op == K_TANH);
  return y;
}

/* y = W x (+ b) for parameters w, b (b may be NULL) named NAME_weight,
 * NAME_bias; AVX2 stores W in panels of 8 rows, b padded to them. */
static Call *gemv_call(Lowering *lw, int li, const char *name, const Param *w, const Param *b,
                       int y, int x) {
  int rows = w->shape.dim[0], cols = w->shape.dim[1], wv, bv = -1;
  const char *wname = arena_printf(lw->a, "%s_weight", name), *bname = arena_printf(lw->a, "%s_bias", name);
  if (lw->avx2) {
    wv = add_value(lw, V_WEIGHT, li, round8(rows) * cols, wname);
    float *wd = weight_data(lw, wv, w->data);
    if (wd)
      pack_panels8(wd, w->data, rows, cols);
    if (b) {
      bv = add_value(lw, V_WEIGHT, li, round8(rows), bname);
      float *bd = weight_data(lw, bv, b->data);
      if (bd)
        memcpy(bd, b->data, (size_t)rows * sizeof *bd);
    }
  } else {
    wv = weight_copy(lw, li, w, wname);
    bv = b ? weight_copy(lw, li, b, bname) : -1;
  }
  Call *c = add_call(lw, K_GEMV, li, -1, (int[]){y, wv, bv, x}, 4);
  dims(c, rows, cols, 0, 0);
  c->avx2 = lw->avx2;
  return c;
}

/* The activation fused into layer l (fuse.c), and its slope. */
static Act fused_act(const Lowering *lw, const Layer *l, float *slope) {
  const Layer *a = l->fused_act >= 0 ? &lw->g->layer[l->fused_act] : NULL;
  *slope = a ? (float)a->slope : 0.0f;
  if (!a)
    return ACT_NONE;
  switch (a->op) {
  case OP_RELU: return ACT_RELU;
  case OP_RELU6: return ACT_RELU6;
  case OP_LEAKY_RELU: return ACT_LEAKY_RELU;
  case OP_SIGMOID: return ACT_SIGMOID;
  default: return ACT_TANH;
  }
}

static int lower_linear(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int y = add_value(lw, V_TRANSIENT, li, l->out, vname(lw, l, "out", -1));
  Call *c = gemv_call(lw, li, l->cname, &l->param[0], l->bias ? &l->param[1] : NULL, y,
                      input_value(lw, l, 0));
  c->act = fused_act(lw, l, &c->slope);
  return y;
}

/* h and c (c < 0 for a GRU) per stacked layer, in the context. */
static void recurrent_states(Lowering *lw, int li, int *h, int *c) {
  const Layer *l = &lw->g->layer[li];
  for (int k = 0; k < l->stack; k++) {
    h[k] = add_value(lw, V_STATE, li, l->hidden[k], vname(lw, l, "h", k));
    c[k] = l->op == OP_LSTM ? add_value(lw, V_STATE, li, l->hidden[k], vname(lw, l, "c", k)) : -1;
  }
}

static int state_value(Lowering *lw, int li, const char *what, int k);

/* The first state of an lstm or gru: the forecast prologue copies the
 * encoder's (init_state); init_from computes it on the first frame. */
static void initial_state(Lowering *lw, int li, const int *h, const int *c) {
  const Layer *l = &lw->g->layer[li];
  if (l->init_state >= 0) {
    for (int k = 0; k < l->stack; k++) {
      int n = l->hidden[k];
      dims(add_call(lw, K_COPY, li, k, (int[]){h[k], state_value(lw, l->init_state, "h", k)}, 2), n, 0, 0, 0);
      if (c[k] >= 0)
        dims(add_call(lw, K_COPY, li, k, (int[]){c[k], state_value(lw, l->init_state, "c", k)}, 2), n, 0, 0, 0);
    }
    lw->p->prologue_end = lw->p->nc;
  }
  if (l->init_from < 0)
    return;
  const Layer *f = &lw->g->layer[l->init_from];
  Guard saved = lw->guard;
  lw->guard = G_FIRST_FRAME;
  int m = lw->out[l->init_from], H = l->hidden[0];
  if (f->out_shape.rank == 3) { /* the mean over the map's positions */
    int d = f->out_shape.dim[0];
    int mean = add_value(lw, V_TRANSIENT, li, d, vname(lw, l, "init_mean", -1));
    dims(add_call(lw, K_GLOBAL_AVGPOOL, li, -1, (int[]){mean, m}, 2), d,
         f->out_shape.dim[1] * f->out_shape.dim[2], 0, 0);
    m = mean;
  }
  static const char *const what[2] = {"init_h", "init_c"};
  for (int q = 0; q < 2; q++) {
    int s = q == 0 ? h[0] : c[0];
    gemv_call(lw, li, vname(lw, l, what[q], -1), find_param(l, arena_printf(lw->a, "%s.weight", what[q]), 0),
              find_param(l, arena_printf(lw->a, "%s.bias", what[q]), 0), s, m);
    Call *t = add_call(lw, K_TANH, li, -1, (int[]){s, s}, 2);
    dims(t, H, 0, 0, 0);
    t->avx2 = lw->avx2;
  }
  lw->guard = saved;
}

/* AVX2: each stacked layer is one fused step over packed [W_ih | W_hh]. */
static int lower_lstm_avx2(Lowering *lw, int li, const int *h, const int *c) {
  const Layer *l = &lw->g->layer[li];
  int H = l->hidden[0], x = input_value(lw, l, 0), blocks = (H + 7) / 8;
  for (int k = 0; k < l->stack; k++) {
    const Param *wih = find_param(l, "weight_ih_l%d", k);
    int in = wih->shape.dim[1];
    int w = add_value(lw, V_WEIGHT, li, (int64_t)blocks * 32 * (in + H), vname(lw, l, "weight_l", k));
    int b = add_value(lw, V_WEIGHT, li, (int64_t)blocks * 32, vname(lw, l, "bias_l", k));
    float *wd = weight_data(lw, w, wih->data), *bd = weight_data(lw, b, wih->data);
    if (wd)
      pack_lstm(wd, bd, wih->data, find_param(l, "weight_hh_l%d", k)->data,
                find_param(l, "bias_ih_l%d", k)->data, find_param(l, "bias_hh_l%d", k)->data, in, H);
    int scratch = add_value(lw, V_TRANSIENT, li, H, vname(lw, l, "h_new", k));
    int args[9] = {h[k], c[k], scratch, w, b, x, -1, -1, -1};
    if (l->peephole == PEEPHOLE_DIAGONAL) {
      args[6] = weight_copy(lw, li, find_param(l, "weight_ci_l%d", k), vname(lw, l, "ci_l", k));
      args[7] = weight_copy(lw, li, find_param(l, "weight_cf_l%d", k), vname(lw, l, "cf_l", k));
      args[8] = weight_copy(lw, li, find_param(l, "weight_co_l%d", k), vname(lw, l, "co_l", k));
    }
    Call *call = add_call(lw, K_LSTM_STEP, li, k, args, 9);
    dims(call, in, H, 0, 0);
    call->avx2 = true;
    x = h[k];
  }
  return x;
}

static int lower_gru_avx2(Lowering *lw, int li, const int *h) {
  const Layer *l = &lw->g->layer[li];
  int H = l->hidden[0], x = input_value(lw, l, 0), blocks = (H + 7) / 8;
  for (int k = 0; k < l->stack; k++) {
    const Param *wih = find_param(l, "weight_ih_l%d", k);
    int in = wih->shape.dim[1];
    int w = add_value(lw, V_WEIGHT, li, (int64_t)blocks * 24 * (in + H), vname(lw, l, "weight_l", k));
    int b = add_value(lw, V_WEIGHT, li, (int64_t)blocks * 32, vname(lw, l, "bias_l", k));
    float *wd = weight_data(lw, w, wih->data), *bd = weight_data(lw, b, wih->data);
    if (wd)
      pack_gru(wd, bd, wih->data, find_param(l, "weight_hh_l%d", k)->data,
               find_param(l, "bias_ih_l%d", k)->data, find_param(l, "bias_hh_l%d", k)->data, in, H);
    int scratch = add_value(lw, V_TRANSIENT, li, H, vname(lw, l, "h_new", k));
    Call *call = add_call(lw, K_GRU_STEP, li, k, (int[]){h[k], scratch, w, b, x}, 5);
    dims(call, in, H, 0, 0);
    call->avx2 = true;
    x = h[k];
  }
  return x;
}

static int lower_lstm(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int H = l->hidden[0], x = input_value(lw, l, 0), h[MAX_STACK], c[MAX_STACK];
  recurrent_states(lw, li, h, c);
  initial_state(lw, li, h, c);
  if (lw->avx2)
    return lower_lstm_avx2(lw, li, h, c);
  for (int k = 0; k < l->stack; k++) {
    const Param *wih = find_param(l, "weight_ih_l%d", k), *whh = find_param(l, "weight_hh_l%d", k);
    const Param *bih = find_param(l, "bias_ih_l%d", k), *bhh = find_param(l, "bias_hh_l%d", k);
    int in = wih->shape.dim[1];
    int w = add_value(lw, V_WEIGHT, li, (int64_t)4 * H * (in + H), vname(lw, l, "weight_l", k));
    int b = add_value(lw, V_WEIGHT, li, (int64_t)4 * H, vname(lw, l, "bias_l", k));
    float *wd = weight_data(lw, w, wih->data), *bd = weight_data(lw, b, wih->data);
    for (int r = 0; wd && r < 4 * H; r++) {
      memcpy(wd + (size_t)r * (in + H), wih->data + (size_t)r * in, (size_t)in * 4);
      memcpy(wd + (size_t)r * (in + H) + in, whh->data + (size_t)r * H, (size_t)H * 4);
      bd[r] = bih->data[r] + bhh->data[r];
    }
    int gates = add_value(lw, V_TRANSIENT, li, (int64_t)4 * H, vname(lw, l, "gates", k));
    dims(add_call(lw, K_GEMV_CAT2, li, k, (int[]){gates, w, b, x, h[k]}, 5), 4 * H, in, H, 0);
    if (l->peephole == PEEPHOLE_DIAGONAL) {
      int ci = weight_copy(lw, li, find_param(l, "weight_ci_l%d", k), vname(lw, l, "ci_l", k));
      int cf = weight_copy(lw, li, find_param(l, "weight_cf_l%d", k), vname(lw, l, "cf_l", k));
      int co = weight_copy(lw, li, find_param(l, "weight_co_l%d", k), vname(lw, l, "co_l", k));
      dims(add_call(lw, K_LSTM_PEEPHOLE_CELL, li, k, (int[]){h[k], c[k], gates, ci, cf, co}, 6), H, 0, 0, 0);
    } else {
      dims(add_call(lw, K_LSTM_CELL, li, k, (int[]){h[k], c[k], gates}, 3), H, 0, 0, 0);
    }
    x = h[k];
  }
  return x;
}

static int lower_gru(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int H = l->hidden[0], x = input_value(lw, l, 0), h[MAX_STACK], c[MAX_STACK];
  recurrent_states(lw, li, h, c);
  initial_state(lw, li, h, c);
  if (lw->avx2)
    return lower_gru_avx2(lw, li, h);
  for (int k = 0; k < l->stack; k++) {
    const Param *wih = find_param(l, "weight_ih_l%d", k);
    int in = wih->shape.dim[1];
    int w_i = weight_copy(lw, li, wih, vname(lw, l, "weight_ih_l", k));
    int b_i = weight_copy(lw, li, find_param(l, "bias_ih_l%d", k), vname(lw, l, "bias_ih_l", k));
    int w_h = weight_copy(lw, li, find_param(l, "weight_hh_l%d", k), vname(lw, l, "weight_hh_l", k));
    int b_h = weight_copy(lw, li, find_param(l, "bias_hh_l%d", k), vname(lw, l, "bias_hh_l", k));
    int gi = add_value(lw, V_TRANSIENT, li, (int64_t)3 * H, vname(lw, l, "gi", k));
    int gh = add_value(lw, V_TRANSIENT, li, (int64_t)3 * H, vname(lw, l, "gh", k));
    dims(add_call(lw, K_GEMV, li, k, (int[]){gi, w_i, b_i, x}, 4), 3 * H, in, 0, 0);
    dims(add_call(lw, K_GEMV, li, k, (int[]){gh, w_h, b_h, h[k]}, 4), 3 * H, H, 0, 0);
    dims(add_call(lw, K_GRU_CELL, li, k, (int[]){h[k], gi, gh}, 3), H, 0, 0, 0);
    x = h[k];
  }
  return x;
}

/* The geometry of a same-size conv over [x; h] with an odd kernel. */
static Geom cell_geom(int in_c0, int in_c1, int rows, int cols, int out_c, int k) {
  Geom g = {.in_c0 = in_c0, .in_c1 = in_c1, .in_h = rows, .in_w = cols, .out_c = out_c,
            .out_h = rows, .out_w = cols, .groups = 1};
  g.win = (Window){.kh = k, .kw = k, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pad_top = k / 2,
                   .pad_bottom = k / 2, .pad_left = k / 2, .pad_right = k / 2};
  return g;
}

static bool conv_fits_avx2(const Geom *g) {
  return g->groups <= 1 && g->win.kh <= CONV_AVX2_MAX_K && g->win.kw <= CONV_AVX2_MAX_K;
}

/* 3x3 convs with enough channels on both sides run as Winograd
 * F(2x2, 3x3) (reel_conv_winograd_avx2.c): 2.25x fewer FMAs, for input
 * and output transforms whose cost per FMA saved falls as channels grow. */
static bool conv_fits_winograd(const Geom *g) {
  const Window *w = &g->win;
  return w->kh == 3 && w->kw == 3 && w->sh == 1 && w->sw == 1 && w->dh == 1 && w->dw == 1 &&
         g->groups <= 1 && !g->accumulate && g->in_c0 + g->in_c1 >= WINOGRAD_MIN_IN_C &&
         g->out_c >= WINOGRAD_MIN_OUT_C;
}

/* A conv call y (+)= conv([x0; x1]) + b, its weights given in PyTorch's
 * layout (NULL when unbound) and stored as the chosen kernel reads them. */
static Call *conv_call(Lowering *lw, int li, int sub, const char *wname, const float *wt, int b,
                       int y, int x0, int x1, Geom geom) {
  int groups = geom.groups ? geom.groups : 1, in_c = geom.in_c0 + geom.in_c1;
  int64_t taps = (int64_t)in_c / groups * geom.win.kh * geom.win.kw;
  bool avx2 = lw->avx2 && conv_fits_avx2(&geom), wino = avx2 && conv_fits_winograd(&geom);
  int64_t blocks = (int64_t)(geom.out_c + CONV_OC_BLOCK - 1) / CONV_OC_BLOCK * CONV_OC_BLOCK;
  int64_t size = wino ? blocks * 16 * in_c : avx2 ? blocks * taps : geom.out_c * taps;
  int w = add_value(lw, V_WEIGHT, li, size, wname);
  float *wd = weight_data(lw, w, wt != NULL);
  if (wd && wino)
    pack_conv_winograd(wd, wt, geom.out_c, in_c);
  else if (wd && avx2)
    pack_conv_avx2(wd, wt, geom.out_c, in_c, geom.win.kh, geom.win.kw);
  else if (wd)
    memcpy(wd, wt, (size_t)size * sizeof *wd);
  int scratch = -1;
  if (avx2) /* the zero-bordered input, and Winograd's transforms */
    scratch = add_value(lw, V_TRANSIENT, li, wino ? conv_scratch_winograd(&geom) : conv_scratch_avx2(&geom),
                        arena_printf(lw->a, "%s_padded", wname));
  Call *c = add_call(lw, wino ? K_CONV2D_WINOGRAD : K_CONV2D, li, sub,
                     (int[]){y, w, b, x0, x1, scratch}, 6);
  c->geom = geom;
  c->avx2 = avx2;
  return c;
}

static int lower_conv2d(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  const Layer *bn = l->fused_bn >= 0 ? &lw->g->layer[l->fused_bn] : NULL;
  int x = input_value(lw, l, 0);
  int out_c = l->out, per_out = (int)(shape_elems(l->param[0].shape) / out_c);
  int b = l->bias || bn ? add_value(lw, V_WEIGHT, li, out_c, vname(lw, l, "bias", -1)) : -1;
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
  }
  int y = add_value(lw, V_TRANSIENT, li, shape_elems(l->out_shape), vname(lw, l, "out", -1));
  Geom geom = {.in_c0 = l->in_shape.dim[0], .in_h = l->in_shape.dim[1], .in_w = l->in_shape.dim[2],
               .out_c = out_c, .out_h = l->out_shape.dim[1], .out_w = l->out_shape.dim[2],
               .win = l->win, .groups = l->groups};
  geom.act = fused_act(lw, l, &geom.slope);
  conv_call(lw, li, -1, vname(lw, l, "weight", -1), wt, b, y, x, -1, geom);
  return y;
}

static int lower_pool(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int x = input_value(lw, l, 0);
  int y = add_value(lw, V_TRANSIENT, li, shape_elems(l->out_shape), vname(lw, l, "out", -1));
  Call *c = add_call(lw, l->op == OP_MAXPOOL ? K_MAXPOOL : K_AVGPOOL, li, -1, (int[]){y, x}, 2);
  c->geom = (Geom){.in_c0 = l->in_shape.dim[0], .in_h = l->in_shape.dim[1], .in_w = l->in_shape.dim[2],
                   .out_c = l->in_shape.dim[0], .out_h = l->out_shape.dim[1],
                   .out_w = l->out_shape.dim[2], .win = l->win};
  c->avx2 = lw->avx2 && c->op == K_MAXPOOL && l->win.kw <= MAXPOOL_AVX2_MAX_K;
  return y;
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
  int y = lw->p->v[x].kind == V_TRANSIENT && exclusive(lw->g, l->input[0])
              ? x : add_value(lw, V_TRANSIENT, li, lw->p->v[x].size, vname(lw, l, "out", -1));
  dims(add_call(lw, K_CHANNEL_AFFINE, li, -1, (int[]){y, x, scale, shift}, 4), c, hw, 0, 0);
  return y;
}

static int lower_add(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int a = input_value(lw, l, 0), n = (int)shape_elems(l->out_shape);
  int y = lw->p->v[a].kind == V_TRANSIENT && exclusive(lw->g, l->input[0])
              ? a : add_value(lw, V_TRANSIENT, li, n, vname(lw, l, "out", -1));
  for (int k = 1; k < l->n_input; k++, a = y)
    dims(add_call(lw, K_ADD2, li, -1, (int[]){y, a, input_value(lw, l, k)}, 3), n, 0, 0, 0);
  return y;
}

static int lower_concat(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int y = add_value(lw, V_TRANSIENT, li, shape_elems(l->out_shape), vname(lw, l, "out", -1));
  int64_t offset = 0;
  for (int k = 0; k < l->n_input; k++) {
    int x = input_value(lw, l, k);
    dims(add_call(lw, K_COPY, li, -1, (int[]){y, x}, 2), (int)lw->p->v[x].size, (int)offset, 0, 0);
    offset += lw->p->v[x].size;
  }
  return y;
}

static int lower_pixel(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int x = input_value(lw, l, 0);
  int y = add_value(lw, V_TRANSIENT, li, shape_elems(l->out_shape), vname(lw, l, "out", -1));
  bool up = l->op == OP_PIXEL_SHUFFLE;
  const Shape *small = up ? &l->in_shape : &l->out_shape;
  int c = up ? l->out_shape.dim[0] : l->in_shape.dim[0];
  dims(add_call(lw, up ? K_PIXEL_SHUFFLE : K_PIXEL_UNSHUFFLE, li, -1, (int[]){y, x}, 2), c,
       small->dim[1], small->dim[2], l->factor);
  return y;
}

/* Gate blocks [i f o g] (ConvLSTM_pytorch) -> [i f g o] (the LSTM cell kernel). */
static int convlstm_block(int b) { return b == 2 ? 3 : b == 3 ? 2 : b; }

/* The state value NAME of layer li (an encoder, for init_state). */
static int state_value(Lowering *lw, int li, const char *what, int k) {
  const char *name = vname(lw, &lw->g->layer[li], what, k);
  for (int v = 0; v < lw->p->nv; v++)
    if (lw->p->v[v].layer == li && lw->p->v[v].kind == V_STATE && strcmp(lw->p->v[v].name, name) == 0)
      return v;
  return -1; /* an encoder of equal stack (spec.c) always has it */
}

static int lower_convlstm(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int rows = l->in_shape.dim[1], cols = l->in_shape.dim[2], plane = rows * cols;
  int b[MAX_STACK], h[MAX_STACK], c[MAX_STACK], peep[MAX_STACK][3];
  const float *wt[MAX_STACK];
  for (int s = 0; s < l->stack; s++) {
    int H = l->hidden[s], n = H * plane;
    const Param *wp = find_param(l, "cell_list.%d.conv.weight", s);
    const Param *bp = find_param(l, "cell_list.%d.conv.bias", s);
    int64_t per_out = shape_elems(wp->shape) / ((int64_t)4 * H);
    wt[s] = NULL; /* PyTorch layout with gate blocks reordered; packed by conv_call */
    b[s] = add_value(lw, V_WEIGHT, li, (int64_t)4 * H, vname(lw, l, "bias_l", s));
    float *bd = weight_data(lw, b[s], wp->data);
    if (wp->data) {
      float *reordered = arena_alloc(lw->a, (size_t)(4 * (int64_t)H * per_out) * sizeof(float));
      wt[s] = reordered;
      for (int blk = 0; blk < 4; blk++) {
        int to = convlstm_block(blk);
        memcpy(reordered + (size_t)to * H * per_out, wp->data + (size_t)blk * H * per_out,
               (size_t)(H * per_out) * sizeof(float));
        memcpy(bd + (size_t)to * H, bp->data + (size_t)blk * H, (size_t)H * sizeof *bd);
      }
    }
    static const char *const peep_param[3] = {"cell_list.%d.weight_ci", "cell_list.%d.weight_cf",
                                              "cell_list.%d.weight_co"};
    static const char *const peep_name[3] = {"ci_l", "cf_l", "co_l"};
    for (int q = 0; l->peephole && q < 3; q++) {
      const Param *pp = find_param(l, peep_param[q], s);
      peep[s][q] = add_value(lw, V_WEIGHT, li, n, vname(lw, l, peep_name[q], s));
      float *pd = weight_data(lw, peep[s][q], pp->data);
      for (int i = 0; pd && i < n; i++) /* channel peepholes spread over the plane */
        pd[i] = l->peephole == PEEPHOLE_CHANNEL ? pp->data[i / plane] : pp->data[i];
    }
    h[s] = add_value(lw, V_STATE, li, n, vname(lw, l, "h", s));
    c[s] = add_value(lw, V_STATE, li, n, vname(lw, l, "c", s));
  }
  if (l->init_state >= 0) { /* the forecast prologue hands the encoder's state over */
    for (int s = 0; s < l->stack; s++) {
      int n = (int)lw->p->v[h[s]].size;
      dims(add_call(lw, K_COPY, li, s, (int[]){h[s], state_value(lw, l->init_state, "h", s)}, 2), n, 0, 0, 0);
      dims(add_call(lw, K_COPY, li, s, (int[]){c[s], state_value(lw, l->init_state, "c", s)}, 2), n, 0, 0, 0);
    }
    lw->p->prologue_end = lw->p->nc;
  }
  int x = l->n_input ? input_value(lw, l, 0) : -1, in_c = l->n_input ? l->in_shape.dim[0] : 0;
  for (int s = 0; s < l->stack; s++) {
    int H = l->hidden[s], n = H * plane;
    int gates = add_value(lw, V_TRANSIENT, li, (int64_t)4 * n, vname(lw, l, "gates", s));
    conv_call(lw, li, s, vname(lw, l, "weight_l", s), wt[s], b[s], gates, x, h[s],
              cell_geom(in_c, H, rows, cols, 4 * H, l->kernel));
    Call *cell = l->peephole
        ? add_call(lw, K_LSTM_PEEPHOLE_CELL, li, s, (int[]){h[s], c[s], gates, peep[s][0], peep[s][1], peep[s][2]}, 6)
        : add_call(lw, K_LSTM_CELL, li, s, (int[]){h[s], c[s], gates}, 3);
    dims(cell, n, 0, 0, 0);
    cell->avx2 = lw->avx2;
    x = h[s];
    in_c = H;
  }
  if (!l->concat_output)
    return x;
  int y = add_value(lw, V_TRANSIENT, li, shape_elems(l->out_shape), vname(lw, l, "out", -1));
  int64_t offset = 0;
  for (int s = 0; s < l->stack; s++) {
    dims(add_call(lw, K_COPY, li, s, (int[]){y, h[s]}, 2), (int)lw->p->v[h[s]].size, (int)offset, 0, 0);
    offset += lw->p->v[h[s]].size;
  }
  return y;
}

static int lower_convgru(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int rows = l->in_shape.dim[1], cols = l->in_shape.dim[2], k = l->kernel;
  int x = input_value(lw, l, 0), in_c = l->in_shape.dim[0], below = -1;
  int below_rows = rows, below_cols = cols;
  for (int s = 0; s < l->stack; s++) {
    int H = l->hidden[s];
    below_rows = rows, below_cols = cols;
    if (l->rcn && s > 0) {
      x = input_value(lw, l, s);
      in_c = lw->g->layer[l->input[s]].out_shape.dim[0];
      rows /= 2, cols /= 2;
    }
    int n = H * rows * cols;
    int bg = weight_copy(lw, li, find_param(l, "cell_list.%d.conv_gates.bias", s), vname(lw, l, "gates_bias_l", s));
    int bc = weight_copy(lw, li, find_param(l, "cell_list.%d.conv_can.bias", s), vname(lw, l, "can_bias_l", s));
    int h = add_value(lw, V_STATE, li, n, vname(lw, l, "h", s));
    int gates = add_value(lw, V_TRANSIENT, li, (int64_t)2 * n, vname(lw, l, "gates", s));
    conv_call(lw, li, s, vname(lw, l, "gates_weight_l", s),
              find_param(l, "cell_list.%d.conv_gates.weight", s)->data, bg, gates, x, h,
              cell_geom(in_c, H, rows, cols, 2 * H, k));
    Call *c;
    if (l->rcn && s > 0) { /* gates += conv_below(maxpool2x2(h of the layer below)) */
      int H0 = l->hidden[s - 1];
      int pooled = add_value(lw, V_TRANSIENT, li, (int64_t)H0 * rows * cols, vname(lw, l, "pooled", s));
      c = add_call(lw, K_MAXPOOL, li, s, (int[]){pooled, below}, 2);
      c->geom = (Geom){.in_c0 = H0, .in_h = below_rows, .in_w = below_cols, .out_c = H0,
                       .out_h = rows, .out_w = cols};
      c->geom.win = (Window){.kh = 2, .kw = 2, .sh = 2, .sw = 2, .dh = 1, .dw = 1};
      c->avx2 = lw->avx2;
      Geom below_geom = cell_geom(H0, 0, rows, cols, 2 * H, k);
      below_geom.accumulate = true;
      conv_call(lw, li, s, vname(lw, l, "below_weight_l", s),
                find_param(l, "cell_list.%d.conv_below.weight", s)->data, -1, gates, pooled, -1,
                below_geom);
    }
    int rh = add_value(lw, V_TRANSIENT, li, n, vname(lw, l, "rh", s));
    c = add_call(lw, K_CONVGRU_RESET, li, s, (int[]){rh, gates, h}, 3);
    dims(c, n, 0, 0, 0);
    c->avx2 = lw->avx2;
    int cand = add_value(lw, V_TRANSIENT, li, n, vname(lw, l, "cand", s));
    conv_call(lw, li, s, vname(lw, l, "can_weight_l", s),
              find_param(l, "cell_list.%d.conv_can.weight", s)->data, bc, cand, x, rh,
              cell_geom(in_c, H, rows, cols, H, k));
    c = add_call(lw, K_CONVGRU_UPDATE, li, s, (int[]){h, gates, cand}, 3);
    dims(c, n, 0, 0, 0);
    c->avx2 = lw->avx2;
    below = h;
    x = h;
    in_c = H;
  }
  return x;
}

/* Attention: scores over the keys, softmax, the weighted sum of the values.
 * Keys are a ring (a layer's window) or the positions of a [D, H, W] map. */
static int lower_attention(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int n = l->keys_n, dk = l->key_dim;
  int keys = l->keys_map ? input_value(lw, l, 0) : lw->ring[l->input[0]];
  int values = l->values < 0 ? keys : l->keys_map ? lw->out[l->values] : lw->ring[l->values];
  AttnGeom geom = {.n = n, .key_dim = dk, .value_dim = l->value_dim, .window = !l->keys_map,
                   .scale = l->scale ? (float)(1.0 / sqrt((double)dk)) : 1.0f};
  geom.key_step = l->keys_map ? 1 : dk;
  geom.key_stride = l->keys_map ? n : 1;
  geom.value_step = l->keys_map ? 1 : l->value_dim;
  geom.value_stride = l->keys_map ? n : 1;
  /* a later recurrent layer's h is lowered after this: fixed up in lower() */
  int q = l->query_prev ? -1 : lw->out[l->query];
  int e = add_value(lw, V_TRANSIENT, li, n, vname(lw, l, "scores", -1));
  Call *c;
  switch (l->score) {
  case SCORE_LOCATION:
    c = gemv_call(lw, li, l->cname, &l->param[0], &l->param[1], e, q);
    break;
  case SCORE_ADDITIVE: {
    int A = l->hidden[0];
    int hq = add_value(lw, V_TRANSIENT, li, A, vname(lw, l, "query", -1));
    c = gemv_call(lw, li, vname(lw, l, "w_h", -1), find_param(l, "w_h.weight", 0), NULL, hq, q);
    int wx = weight_copy(lw, li, find_param(l, "w_x.weight", 0), vname(lw, l, "w_x_weight", -1));
    int bx = weight_copy(lw, li, find_param(l, "w_x.bias", 0), vname(lw, l, "w_x_bias", -1));
    int v = weight_copy(lw, li, find_param(l, "v.weight", 0), vname(lw, l, "v_weight", -1));
    Call *s = add_call(lw, K_ATTN_ADDITIVE, li, -1, (int[]){e, keys, hq, wx, bx, v}, 6);
    s->attn = geom;
    s->dim[0] = A;
    break;
  }
  case SCORE_GENERAL: {
    int qp = add_value(lw, V_TRANSIENT, li, dk, vname(lw, l, "query", -1));
    c = gemv_call(lw, li, vname(lw, l, "w_q", -1), find_param(l, "w_q.weight", 0), NULL, qp, q);
    add_call(lw, K_ATTN_DOT, li, -1, (int[]){e, keys, qp}, 3)->attn = geom;
    break;
  }
  default:
    c = add_call(lw, K_ATTN_DOT, li, -1, (int[]){e, keys, q}, 3);
    c->attn = geom;
    break;
  }
  if (l->query_prev) { /* the query argument of the first call */
    Fixup *f = &lw->fixup[lw->n_fixup++];
    *f = (Fixup){(int)(c - lw->p->call), c->op == K_ATTN_DOT ? 2 : 3, l->query};
  }
  int weights = add_value(lw, V_STATE, li, n, vname(lw, l, "weights", -1));
  lw->p->v[weights].attention = l->phase == PHASE_STEP;
  int y = add_value(lw, V_TRANSIENT, li, l->value_dim, vname(lw, l, "out", -1));
  add_call(lw, K_ATTN_APPLY, li, -1, (int[]){y, weights, e, values}, 4)->attn = geom;
  return y;
}

/* A ring of layer li's last n inputs (or outputs) x, pushed every frame. */
static int window_ring(Lowering *lw, int li, int x, int n, const char *what) {
  int size = (int)lw->p->v[x].size;
  int ring = add_value(lw, V_STATE, li, (int64_t)size * n, vname(lw, &lw->g->layer[li], what, -1));
  Guard saved = lw->guard;
  lw->guard = G_ALWAYS;
  dims(add_call(lw, K_WINDOW_PUSH, li, -1, (int[]){ring, x}, 2), size, n, 0, 0);
  lw->guard = saved;
  return ring;
}

/* A windowed temporal_pool or a temporal_conv: a ring of the last w
 * frames, read when the window closes. */
static int lower_windowed(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int x = input_value(lw, l, 0), size = (int)lw->p->v[x].size, w = l->frames;
  int ring = window_ring(lw, li, x, w, "frames");
  if (l->op == OP_TEMPORAL_POOL) {
    int y = add_value(lw, V_TRANSIENT, li, size, vname(lw, l, "out", -1));
    dims(add_call(lw, l->tmode == TPOOL_MAX ? K_WINDOW_MAX : K_WINDOW_MEAN, li, -1, (int[]){y, ring}, 2),
         size, w, 0, 0);
    return y;
  }
  /* temporal_conv: the frames in time order as w C channels, one conv2d
   * with weights (out, C, w, kh, kw) permuted to (out, w, C, kh, kw) */
  int c = l->in_shape.dim[0], kk = l->win.kh * l->win.kw;
  int stacked = add_value(lw, V_TRANSIENT, li, (int64_t)size * w, vname(lw, l, "stacked", -1));
  dims(add_call(lw, K_WINDOW_GATHER, li, -1, (int[]){stacked, ring}, 2), size, w, 0, 0);
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
  int acc = add_value(lw, V_STATE, li, shape_elems(l->out_shape), vname(lw, l, "acc", -1));
  Call *c = add_call(lw, K_TPOOL_FOLD, li, -1, (int[]){acc, x}, 2);
  dims(c, size, l->tmode, l->count, 0);
  c->gate = l->gate; /* the count of values is that of closed windows */
  lw->out[li] = acc;
}

/* ... and per clip read: the pool's value; before its input's first window
 * closed, the frames so far as that window (the gated calls run again,
 * without folding). */
static int lower_clip_pool_read(Lowering *lw, int li, bool *rerun) {
  const Layer *l = &lw->g->layer[li];
  int x = input_value(lw, l, 0), size = (int)lw->p->v[x].size, acc = lw->out[li];
  int y = add_value(lw, V_TRANSIENT, li, shape_elems(l->out_shape), vname(lw, l, "out", -1));
  Call *c = add_call(lw, K_TPOOL_READ, li, -1, (int[]){y, acc}, 2);
  dims(c, size, l->tmode, l->count, 0);
  c->gate = l->gate;
  if (l->gate < 0)
    return y;
  lw->guard = G_PARTIAL;
  lw->gate = l->gate;
  if (!rerun[l->gate]) {
    rerun[l->gate] = true;
    for (int k = 0, end = lw->p->step_end; k < end; k++) {
      Call copy = lw->p->call[k];
      if (copy.guard == G_CLOSE && copy.gate == l->gate && copy.op != K_TPOOL_FOLD) {
        Call *again = add_call(lw, copy.op, copy.layer, copy.sublayer, copy.arg, MAX_ARGS);
        copy.guard = G_PARTIAL;
        *again = copy;
      }
    }
  }
  dims(add_call(lw, K_TPOOL_FIRST, li, -1, (int[]){y, x}, 2), size, l->tmode, l->count, 0);
  lw->guard = G_ALWAYS;
  lw->gate = -1;
  return y;
}

static int lower_layer(Lowering *lw, int i) {
  const Layer *l = &lw->g->layer[i];
  if (l->fused_into >= 0)
    return lw->out[l->fused_into];
  switch (l->op) {
  case OP_LINEAR: return lower_linear(lw, i);
  case OP_RELU: return lower_pointwise(lw, i, K_RELU);
  case OP_RELU6: return lower_pointwise(lw, i, K_RELU6);
  case OP_LEAKY_RELU: return lower_pointwise(lw, i, K_LEAKY_RELU);
  case OP_SIGMOID: return lower_pointwise(lw, i, K_SIGMOID);
  case OP_TANH: return lower_pointwise(lw, i, K_TANH);
  case OP_SOFTMAX: return lower_pointwise(lw, i, K_SOFTMAX);
  case OP_DROPOUT: /* identity at inference */
  case OP_FLATTEN: /* the same floats in the same order */
    return input_value(lw, l, 0);
  case OP_LSTM: return lower_lstm(lw, i);
  case OP_GRU: return lower_gru(lw, i);
  case OP_CONV2D: return lower_conv2d(lw, i);
  case OP_BATCHNORM: return lower_batchnorm(lw, i);
  case OP_MAXPOOL:
  case OP_AVGPOOL: return lower_pool(lw, i);
  case OP_GLOBAL_AVGPOOL: {
    int x = input_value(lw, l, 0), c = l->in_shape.dim[0];
    int y = add_value(lw, V_TRANSIENT, i, c, vname(lw, l, "out", -1));
    dims(add_call(lw, K_GLOBAL_AVGPOOL, i, -1, (int[]){y, x}, 2), c,
         l->in_shape.dim[1] * l->in_shape.dim[2], 0, 0);
    return y;
  }
  case OP_ADD: return lower_add(lw, i);
  case OP_CONCAT: return lower_concat(lw, i);
  case OP_PIXEL_SHUFFLE:
  case OP_PIXEL_UNSHUFFLE: return lower_pixel(lw, i);
  case OP_CONVLSTM: return lower_convlstm(lw, i);
  case OP_CONVGRU: return lower_convgru(lw, i);
  case OP_ATTENTION: return lower_attention(lw, i);
  case OP_TEMPORAL_CONV:
  case OP_TEMPORAL_POOL: return lower_windowed(lw, i); /* clip pools: lower() */
  default: return -1;
  }
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
 * call that last does; a phase's output lives to the end of its phase. */
static void fill_lifetimes(Program *p) {
  int ends[2] = {p->out_value, p->clip_value};
  for (int c = 0; c < p->nc; c++)
    for (int i = 0; i < MAX_ARGS; i++) {
      int v = p->call[c].arg[i];
      if (v < 0)
        continue;
      if (p->v[v].first < 0)
        p->v[v].first = c;
      p->v[v].last = c;
    }
  for (int k = 0; k < 2; k++) { /* read by the copy out at the end of step() or clip() */
    int v = ends[k], end = k == 0 ? p->step_end : p->nc;
    if (v < 0)
      continue;
    if (p->v[v].first < 0)
      p->v[v].first = end;
    p->v[v].last = end;
  }
  if (p->forecast_value >= 0)
    p->v[p->forecast_value].last = p->forecast_end;
}

/* The step phase: every layer that runs per frame or per window, in order
 * (a clip pool only folds its input in). */
static void lower_step(Lowering *lw) {
  const Graph *g = lw->g;
  if (g->feedback && g->forecast_steps) { /* the last frame, for the forecast to start from */
    int keep = add_value(lw, V_STATE, -1, shape_elems(g->input), "last_frame");
    dims(add_call(lw, K_COPY, -1, -1, (int[]){keep, 0}, 2), (int)shape_elems(g->input), 0, 0, 0);
    lw->feedback = keep;
  }
  for (int i = 0; i < g->n_step_layers; i++) {
    const Layer *l = &g->layer[i];
    lw->guard = l->rate == RATE_WINDOW ? G_CLOSE : G_ALWAYS;
    lw->gate = l->rate == RATE_WINDOW ? l->gate : -1;
    if (l->op == OP_TEMPORAL_POOL && l->rate == RATE_CLIP) {
      lw->guard = l->gate >= 0 ? G_CLOSE : G_ALWAYS;
      lw->gate = l->gate;
      lower_clip_pool_fold(lw, i);
    } else if (l->rate != RATE_CLIP) {
      lw->out[i] = lower_layer(lw, i);
    }
    lw->guard = G_ALWAYS;
    lw->gate = -1;
    if (l->window)
      lw->ring[i] = window_ring(lw, i, lw->out[i], l->window, "window");
  }
  lw->p->step_end = lw->p->prologue_end = lw->p->nc;
}

/* The forecast: the prologue (state hand-over, the frame fed back) and
 * the body run per forecast step, which ends by feeding its frame back. */
static void lower_forecast(Lowering *lw) {
  const Graph *g = lw->g;
  Program *p = lw->p;
  if (g->feedback) {
    int last = lw->feedback, n = (int)shape_elems(g->input);
    lw->feedback = add_value(lw, V_TRANSIENT, g->n_step_layers, n, "fed_back");
    dims(add_call(lw, K_COPY, g->n_step_layers, -1, (int[]){lw->feedback, last}, 2), n, 0, 0, 0);
  }
  int prologue = p->nc;
  for (int i = g->n_step_layers; i < g->n_layer; i++) {
    if (i == g->n_step_layers + 1 && p->prologue_end < prologue)
      p->prologue_end = prologue; /* the first layer set no state hand-over */
    lw->out[i] = lower_layer(lw, i);
  }
  if (p->prologue_end < prologue)
    p->prologue_end = prologue;
  p->forecast_value = lw->out[g->n_layer - 1];
  if (g->feedback)
    dims(add_call(lw, K_COPY, g->n_layer - 1, -1, (int[]){lw->feedback, p->forecast_value}, 2),
         (int)shape_elems(g->input), 0, 0, 0);
}

Program *lower(Arena *a, const Graph *g, Target t) {
  Program *p = arena_alloc(a, sizeof *p);
  p->g = g;
  p->forecast_value = p->out_value = p->clip_value = -1;
  Lowering lw = {a, p, g, 0, arena_alloc(a, (size_t)g->n_layer * sizeof(int)),
                 arena_alloc(a, (size_t)g->n_layer * sizeof(int)), t == TARGET_AVX2, G_ALWAYS, -1, -1,
                 arena_alloc(a, (size_t)g->n_layer * sizeof(Fixup)), 0};
  add_value(&lw, V_INPUT, -1, shape_elems(g->input), "in");
  for (int i = 0; i < g->n_layer; i++)
    lw.ring[i] = -1;
  lower_step(&lw);
  if (g->forecast_steps)
    lower_forecast(&lw);
  p->forecast_end = p->nc;
  bool *rerun = arena_alloc(a, (size_t)g->n_layer * sizeof(bool));
  for (int i = 0; i < g->n_step_layers; i++) { /* the clip phase */
    const Layer *l = &g->layer[i];
    if (l->rate != RATE_CLIP)
      continue;
    lw.out[i] = l->op == OP_TEMPORAL_POOL ? lower_clip_pool_read(&lw, i, rerun) : lower_layer(&lw, i);
  }
  for (int k = 0; k < lw.n_fixup; k++) {
    const Layer *q = &g->layer[lw.fixup[k].layer];
    p->call[lw.fixup[k].call].arg[lw.fixup[k].arg] = state_value(&lw, lw.fixup[k].layer, "h", q->stack - 1);
  }
  if (g->clip_head)
    p->clip_value = lw.out[g->n_step_layers - 1];
  else
    p->out_value = lw.out[g->n_step_layers - 1];
  p->weight_floats = lw.weight_pos;
  unique_names(a, p);
  fill_lifetimes(p);
  return p;
}
