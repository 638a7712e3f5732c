/* Bidirectional lstm and gru (`bidirectional: true`): nn.LSTM / nn.GRU with
 * bidirectional=True, run on each window of `frames` frames (every `stride`) alone, from a zero
 * state.  The backward direction needs the window's last frame, so the layer runs when its
 * window closes, like a windowed temporal op: its output is the window's [frames, 2 hidden],
 * row t = [forward h_t; backward h_t] as PyTorch lays out (seq, 2 hidden) for batch 1, and the
 * layers after it run per window.  Before the first window closes, a clip read runs it over the
 * frames seen so far (their rows; zeros after).  Stacked layers read the layer below's
 * [forward; backward] rows, as PyTorch's do. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../ops.h"

/* bidirectional: true, frames: N, stride: S (default N), on an lstm or gru */
bool parse_bidirectional(const YNode *n, Layer *l) {
  const YNode *v = yaml_get(n, "bidirectional"), *frames = yaml_get(n, "frames");
  const YNode *stride = yaml_get(n, "stride");
  if (v && !read_bool(v, "bidirectional", &l->bidirectional))
    return false;
  if (!l->bidirectional) {
    const YNode *extra = frames ? frames : stride;
    if (extra)
      diag_error(extra->loc, "'%s' is the window a bidirectional %s runs over: give "
                 "'bidirectional: true' too", frames ? "frames" : "stride", l->op->name);
    return !extra;
  }
  if (!frames) {
    diag_error(v->loc, "a bidirectional %s reads future frames: give 'frames: N', the window "
               "it runs over (every 'stride' frames), and end the model in a clip temporal_pool",
               l->op->name);
    return false;
  }
  if (!read_int(frames, "frames", 1, MAX_WINDOW, &l->frames))
    return false;
  l->tstride = l->frames;
  if (stride && !read_int(stride, "stride", 1, MAX_WINDOW, &l->tstride))
    return false;
  static const char *const alone[] = {"peephole", "proj", "init_state", "init_from"};
  for (size_t k = 0; k < sizeof alone / sizeof *alone; k++)
    if ((v = yaml_get(n, alone[k]))) {
      diag_error(v->loc, "'%s' is for a forward %s: a bidirectional one starts each window "
                 "from zeros, as nn.%s(bidirectional=True)", alone[k], l->op->name,
                 l->op == &op_lstm ? "LSTM" : "GRU");
      return false;
    }
  return true;
}

bool infer_bidirectional(Arena *a, Graph *g, Layer *l) {
  (void)g;
  if (!need_rank(a, l, 1))
    return false;
  int H = l->hidden[0], gates = (l->op == &op_lstm ? 4 : 3) * H;
  for (int k = 0; k < l->stack; k++) {
    int in_k = k == 0 ? (int)shape_elems(l->in_shape) : 2 * H;
    if (!fits(l, (int64_t)gates * (in_k + H), "weight"))
      return false;
    for (int dir = 0; dir < 2; dir++) {
      const char *rev = dir ? "_reverse" : "";
      add_param(a, l, mat(gates, in_k), "weight_ih_l%d%s", k, rev)->compress = true;
      add_param(a, l, mat(gates, H), "weight_hh_l%d%s", k, rev)->compress = true;
      add_param(a, l, vec(gates), "bias_ih_l%d%s", k, rev)->zero = !l->bias;
      add_param(a, l, vec(gates), "bias_hh_l%d%s", k, rev)->zero = !l->bias;
    }
    l->macs += 2LL * l->frames * gates * (in_k + H);
  }
  for (int j = 0; j < l->n_param; j++) /* U(-1/sqrt(H), 1/sqrt(H)), as PyTorch's */
    l->param[j].fan_in = H;
  l->out_shape = (Shape){2, {l->frames, 2 * H}};
  return fits(l, (int64_t)l->frames * shape_elems(l->in_shape), "window");
}

/* Layer k, direction dir's tensor "<what>_l<k>[_reverse]". */
static const Param *dir_param(const Layer *l, const char *what, int k, int dir) {
  char fmt[48];
  snprintf(fmt, sizeof fmt, "%s_l%%d%s", what, dir ? "_reverse" : "");
  return find_param(l, fmt, k);
}

/* "<layer>_<what><k>", "_reverse" after it for the backward direction: PyTorch's naming. */
static const char *dir_name(Lowering *lw, const Layer *l, const char *what, int k, int dir) {
  const char *name = vname(lw, l, what, k);
  return dir ? arena_printf(lw->a, "%s_reverse", name) : name;
}

/* lstm: rows of [W_ih | W_hh] and b_ih + b_hh, packed as the gemv packs them. */
static int lstm_weights(Lowering *lw, int li, int k, int dir, int *bias) {
  const Layer *l = &lw->g->layer[li];
  return gate_weights(lw, li, dir_name(lw, l, "l", k, dir), dir_param(l, "weight_ih", k, dir),
                      dir_param(l, "weight_hh", k, dir), dir_param(l, "bias_ih", k, dir),
                      dir_param(l, "bias_hh", k, dir), bias);
}

