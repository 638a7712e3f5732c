/* Dense recurrent layers, stacked: lstm (nn.LSTM, with optional diagonal
 * peepholes, FC-LSTM's) and gru (nn.GRU), one frame per step, their h and
 * c in the context.  Weights are PyTorch's: weight_ih_l<k>, weight_hh_l<k>,
 * bias_ih_l<k>, bias_hh_l<k>, gate rows [i f g o] (lstm) and [r z n] (gru).
 * Lowered as
 *   generic: lstm  rows of [W_ih | W_hh] with b_ih + b_hh, one gemv_cat2
 *                  pass per step, then the cell;
 *            gru   W_ih and W_hh apart (b_hn sits inside r (.) ...), then the cell;
 *   avx2:    one fused step per stacked layer over packed weights (pack.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../ops.h"

/* hidden: H | [H_0, ..., H_{L-1}] with layers: L (default 1, or the list's length). */
bool read_hidden(const YNode *n, Layer *l, const char *what) {
  const YNode *v = require(n, "hidden", what), *layers = yaml_get(n, "layers");
  if (!v)
    return false;
  l->stack = 1;
  if (layers && !read_int(layers, "layers", 1, MAX_STACK, &l->stack))
    return false;
  if (v->kind == Y_SEQ) {
    if (v->n < 1 || v->n > MAX_STACK || (layers && v->n != l->stack)) {
      diag_error(v->loc, "'hidden' lists %d sizes: expected one per stacked layer (%d)", v->n,
                 layers ? l->stack : v->n);
      return false;
    }
    l->stack = v->n;
    for (int k = 0; k < v->n; k++)
      if (!read_int(v->item[k], "hidden", 1, MAX_DIM, &l->hidden[k]))
        return false;
    return true;
  }
  if (!read_int(v, "hidden", 1, MAX_DIM, &l->hidden[0]))
    return false;
  for (int k = 1; k < l->stack; k++)
    l->hidden[k] = l->hidden[0];
  return true;
}

/* lstm: {name, op: lstm, hidden: H, layers: L = 1, peephole: none|diagonal, bias: true,
 *        proj: P, init_state: LAYER (first forecast layer), init_from: LAYER}
 * gru:  {name, op: gru, hidden: H, layers: L = 1, bias: true, init_state: LAYER} */
static bool parse_dense_cell(const YNode *n, Layer *l) {
  bool lstm = l->op == &op_lstm;
  const YNode *v;
  l->bias = true;
  if ((v = yaml_get(n, "bias")) && !read_bool(v, "bias", &l->bias))
    return false;
  if (!read_hidden(n, l, lstm ? "lstm layer" : "gru layer") || !parse_bidirectional(n, l))
    return false;
  for (int k = 1; k < l->stack; k++)
    if (l->hidden[k] != l->hidden[0]) {
      diag_error(yaml_get(n, "hidden")->loc, "%s needs one hidden size for all its layers, as "
                 "nn.%s has", l->op->name, lstm ? "LSTM" : "GRU");
      return false;
    }
  int choice = PEEPHOLE_NONE;
  if ((v = yaml_get(n, "peephole")) && !read_choice(v, "peephole", peephole_name, 2, &choice))
    return false;
  l->peephole = (Peephole)choice;
  if ((v = yaml_get(n, "proj"))) { /* nn.LSTM's proj_size: h = W_hr (o tanh(c)) */
    if (!read_int(v, "proj", 1, l->hidden[0] - 1 > 0 ? l->hidden[0] - 1 : 1, &l->proj))
      return false;
    if (l->proj >= l->hidden[0] || l->peephole != PEEPHOLE_NONE || yaml_get(n, "init_from")) {
      diag_error(v->loc, "'proj' must be smaller than 'hidden' (%d), as nn.LSTM's proj_size, "
                 "and goes without peepholes and init_from", l->hidden[0]);
      return false;
    }
  }
  if ((v = yaml_get(n, "init_from"))) {
    if (!read_ref(v, "init_from", &l->init_from_name, &l->init_from_loc))
      return false;
    if (l->stack != 1) {
      diag_error(v->loc, "'init_from' sets the first state of a single-layer lstm; '%s' has %d "
                 "layers", l->name, l->stack);
      return false;
    }
  }
  return true;
}

