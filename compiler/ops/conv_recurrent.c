/* Convolutional recurrent layers on [C, H, W] frames, stacked, their
 * h (and c) maps in the context:
 *   convlstm  ConvLSTM (Shi et al.; ConvLSTM_pytorch's cell_list.<k>.conv),
 *             gates [i f o g] = conv([x; h]) + b, peepholes none, per
 *             channel or per position; reordered to [i f g o] when lowered
 *             so the LSTM cell kernel serves both;
 *   convgru   ConvGRU (happyjin's ConvGRU-pytorch: conv_gates [r z],
 *             conv_can), or GRU-RCN (Ballas et al.) with one input per
 *             stacked layer, each layer's state pooled 2x2 into the next. */
#include <math.h>
#include <string.h>

#include "../ops.h"

/* convlstm: {name, op: convlstm, hidden: H|[H0, ...], kernel: K (odd), layers: L,
 *            peephole: none|channel|spatial, output: last|concat, init_state: LAYER}
 * convgru:  {name, op: convgru, hidden: H|[H0, ...], kernel: K (odd), layers: L,
 *            from: LAYER | [LAYER_0, ..., LAYER_{L-1}]} */
static bool parse_conv_cell(const YNode *n, Layer *l) {
  const YNode *v;
  char what[32];
  snprintf(what, sizeof what, "%s layer", l->op->name);
  if (!read_hidden(n, l, what))
    return false;
  if (!(v = require(n, "kernel", what)) || !read_int(v, "kernel", 1, 63, &l->kernel))
    return false;
  if (l->kernel % 2 == 0) {
    diag_error(v->loc, "'kernel' is %d: %s needs an odd kernel (padding kernel/2 keeps the "
               "frame size)", l->kernel, l->op->name);
    return false;
  }
  int choice = 0;
  if ((v = yaml_get(n, "peephole"))) {
    const char *const names[] = {"none", "channel", "spatial"};
    if (!read_choice(v, "peephole", names, 3, &choice))
      return false;
    l->peephole = choice ? (Peephole)(choice + 1) : PEEPHOLE_NONE; /* channel, spatial */
  }
  if ((v = yaml_get(n, "output"))) {
    const char *const modes[] = {"last", "concat"};
    if (!read_choice(v, "output", modes, 2, &choice))
      return false;
    l->concat_output = choice == 1;
  }
  return true;
}

/* A convgru reads one layer, or one per stacked layer (GRU-RCN). */
static bool check_convgru_inputs(const Graph *g, Layer *l, Loc at) {
  (void)g;
  if (l->n_input != 1 && l->n_input != l->stack) {
    diag_error(at, "convgru '%s' reads %d layers: expected 1, or one per stacked layer (%d)",
               l->name, l->n_input, l->stack);
    return false;
  }
  l->rcn = l->n_input > 1;
  return true;
}