int lower_bidirectional(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  bool lstm = l->op == &op_lstm;
  int H = l->hidden[0], n = l->frames, x = input_value(lw, l, 0);
  int nx = (int)lw->p->v[x].size;
  int ring = window_ring(lw, li, x, n, "frames");
  int seq = add_value(lw, V_TRANSIENT, li, (int64_t)n * nx, vname(lw, l, "window", -1));
  add_call(lw, K_WINDOW_GATHER, li, -1, (int[]){seq, ring}, 2, (int[]){nx, n}, 2)->note =
      "the window's frames, oldest first";
  int rows = (lstm ? 4 : 3) * H, padded = (rows + 7) / 8 * 8;
  int scratch = add_value(lw, V_TRANSIENT, li, lstm ? padded + 2 * H : 2 * padded + H,
                          vname(lw, l, "scratch", -1));
  for (int k = 0; k < l->stack; k++) {
    int y = add_value(lw, V_TRANSIENT, li, (int64_t)n * 2 * H, vname(lw, l, "out", k));
    for (int dir = 0; dir < 2; dir++) {
      const char *note = dir ? "backward" : "forward";
      int dims[4] = {nx, H, n, dir};
      if (lstm) {
        int b, w = lstm_weights(lw, li, k, dir, &b);
        add_call(lw, K_LSTM_SEQ, li, k, (int[]){y, w, b, seq, scratch}, 5, dims, 4)->note = note;
      } else {
        int bi, bh;
        int wi = gemv_weights(lw, li, dir_name(lw, l, "ih_l", k, dir),
                              dir_param(l, "weight_ih", k, dir), dir_param(l, "bias_ih", k, dir), &bi);
        int wh = gemv_weights(lw, li, dir_name(lw, l, "hh_l", k, dir),
                              dir_param(l, "weight_hh", k, dir), dir_param(l, "bias_hh", k, dir), &bh);
        add_call(lw, K_GRU_SEQ, li, k, (int[]){y, wi, bi, wh, bh, seq, scratch}, 7, dims, 4)->note =
            note;
      }
    }
    seq = y, nx = 2 * H;
  }
  return seq;
}

/* ---- the interpreter: both directions of each stacked layer over the window, in double ---- */
void interp_init_bidirectional(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  LayerState *s = &in->s[li];
  int H = l->hidden[0];
  s->ring = interp_zeros(in->a, l->frames * shape_elems(l->in_shape));
  /* the window's frames, one layer's output, two gate vectors, h and c */
  int64_t d = shape_elems(l->in_shape) > 2LL * H ? shape_elems(l->in_shape) : 2LL * H;
  s->work = interp_zeros(in->a, (int64_t)l->frames * (d + 2LL * H) + 10LL * H);
}

void interp_bidirectional_frame(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  ring_push(in->s[li].ring, interp_input(in, l, 0), shape_elems(l->in_shape), l->frames,
            in->frames);
}

/* One direction over `valid` frames of x (nx each) into y's rows (2 H each), half dir. */
static void run_direction(const Layer *l, int k, int dir, const double *x, int nx, int valid,
                          double *y, double *work) {
  int H = l->hidden[0];
  bool lstm = l->op == &op_lstm;
  int G = (lstm ? 4 : 3) * H;
  double *gi = work, *gh = work + G, *h = gh + G, *c = h + H;
  memset(h, 0, 2 * (size_t)H * sizeof *h);
  const float *wih = dir_param(l, "weight_ih", k, dir)->data, *whh = dir_param(l, "weight_hh", k, dir)->data;
  const float *bih = dir_param(l, "bias_ih", k, dir)->data, *bhh = dir_param(l, "bias_hh", k, dir)->data;
  for (int s = 0; s < valid; s++) {
    int t = dir ? valid - 1 - s : s;
    interp_matvec(gi, wih, bih, x + (size_t)t * nx, G, nx);
    interp_matvec(gh, whh, bhh, h, G, H);
    for (int j = 0; j < H; j++) {
      if (lstm) {
        double cn = interp_sigmoid(gi[H + j] + gh[H + j]) * c[j] +
                    interp_sigmoid(gi[j] + gh[j]) * tanh(gi[2 * H + j] + gh[2 * H + j]);
        c[j] = cn;
        h[j] = interp_sigmoid(gi[3 * H + j] + gh[3 * H + j]) * tanh(cn);
      } else {
        double r = interp_sigmoid(gi[j] + gh[j]), z = interp_sigmoid(gi[H + j] + gh[H + j]);
        double nn = tanh(gi[2 * H + j] + r * gh[2 * H + j]);
        h[j] = (1 - z) * nn + z * h[j];
      }
    }
    for (int j = 0; j < H; j++) /* each frame's h a float32, as PyTorch's output holds it */
      y[(size_t)t * 2 * H + (size_t)dir * H + j] = (float)h[j];
  }
}

void interp_bidirectional(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  LayerState *s = &in->s[li];
  int H = l->hidden[0], n = l->frames, valid = ring_valid(in, n);
  int nx = (int)shape_elems(l->in_shape), d = nx > 2 * H ? nx : 2 * H;
  double *x = s->work, *out = x + (size_t)n * d, *work = out + (size_t)n * 2 * H;
  for (int t = 0; t < valid; t++) /* oldest first */
    memcpy(x + (size_t)t * nx, s->ring + (size_t)ring_slot(in, n, valid - 1 - t) * nx,
           (size_t)nx * sizeof *x);
  for (int k = 0; k < l->stack; k++) {
    memset(out, 0, (size_t)n * 2 * H * sizeof *out);
    for (int dir = 0; dir < 2; dir++)
      run_direction(l, k, dir, x, nx, valid, out, work);
    memcpy(x, out, (size_t)n * 2 * H * sizeof *x);
    nx = 2 * H;
  }
  memcpy(s->y, out, (size_t)n * 2 * H * sizeof *out);
}