/* init_from: an earlier layer of the same chain, read on the first frame. */
static bool resolve_lstm(Graph *g, Layer *l) {
  if (!l->init_from_name)
    return true;
  int i = (int)(l - g->layer), src = find_layer(g, l->init_from_name, i);
  if (src < 0 || g->layer[src].phase != l->phase) {
    diag_error(l->init_from_loc, "'init_from' names '%s', which is not an earlier layer of "
               "the same chain", l->init_from_name);
    return false;
  }
  l->init_from = src;
  add_ref(l, src);
  return true;
}

static bool infer_dense_cell(Arena *a, Graph *g, Layer *l) {
  if (l->bidirectional)
    return infer_bidirectional(a, g, l);
  if (!need_rank(a, l, 1))
    return false;
  int in = (int)shape_elems(l->in_shape);
  int gates = (l->op == &op_lstm ? 4 : 3) * l->hidden[0], H = l->hidden[0];
  int P = l->proj ? l->proj : H; /* the size of h */
  for (int k = 0; k < l->stack; k++) {
    int in_k = k == 0 ? in : P;
    if (!fits(l, (int64_t)gates * (in_k + P), "weight"))
      return false;
    Param *p = add_param(a, l, mat(gates, in_k), "weight_ih_l%d", k);
    p->compress = true;
    add_param(a, l, mat(gates, P), "weight_hh_l%d", k)->compress = true;
    add_param(a, l, vec(gates), "bias_ih_l%d", k)->zero = !l->bias;
    add_param(a, l, vec(gates), "bias_hh_l%d", k)->zero = !l->bias;
    if (l->stack == 1) /* nn.LSTMCell and nn.GRUCell: the same tensors without "_l0" */
      for (int j = 0; j < 4; j++)
        p[j].alias = arena_printf(a, "%.*s", (int)strlen(p[j].name) - 3, p[j].name);
    if (l->peephole == PEEPHOLE_DIAGONAL) {
      add_param(a, l, vec(H), "weight_ci_l%d", k);
      add_param(a, l, vec(H), "weight_cf_l%d", k);
      add_param(a, l, vec(H), "weight_co_l%d", k);
    }
    if (l->proj)
      add_param(a, l, mat(P, H), "weight_hr_l%d", k)->compress = true;
    l->macs += (int64_t)gates * (in_k + P) + (l->proj ? (int64_t)P * H : 0);
  }
  for (int j = 0; j < l->n_param; j++) /* nn.LSTM and nn.GRU: U(-1/sqrt(H), 1/sqrt(H)) */
    l->param[j].fan_in = H;
  if (l->init_from >= 0) { /* h0, c0 = tanh(linear(mean of the first frame's features)) */
    const Layer *f = &g->layer[l->init_from];
    if (f->rate != RATE_FRAME) {
      diag_error(l->init_from_loc, "'init_from: %s' must name a layer that runs every frame",
                 f->name);
      return false;
    }
    if (f->out_shape.rank == 2) {
      diag_error(l->init_from_loc, "'init_from' needs a vector or a [D, H, W] map");
      return false;
    }
    int d = f->out_shape.dim[0];
    add_param(a, l, mat(H, d), "init_h.weight")->compress = true;
    add_param(a, l, vec(H), "init_h.bias");
    add_param(a, l, mat(H, d), "init_c.weight")->compress = true;
    add_param(a, l, vec(H), "init_c.bias");
  }
  l->out_shape = vec(P);
  return true;
}