static bool infer_convlstm(Arena *a, Graph *g, Layer *l) {
  (void)g;
  if (l->n_input && !need_rank(a, l, 3))
    return false;
  int rows = l->in_shape.dim[1], cols = l->in_shape.dim[2];
  int c = l->n_input ? l->in_shape.dim[0] : 0, k = l->kernel, total = 0;
  for (int s = 0; s < l->stack; s++) {
    int hid = l->hidden[s], in = s == 0 ? c : l->hidden[s - 1];
    if (!fits(l, (int64_t)4 * hid * (in + hid) * k * k, "gate weight") ||
        !fits(l, (int64_t)4 * hid * rows * cols, "gate tensor"))
      return false;
    add_param(a, l, oihw(4 * hid, in + hid, k, k), "cell_list.%d.conv.weight", s)->compress = true;
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
  return true;
}

static bool infer_convgru(Arena *a, Graph *g, Layer *l) {
  if (!need_rank(a, l, 3))
    return false;
  int rows = l->in_shape.dim[1], cols = l->in_shape.dim[2], k = l->kernel;
  for (int s = 0; s < l->stack; s++) {
    int hid = l->hidden[s], in;
    if (l->rcn) {
      Shape x = layer_shape(g, l->input[s]);
      if (s > 0 && (x.rank != 3 || x.dim[1] != rows / 2 || x.dim[2] != cols / 2)) {
        diag_error(l->from_loc, "convgru '%s' layer %d reads %s, but layer %d's state pooled 2x2 is "
                   "%dx%d: each layer's input must have the resolution of its state", l->name, s,
                   shape_str(a, x), s - 1, rows / 2, cols / 2);
        return false;
      }
      if (x.rank != 3)
        return shape_error(a, l, "needs [C, H, W] inputs");
      in = x.dim[0];
      if (s > 0)
        rows /= 2, cols /= 2;
    } else {
      in = s == 0 ? l->in_shape.dim[0] : l->hidden[s - 1];
    }
    if (!fits(l, (int64_t)2 * hid * (in + hid) * k * k, "gate weight") ||
        !fits(l, (int64_t)2 * hid * rows * cols, "gate tensor"))
      return false;
    add_param(a, l, oihw(2 * hid, in + hid, k, k), "cell_list.%d.conv_gates.weight", s)->compress =
        true;
    add_param(a, l, vec(2 * hid), "cell_list.%d.conv_gates.bias", s);
    add_param(a, l, oihw(hid, in + hid, k, k), "cell_list.%d.conv_can.weight", s)->compress = true;
    add_param(a, l, vec(hid), "cell_list.%d.conv_can.bias", s);
    l->macs += (int64_t)rows * cols * 3 * hid * (in + hid) * k * k;
    if (l->rcn && s > 0) {
      add_param(a, l, oihw(2 * hid, l->hidden[s - 1], k, k), "cell_list.%d.conv_below.weight", s)
          ->compress = true;
      l->macs += (int64_t)rows * cols * 2 * hid * l->hidden[s - 1] * k * k;
    }
    if (rows < 1 || cols < 1)
      return shape_error(a, l, "pools its state below 1x1");
  }
  l->out_shape = chw(l->hidden[l->stack - 1], rows, cols);
  return true;
}

/* Gate blocks [i f o g] (ConvLSTM_pytorch) -> [i f g o] (the LSTM cell kernel). */
static int convlstm_block(int b) { return b == 2 ? 3 : b == 3 ? 2 : b; }

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
    h[s] = add_state(lw, li, n, vname(lw, l, "h", s), "hidden state");
    c[s] = add_state(lw, li, n, vname(lw, l, "c", s), "cell state");
  }
  if (l->init_state >= 0) /* the forecast prologue hands the encoder's state over */
    hand_over_state(lw, li, h, c);
  int x = l->n_input ? input_value(lw, l, 0) : -1, in_c = l->n_input ? l->in_shape.dim[0] : 0;
  for (int s = 0; s < l->stack; s++) {
    int H = l->hidden[s], n = H * plane;
    int gates = add_value(lw, V_TRANSIENT, li, (int64_t)4 * n, vname(lw, l, "gates", s));
    conv_call(lw, li, s, vname(lw, l, "weight_l", s), wt[s], b[s], gates, x, h[s],
              cell_geom(in_c, H, rows, cols, 4 * H, l->kernel));
    if (l->peephole)
      add_call(lw, K_LSTM_PEEPHOLE_CELL, li, s,
               (int[]){h[s], c[s], gates, peep[s][0], peep[s][1], peep[s][2]}, 6, &n, 1);
    else
      add_call(lw, K_LSTM_CELL, li, s, (int[]){h[s], c[s], gates}, 3, &n, 1);
    x = h[s];
    in_c = H;
  }
  if (!l->concat_output)
    return x;
  int y = add_value(lw, V_TRANSIENT, li, shape_elems(l->out_shape), vname(lw, l, "out", -1));
  int offset = 0;
  for (int s = 0; s < l->stack; s++) {
    int n = (int)lw->p->v[h[s]].size;
    add_call(lw, K_COPY, li, s, (int[]){y, h[s]}, 2, (int[]){n, offset}, 2)->note =
        "h into the output";
    offset += n;
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
    int h = add_state(lw, li, n, vname(lw, l, "h", s), "hidden state");
    int gates = add_value(lw, V_TRANSIENT, li, (int64_t)2 * n, vname(lw, l, "gates", s));
    conv_call(lw, li, s, vname(lw, l, "gates_weight_l", s),
              find_param(l, "cell_list.%d.conv_gates.weight", s)->data, bg, gates, x, h,
              cell_geom(in_c, H, rows, cols, 2 * H, k));
    if (l->rcn && s > 0) { /* gates += conv_below(maxpool2x2(h of the layer below)) */
      int H0 = l->hidden[s - 1];
      int pooled = add_value(lw, V_TRANSIENT, li, (int64_t)H0 * rows * cols, vname(lw, l, "pooled", s));
      Call *c = add_call(lw, K_MAXPOOL, li, s, (int[]){pooled, below}, 2, NULL, 0);
      c->geom = (Geom){.in_c0 = H0, .in_h = below_rows, .in_w = below_cols, .out_c = H0,
                       .out_h = rows, .out_w = cols};
      c->geom.win = (Window){.kh = 2, .kw = 2, .sh = 2, .sw = 2, .dh = 1, .dw = 1};
      Geom below_geom = cell_geom(H0, 0, rows, cols, 2 * H, k);
      below_geom.accumulate = true;
      conv_call(lw, li, s, vname(lw, l, "below_weight_l", s),
                find_param(l, "cell_list.%d.conv_below.weight", s)->data, -1, gates, pooled, -1,
                below_geom);
    }
    int rh = add_value(lw, V_TRANSIENT, li, n, vname(lw, l, "rh", s));
    add_call(lw, K_CONVGRU_RESET, li, s, (int[]){rh, gates, h}, 3, &n, 1);
    int cand = add_value(lw, V_TRANSIENT, li, n, vname(lw, l, "cand", s));
    conv_call(lw, li, s, vname(lw, l, "can_weight_l", s),
              find_param(l, "cell_list.%d.conv_can.weight", s)->data, bc, cand, x, rh,
              cell_geom(in_c, H, rows, cols, H, k));
    add_call(lw, K_CONVGRU_UPDATE, li, s, (int[]){h, gates, cand}, 3, &n, 1);
    below = h;
    x = h;
    in_c = H;
  }
  return x;
}