/* h and c (c < 0 for a GRU) per stacked layer, in the context. */
static void recurrent_states(Lowering *lw, int li, int *h, int *c) {
  const Layer *l = &lw->g->layer[li];
  for (int k = 0; k < l->stack; k++) {
    h[k] = add_state(lw, li, l->proj ? l->proj : l->hidden[k], vname(lw, l, "h", k),
                     "hidden state");
    c[k] = l->op == &op_lstm ? add_state(lw, li, l->hidden[k], vname(lw, l, "c", k), "cell state") : -1;
  }
}

/* The first state of an lstm or gru: the forecast prologue copies the
 * encoder's (init_state); init_from computes it on the first frame. */
static void initial_state(Lowering *lw, int li, const int *h, const int *c) {
  const Layer *l = &lw->g->layer[li];
  if (l->init_state >= 0)
    hand_over_state(lw, li, h, c);
  if (l->init_from < 0)
    return;
  const Layer *f = &lw->g->layer[l->init_from];
  Guard saved = lw->guard;
  lw->guard = G_FIRST_FRAME;
  int m = lw->out[l->init_from], H = l->hidden[0];
  if (f->out_shape.rank == 3) { /* the mean over the map's positions */
    int d = f->out_shape.dim[0];
    int mean = add_value(lw, V_TRANSIENT, li, d, vname(lw, l, "init_mean", -1));
    add_call(lw, K_GLOBAL_AVGPOOL, li, -1, (int[]){mean, m}, 2,
             (int[]){d, f->out_shape.dim[1] * f->out_shape.dim[2]}, 2);
    m = mean;
  }
  static const char *const what[2] = {"init_h", "init_c"};
  for (int q = 0; q < 2; q++) {
    int s = q == 0 ? h[0] : c[0];
    gemv_call(lw, li, vname(lw, l, what[q], -1), find_param(l, arena_printf(lw->a, "%s.weight", what[q]), 0),
              find_param(l, arena_printf(lw->a, "%s.bias", what[q]), 0), s, m);
    Call *t = add_call(lw, K_ACTIVATION, li, -1, (int[]){s, s}, 2, &H, 1);
    t->act = REEL_ACT_TANH;
  }
  lw->guard = saved;
}

/* AVX2: each stacked layer is one fused step over packed [W_ih | W_hh]. */
static int lower_dense_cell_avx2(Lowering *lw, int li, const int *h, const int *c) {
  const Layer *l = &lw->g->layer[li];
  bool lstm = l->op == &op_lstm;
  int H = l->hidden[0], x = input_value(lw, l, 0), blocks = (H + 7) / 8;
  for (int k = 0; k < l->stack; k++) {
    const Param *wih = find_param(l, "weight_ih_l%d", k);
    int in = wih->shape.dim[1];
    int w = add_value(lw, V_WEIGHT, li, (int64_t)blocks * (lstm ? 32 : 24) * (in + H),
                      vname(lw, l, "weight_l", k));
    int b = add_value(lw, V_WEIGHT, li, (int64_t)blocks * 32, vname(lw, l, "bias_l", k));
    float *wd = weight_data(lw, w, wih->data), *bd = weight_data(lw, b, wih->data);
    const float *wi = wih->data, *wh = find_param(l, "weight_hh_l%d", k)->data;
    if (lw->wtype != WT_F32)
      compress_cell_weights(lw, li, w, &wi, &wh, in, H, lstm ? 4 : 3);
    if (wd)
      (lstm ? pack_lstm : pack_gru)(wd, bd, wi, wh, find_param(l, "bias_ih_l%d", k)->data,
                                   find_param(l, "bias_hh_l%d", k)->data, in, H);
    int G = lstm ? 4 : 3; /* vectors per column: each block's x then h columns, in pairs */
    for (int64_t u = 0; wd && lw->wtype == WT_BF16 && u < blocks; u++) {
      float *block = wd + u * 8 * G * (in + H);
      pair_bf16_vectors(block, (int64_t)G * in);
      pair_bf16_vectors(block + 8L * G * in, (int64_t)G * H);
    }
    int scratch = add_value(lw, V_TRANSIENT, li, H, vname(lw, l, "h_new", k));
    if (lstm) {
      int peep[3] = {-1, -1, -1};
      if (l->peephole == PEEPHOLE_DIAGONAL) {
        peep[0] = weight_copy(lw, li, find_param(l, "weight_ci_l%d", k), vname(lw, l, "ci_l", k));
        peep[1] = weight_copy(lw, li, find_param(l, "weight_cf_l%d", k), vname(lw, l, "cf_l", k));
        peep[2] = weight_copy(lw, li, find_param(l, "weight_co_l%d", k), vname(lw, l, "co_l", k));
      }
      add_call(lw, K_LSTM_STEP, li, k, (int[]){h[k], c[k], scratch, w, b, x, peep[0], peep[1], peep[2]},
               9, (int[]){in, H}, 2);
    } else {
      add_call(lw, K_GRU_STEP, li, k, (int[]){h[k], scratch, w, b, x}, 5, (int[]){in, H}, 2);
    }
    x = h[k];
  }
  return x;
}