/* ---- the interpreter ---- */

/* h (and c) per stacked layer, each layer of a GRU-RCN at half the
 * resolution of the one below; the work area holds 4 gate planes, or a
 * convgru's 2 gate planes, candidate, r (.) h and pooled map. */
static void interp_init_conv_cell(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  LayerState *s = &in->s[li];
  int64_t rows = l->in_shape.dim[1], cols = l->in_shape.dim[2], largest = 0;
  for (int k = 0; k < l->stack; k++) {
    if (l->rcn && k > 0)
      rows /= 2, cols /= 2;
    s->state_size[k] = l->hidden[k] * rows * cols;
    s->h[k] = interp_zeros(in->a, s->state_size[k]);
    s->c[k] = l->op == &op_convlstm ? interp_zeros(in->a, s->state_size[k]) : NULL;
    if (s->state_size[k] > largest)
      largest = s->state_size[k];
  }
  s->work = interp_zeros(in->a, 5 * largest);
}

/* ConvLSTM (ConvLSTM_pytorch): gates [i f o g] = conv([x; h]) + b. */
static void interp_convlstm(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  LayerState *s = &in->s[li];
  int rows = l->in_shape.dim[1], cols = l->in_shape.dim[2], plane = rows * cols;
  const double *x = l->n_input ? interp_input(in, l, 0) : NULL;
  int c_in = l->n_input ? l->in_shape.dim[0] : 0;
  Window win = same_window(l->kernel);
  for (int k = 0; k < l->stack; k++) {
    int H = l->hidden[k], n = H * plane;
    double *gates = s->work, *h = s->h[k], *c = s->c[k];
    interp_conv(gates, false, x, c_in, h, H, rows, cols,
                find_param(l, "cell_list.%d.conv.weight", k)->data,
                find_param(l, "cell_list.%d.conv.bias", k)->data, 4 * H, rows, cols, &win, 1);
    const float *wci = NULL, *wcf = NULL, *wco = NULL;
    if (l->peephole) {
      wci = find_param(l, "cell_list.%d.weight_ci", k)->data;
      wcf = find_param(l, "cell_list.%d.weight_cf", k)->data;
      wco = find_param(l, "cell_list.%d.weight_co", k)->data;
    }
    for (int j = 0; j < n; j++) {
      int p = l->peephole == PEEPHOLE_CHANNEL ? j / plane : j;
      double pi = gates[j], pf = gates[n + j], po = gates[2 * n + j], pg = gates[3 * n + j];
      if (l->peephole) {
        pi += wci[p] * c[j];
        pf += wcf[p] * c[j];
      }
      double cn = interp_sigmoid(pf) * c[j] + interp_sigmoid(pi) * tanh(pg);
      if (l->peephole)
        po += wco[p] * cn;
      c[j] = cn;
      h[j] = interp_sigmoid(po) * tanh(cn);
    }
    x = h;
    c_in = H;
  }
  int64_t offset = 0;
  for (int k = l->concat_output ? 0 : l->stack - 1; k < l->stack; k++) {
    memcpy(s->y + offset, s->h[k], (size_t)l->hidden[k] * plane * sizeof(double));
    offset += (int64_t)l->hidden[k] * plane;
  }
}