static int lower_lstm_generic(Lowering *lw, int li, const int *h, const int *c) {
  const Layer *l = &lw->g->layer[li];
  int H = l->hidden[0], x = input_value(lw, l, 0);
  for (int k = 0; k < l->stack; k++) {
    const Param *wih = find_param(l, "weight_ih_l%d", k), *whh = find_param(l, "weight_hh_l%d", k);
    const Param *bih = find_param(l, "bias_ih_l%d", k), *bhh = find_param(l, "bias_hh_l%d", k);
    int in = wih->shape.dim[1];
    int b, w = gate_weights(lw, li, vname(lw, l, "l", k), wih, whh, bih, bhh, &b);
    int gates = add_value(lw, V_TRANSIENT, li, (int64_t)4 * H, vname(lw, l, "gates", k));
    add_call(lw, K_GEMV_CAT2, li, k, (int[]){gates, w, b, x, h[k]}, 5, (int[]){in, H, 4 * H}, 3);
    if (l->peephole == PEEPHOLE_DIAGONAL) {
      int ci = weight_copy(lw, li, find_param(l, "weight_ci_l%d", k), vname(lw, l, "ci_l", k));
      int cf = weight_copy(lw, li, find_param(l, "weight_cf_l%d", k), vname(lw, l, "cf_l", k));
      int co = weight_copy(lw, li, find_param(l, "weight_co_l%d", k), vname(lw, l, "co_l", k));
      add_call(lw, K_LSTM_PEEPHOLE_CELL, li, k, (int[]){h[k], c[k], gates, ci, cf, co}, 6, &H, 1);
    } else {
      add_call(lw, K_LSTM_CELL, li, k, (int[]){h[k], c[k], gates}, 3, &H, 1);
    }
    x = h[k];
  }
  return x;
}

static int lower_gru_generic(Lowering *lw, int li, const int *h) {
  const Layer *l = &lw->g->layer[li];
  int H = l->hidden[0], x = input_value(lw, l, 0);
  for (int k = 0; k < l->stack; k++) {
    const Param *wih = find_param(l, "weight_ih_l%d", k);
    int in = wih->shape.dim[1];
    int w_i = weight_copy(lw, li, wih, vname(lw, l, "weight_ih_l", k));
    int b_i = weight_copy(lw, li, find_param(l, "bias_ih_l%d", k), vname(lw, l, "bias_ih_l", k));
    int w_h = weight_copy(lw, li, find_param(l, "weight_hh_l%d", k), vname(lw, l, "weight_hh_l", k));
    int b_h = weight_copy(lw, li, find_param(l, "bias_hh_l%d", k), vname(lw, l, "bias_hh_l", k));
    int gi = add_value(lw, V_TRANSIENT, li, (int64_t)3 * H, vname(lw, l, "gi", k));
    int gh = add_value(lw, V_TRANSIENT, li, (int64_t)3 * H, vname(lw, l, "gh", k));
    add_call(lw, K_GEMV, li, k, (int[]){gi, w_i, b_i, x}, 4, (int[]){3 * H, in}, 2);
    add_call(lw, K_GEMV, li, k, (int[]){gh, w_h, b_h, h[k]}, 4, (int[]){3 * H, H}, 2);
    add_call(lw, K_GRU_CELL, li, k, (int[]){h[k], gi, gh}, 3, &H, 1);
    x = h[k];
  }
  return x;
}

/* An lstm with a projection (nn.LSTM's proj_size), either target: the gates from [x; h]
 * in one matrix-vector pass, the cell into the full-width h~ = o tanh(c), then h = W_hr h~. */
static int lower_lstm_proj(Lowering *lw, int li, const int *h, const int *c) {
  const Layer *l = &lw->g->layer[li];
  int H = l->hidden[0], P = l->proj, x = input_value(lw, l, 0);
  for (int k = 0; k < l->stack; k++) {
    const Param *wih = find_param(l, "weight_ih_l%d", k), *whh = find_param(l, "weight_hh_l%d", k);
    const Param *bih = find_param(l, "bias_ih_l%d", k), *bhh = find_param(l, "bias_hh_l%d", k);
    int in = wih->shape.dim[1];
    int gates = add_value(lw, V_TRANSIENT, li, (int64_t)4 * H, vname(lw, l, "gates", k));
    int b, w = gate_weights(lw, li, vname(lw, l, "l", k), wih, whh, bih, bhh, &b);
    add_call(lw, K_GEMV_CAT2, li, k, (int[]){gates, w, b, x, h[k]}, 5, (int[]){in, P, 4 * H}, 3);
    int full = add_value(lw, V_TRANSIENT, li, H, vname(lw, l, "h_full", k));
    add_call(lw, K_LSTM_CELL, li, k, (int[]){full, c[k], gates}, 3, &H, 1);
    gemv_call(lw, li, vname(lw, l, "hr_l", k), find_param(l, "weight_hr_l%d", k), NULL, h[k], full);
    x = h[k];
  }
  return x;
}

/* Its state, its first state, then one fused step per stacked layer
 * (avx2) or the gate matmuls and the cell (generic). */
static int lower_dense_cell(Lowering *lw, int li) {
  if (lw->g->layer[li].bidirectional)
    return lower_bidirectional(lw, li);
  int h[MAX_STACK], c[MAX_STACK];
  recurrent_states(lw, li, h, c);
  initial_state(lw, li, h, c);
  if (lw->g->layer[li].proj)
    return lower_lstm_proj(lw, li, h, c);
  if (lw->avx2)
    return lower_dense_cell_avx2(lw, li, h, c);
  return lw->g->layer[li].op == &op_lstm ? lower_lstm_generic(lw, li, h, c)
                                         : lower_gru_generic(lw, li, h);
}

/* ---- the interpreter: spec.md's equations in double ---- */
static void interp_init_dense_cell(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  LayerState *s = &in->s[li];
  if (l->bidirectional) {
    interp_init_bidirectional(in, li);
    return;
  }
  for (int k = 0; k < l->stack; k++) {
    s->state_size[k] = l->hidden[k];
    s->h[k] = interp_zeros(in->a, l->hidden[k]);
    s->c[k] = l->op == &op_lstm ? interp_zeros(in->a, l->hidden[k]) : NULL;
  }
  int64_t work = 9 * (int64_t)l->hidden[0]; /* two gate vectors, the unprojected h */
  if (l->init_from >= 0 && in->g->layer[l->init_from].out_shape.dim[0] > work)
    work = in->g->layer[l->init_from].out_shape.dim[0]; /* the mean feature */
  s->work = interp_zeros(in->a, work);
}