/* ConvGRU (ConvGRU-pytorch), with GRU-RCN's pooled input from below. */
static void interp_convgru(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  LayerState *s = &in->s[li];
  int rows = l->in_shape.dim[1], cols = l->in_shape.dim[2];
  const double *x = interp_input(in, l, 0);
  int c_in = l->in_shape.dim[0];
  Window win = same_window(l->kernel), two = {.kh = 2, .kw = 2, .sh = 2, .sw = 2, .dh = 1, .dw = 1};
  for (int k = 0; k < l->stack; k++) {
    int H = l->hidden[k], prev_rows = rows, prev_cols = cols;
    if (l->rcn && k > 0) {
      x = interp_input(in, l, k);
      c_in = in->g->layer[l->input[k]].out_shape.dim[0];
      rows /= 2, cols /= 2;
    }
    int n = H * rows * cols;
    double *gates = s->work, *cand = gates + (size_t)2 * n, *rh = cand + n, *h = s->h[k];
    interp_conv(gates, false, x, c_in, h, H, rows, cols,
                find_param(l, "cell_list.%d.conv_gates.weight", k)->data,
                find_param(l, "cell_list.%d.conv_gates.bias", k)->data, 2 * H, rows, cols, &win, 1);
    if (l->rcn && k > 0) {
      int H0 = l->hidden[k - 1];
      double *pooled = rh + n; /* H0 x rows x cols <= the largest state */
      interp_pool(pooled, s->h[k - 1], H0, prev_rows, prev_cols, rows, cols, &two, true);
      interp_conv(gates, true, pooled, H0, NULL, 0, rows, cols,
                  find_param(l, "cell_list.%d.conv_below.weight", k)->data, NULL, 2 * H, rows,
                  cols, &win, 1);
    }
    for (int j = 0; j < n; j++)
      rh[j] = interp_sigmoid(gates[j]) * h[j];
    interp_conv(cand, false, x, c_in, rh, H, rows, cols,
                find_param(l, "cell_list.%d.conv_can.weight", k)->data,
                find_param(l, "cell_list.%d.conv_can.bias", k)->data, H, rows, cols, &win, 1);
    for (int j = 0; j < n; j++) {
      double z = interp_sigmoid(gates[n + j]);
      h[j] = (1 - z) * h[j] + z * tanh(cand[j]);
    }
    x = h;
    c_in = H;
  }
  memcpy(s->y, x, (size_t)shape_elems(l->out_shape) * sizeof(double));
}

/* A convlstm with init_state may start a forecast chain with no input. */
const OpDesc op_convlstm = {
    .name = "convlstm", .keys = "hidden kernel layers peephole output init_state",
    .flags = OP_WEIGHTED | OP_RECURRENT | OP_EVERY_FRAME | OP_MATRICES, .min_inputs = 0, .max_inputs = 1,
    .parse = parse_conv_cell, .infer = infer_convlstm, .lower = lower_convlstm,
    .interp_init = interp_init_conv_cell, .interp = interp_convlstm};

const OpDesc op_convgru = {
    .name = "convgru", .keys = "hidden kernel layers",
    .flags = OP_WEIGHTED | OP_RECURRENT | OP_EVERY_FRAME | OP_MATRICES, .min_inputs = 1, .max_inputs = MAX_INPUTS,
    .parse = parse_conv_cell, .check_inputs = check_convgru_inputs, .infer = infer_convgru,
    .lower = lower_convgru, .interp_init = interp_init_conv_cell, .interp = interp_convgru};