/* h0, c0 = tanh(init_h / init_c (mean of the first frame's features)). */
static void lstm_init_from(Interp *in, const Layer *l, LayerState *s) {
  const Layer *f = &in->g->layer[l->init_from];
  const double *x = in->s[l->init_from].y;
  int d = f->out_shape.dim[0], H = l->hidden[0];
  int64_t plane = shape_elems(f->out_shape) / d;
  double *m = s->work;
  for (int k = 0; k < d; k++) {
    double sum = 0;
    for (int64_t i = 0; i < plane; i++)
      sum += x[k * plane + i];
    m[k] = sum / (double)plane;
  }
  interp_matvec(s->h[0], find_param(l, "init_h.weight", 0)->data, find_param(l, "init_h.bias", 0)->data, m, H, d);
  interp_matvec(s->c[0], find_param(l, "init_c.weight", 0)->data, find_param(l, "init_c.bias", 0)->data, m, H, d);
  for (int j = 0; j < H; j++) {
    s->h[0][j] = tanh(s->h[0][j]);
    s->c[0][j] = tanh(s->c[0][j]);
  }
}

/* Every frame: a bidirectional layer's window takes the frame in. */
static void interp_frame_dense_cell(Interp *in, int li) {
  if (in->g->layer[li].bidirectional)
    interp_bidirectional_frame(in, li);
}

static void interp_lstm(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  LayerState *s = &in->s[li];
  if (l->bidirectional) {
    interp_bidirectional(in, li);
    return;
  }
  int H = l->hidden[0], P = l->proj ? l->proj : H;
  if (l->init_from >= 0 && in->frames == 1 && l->phase == PHASE_STEP)
    lstm_init_from(in, l, s);
  const double *x = interp_input(in, l, 0);
  double *gates = s->work, *hr = s->work + 4 * (int64_t)H, *full = s->work + 8 * (int64_t)H;
  for (int k = 0; k < l->stack; k++) {
    double *c = s->c[k], *h = l->proj ? full : s->h[k]; /* the cell's h, before W_hr */
    int n_in = k == 0 ? (int)shape_elems(l->in_shape) : P;
    interp_matvec(gates, find_param(l, "weight_ih_l%d", k)->data, find_param(l, "bias_ih_l%d", k)->data, x, 4 * H, n_in);
    interp_matvec(hr, find_param(l, "weight_hh_l%d", k)->data, find_param(l, "bias_hh_l%d", k)->data, s->h[k], 4 * H, P);
    bool peep = l->peephole == PEEPHOLE_DIAGONAL;
    const float *wci = peep ? find_param(l, "weight_ci_l%d", k)->data : NULL;
    const float *wcf = peep ? find_param(l, "weight_cf_l%d", k)->data : NULL;
    const float *wco = peep ? find_param(l, "weight_co_l%d", k)->data : NULL;
    for (int j = 0; j < H; j++) {
      double pi = gates[j] + hr[j], pf = gates[H + j] + hr[H + j];
      double pg = gates[2 * H + j] + hr[2 * H + j], po = gates[3 * H + j] + hr[3 * H + j];
      if (peep) {
        pi += wci[j] * c[j];
        pf += wcf[j] * c[j];
      }
      double cn = interp_sigmoid(pf) * c[j] + interp_sigmoid(pi) * tanh(pg);
      if (peep)
        po += wco[j] * cn; /* the output gate sees the new cell */
      c[j] = cn;
      h[j] = interp_sigmoid(po) * tanh(cn);
    }
    if (l->proj)
      interp_matvec(s->h[k], find_param(l, "weight_hr_l%d", k)->data, NULL, full, P, H);
    x = s->h[k];
  }
  memcpy(s->y, x, (size_t)P * sizeof(double));
}

static void interp_gru(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  LayerState *s = &in->s[li];
  if (l->bidirectional) {
    interp_bidirectional(in, li);
    return;
  }
  int H = l->hidden[0];
  const double *x = interp_input(in, l, 0);
  double *gi = s->work, *gh = s->work + 4 * (int64_t)H;
  for (int k = 0; k < l->stack; k++) {
    double *h = s->h[k];
    int n_in = k == 0 ? (int)shape_elems(l->in_shape) : H;
    interp_matvec(gi, find_param(l, "weight_ih_l%d", k)->data, find_param(l, "bias_ih_l%d", k)->data, x, 3 * H, n_in);
    interp_matvec(gh, find_param(l, "weight_hh_l%d", k)->data, find_param(l, "bias_hh_l%d", k)->data, h, 3 * H, H);
    for (int j = 0; j < H; j++) {
      double r = interp_sigmoid(gi[j] + gh[j]), z = interp_sigmoid(gi[H + j] + gh[H + j]);
      double n = tanh(gi[2 * H + j] + r * gh[2 * H + j]);
      h[j] = (1 - z) * n + z * h[j];
    }
    x = h;
  }
  memcpy(s->y, x, (size_t)H * sizeof(double));
}

/* Tensors of nn.LSTM / nn.GRU variants the spec's layer is not. */
static const char *explain_dense_cell(Arena *a, const Layer *l, const char *suffix) {
  size_t n = strlen(suffix);
  if (n > 8 && strcmp(suffix + n - 8, "_reverse") == 0 && !l->bidirectional)
    return arena_printf(a, "is a weight of the reverse direction: the PyTorch module is "
                        "bidirectional (bidirectional=True), %s '%s' runs forward only "
                        "('bidirectional: true' with 'frames: N')",
                        l->op->name, l->name);
  if (strncmp(suffix, "bias_", 5) == 0 && !l->bias)
    return arena_printf(a, "is a bias: %s '%s' has 'bias: false' (nn.%s(bias=False))",
                        l->op->name, l->name, l->op == &op_lstm ? "LSTM" : "GRU");
  if (strncmp(suffix, "weight_hr_l", 11) == 0 && !l->proj)
    return arena_printf(a, "is an LSTM projection (proj_size > 0), which %s '%s' does not have "
                        "('proj: P')", l->op->name, l->name);
  const char *at = strstr(suffix, "_l");
  char *end;
  long k = at ? strtol(at + 2, &end, 10) : -1;
  bool gate_tensor = at && (strncmp(suffix, "weight_", 7) == 0 || strncmp(suffix, "bias_", 5) == 0);
  if (gate_tensor && end != at + 2 && !*end && k >= l->stack)
    return arena_printf(a, "is stacked layer %ld's: the PyTorch module has num_layers > %ld, %s "
                        "'%s' has 'layers: %d'", k, k, l->op->name, l->name, l->stack);
  if (strncmp(suffix, "weight_c", 8) == 0 && l->op == &op_lstm && l->peephole == PEEPHOLE_NONE)
    return arena_printf(a, "is a peephole weight: lstm '%s' needs 'peephole: diagonal'", l->name);
  return NULL;
}

const OpDesc op_lstm = {.name = "lstm",
                        .keys = "hidden layers peephole bias proj init_state init_from "
                                "bidirectional frames stride",
                        .flags = OP_WEIGHTED | OP_RECURRENT | OP_EVERY_FRAME | OP_MATRICES, .min_inputs = 1,
                        .max_inputs = 1, .parse = parse_dense_cell, .resolve = resolve_lstm,
                        .infer = infer_dense_cell, .lower = lower_dense_cell,
                        .interp_init = interp_init_dense_cell, .interp = interp_lstm,
                        .interp_frame = interp_frame_dense_cell,
                        .explain_tensor = explain_dense_cell};

const OpDesc op_gru = {.name = "gru", .keys = "hidden layers bias init_state bidirectional frames stride",
                       .flags = OP_WEIGHTED | OP_RECURRENT | OP_EVERY_FRAME | OP_MATRICES, .min_inputs = 1,
                       .max_inputs = 1, .parse = parse_dense_cell, .infer = infer_dense_cell,
                       .lower = lower_dense_cell, .interp_init = interp_init_dense_cell,
                       .interp = interp_gru, .interp_frame = interp_frame_dense_cell,
                       .explain_tensor = explain_dense_cell};
