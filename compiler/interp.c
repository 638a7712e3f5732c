/* The reference interpreter: runs the spec's layers directly from
 * SEMANTICS' equations, in double precision, with no fusion, lowering,
 * packing or planning.  It is the oracle the generated code is tested
 * against. */
#include <math.h>
#include <string.h>

#include "reel.h"

typedef struct {
  double *h[MAX_STACK], *c[MAX_STACK]; /* recurrent state per stacked layer */
  double *y;                           /* this layer's output for the current frame */
  double *work;                        /* conv cells' gates and temporaries, reused each step */
  double *ring;   /* `window`: the last outputs; a windowed temporal op: the last inputs */
  double *acc;    /* a clip pool's running max, sum or concatenation */
  double *weights; /* attention: the last softmax, as reported */
} LayerState;

typedef struct {
  Arena *a;
  const Graph *g;
  LayerState *s;
  const double *input;  /* the current frame */
  double *feedback;     /* a forecast's input: the last frame, then its own output */
  unsigned long frames; /* since reset, the current one included */
} Interp;

static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }

static double *zeros(Arena *a, int64_t n) { return arena_alloc(a, (size_t)(n ? n : 1) * sizeof(double)); }

/* y = W x + b for row-major W (rows x cols). */
static void matvec(double *y, const float *w, const float *b, const double *x, int rows, int cols) {
  for (int r = 0; r < rows; r++) {
    double s = b ? b[r] : 0.0;
    for (int j = 0; j < cols; j++)
      s += (double)w[(size_t)r * cols + j] * x[j];
    y[r] = s;
  }
}

/* y (+)= conv2d([x0; x1]) + b: PyTorch's cross-correlation, groups included. */
static void conv(double *y, bool accumulate, const double *x0, int c0, const double *x1, int c1,
                 int h, int w, const float *wt, const float *b, int out_c, int oh, int ow,
                 const Window *win, int groups) {
  int cpg = (c0 + c1) / groups, opg = out_c / groups;
  for (int o = 0; o < out_c; o++)
    for (int r = 0; r < oh; r++)
      for (int q = 0; q < ow; q++) {
        double s = accumulate ? y[((size_t)o * oh + r) * ow + q] : b ? b[o] : 0.0;
        for (int ig = 0; ig < cpg; ig++) {
          int ic = o / opg * cpg + ig;
          /* x1 is NULL only with c1 = 0, when ic < c0 always */
          /* cppcheck-suppress nullPointerArithmetic */
          const double *plane = ic < c0 ? x0 + (size_t)ic * h * w : x1 + (size_t)(ic - c0) * h * w;
          for (int kr = 0; kr < win->kh; kr++)
            for (int kq = 0; kq < win->kw; kq++) {
              int ir = r * win->sh - win->pad_top + kr * win->dh;
              int iq = q * win->sw - win->pad_left + kq * win->dw;
              if (ir >= 0 && ir < h && iq >= 0 && iq < w)
                s += (double)wt[(((size_t)o * cpg + ig) * win->kh + kr) * win->kw + kq] *
                     plane[(size_t)ir * w + iq];
            }
        }
        y[((size_t)o * oh + r) * ow + q] = s;
      }
}

static Window same_window(int k) {
  return (Window){.kh = k, .kw = k, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pad_top = k / 2,
                  .pad_bottom = k / 2, .pad_left = k / 2, .pad_right = k / 2};
}

static void pool(double *y, const double *x, int c, int h, int w, int oh, int ow, const Window *win,
                 bool max) {
  for (int k = 0; k < c; k++)
    for (int r = 0; r < oh; r++)
      for (int q = 0; q < ow; q++) {
        int r0 = r * win->sh - win->pad_top, q0 = q * win->sw - win->pad_left;
        int r1 = r0 + win->kh, q1 = q0 + win->kw;
        /* PyTorch: avg divides by the window clipped to the padded input,
         * or (count_include_pad false) to the input */
        int pr1 = r1 < h + win->pad_top ? r1 : h + win->pad_top;
        int pq1 = q1 < w + win->pad_left ? q1 : w + win->pad_left;
        int padded = (pr1 - r0) * (pq1 - q0), count = 0;
        double acc = max ? -INFINITY : 0.0;
        for (int ir = r0 < 0 ? 0 : r0; ir < r1 && ir < h; ir++)
          for (int iq = q0 < 0 ? 0 : q0; iq < q1 && iq < w; iq++) {
            double v = x[((size_t)k * h + ir) * w + iq];
            acc = max ? (v > acc || isnan(v) ? v : acc) : acc + v;
            count++;
          }
        y[((size_t)k * oh + r) * ow + q] = max ? acc : acc / (win->count_include_pad ? padded : count);
      }
}

static const double *layer_input(Interp *in, const Layer *l, int k) {
  if (l->input[k] < 0)
    return l->phase == PHASE_FORECAST ? in->feedback : in->input;
  return in->s[l->input[k]].y;
}

/* Entries of a ring of n that hold frames, and the slot of the entry `age`
 * frames old (frame t (1-based) is in slot (t - 1) % n). */
static int ring_valid(const Interp *in, int n) {
  return in->frames < (unsigned long)n ? (int)in->frames : n;
}

static int ring_slot(const Interp *in, int n, int age) {
  return (int)((in->frames - 1 - (unsigned long)age) % (unsigned long)n);
}

/* Attention over a window (keys by age) or a map's positions. */
static void attention(Interp *in, const Layer *l, LayerState *s) {
  const Graph *g = in->g;
  const Layer *q_layer = &g->layer[l->query];
  const double *q = l->query_prev ? in->s[l->query].h[q_layer->stack - 1] : in->s[l->query].y;
  int dq = l->query_prev ? q_layer->hidden[q_layer->stack - 1] : (int)shape_elems(q_layer->out_shape);
  int n = l->keys_map ? l->keys_n : ring_valid(in, l->keys_n), dk = l->key_dim, dv = l->value_dim;
  const double *keys = l->keys_map ? layer_input(in, l, 0) : in->s[l->input[0]].ring;
  const double *vals = l->values < 0 ? keys : l->keys_map ? in->s[l->values].y : in->s[l->values].ring;
  double *e = s->work, *proj = s->work + l->keys_n;
  memset(s->y, 0, (size_t)dv * sizeof(double));
  memset(s->weights, 0, (size_t)l->keys_n * sizeof(double));
  /* key i's element k: entry i of the window (by age), or position i of the map */
#define KEY(base, dim, i, k) (l->keys_map ? (base)[(size_t)(k) * l->keys_n + (i)] \
                                          : (base)[(size_t)ring_slot(in, l->keys_n, i) * (dim) + (k)])
  if (l->score == SCORE_GENERAL)
    matvec(proj, find_param(l, "w_q.weight", 0)->data, NULL, q, dk, dq);
  if (l->score == SCORE_ADDITIVE)
    matvec(proj, find_param(l, "w_h.weight", 0)->data, NULL, q, l->hidden[0], dq);
  if (l->score == SCORE_LOCATION)
    matvec(e, l->param[0].data, l->param[1].data, q, n, dq);
  for (int i = 0; i < n; i++) {
    double score = 0;
    if (l->score == SCORE_DOT || l->score == SCORE_GENERAL) {
      const double *qq = l->score == SCORE_DOT ? q : proj;
      for (int k = 0; k < dk; k++)
        score += qq[k] * KEY(keys, dk, i, k);
      if (l->scale)
        score /= sqrt((double)dk);
    } else if (l->score == SCORE_ADDITIVE) {
      const float *wx = find_param(l, "w_x.weight", 0)->data, *bx = find_param(l, "w_x.bias", 0)->data;
      const float *v = find_param(l, "v.weight", 0)->data;
      for (int a = 0; a < l->hidden[0]; a++) {
        double t = bx[a] + proj[a];
        for (int k = 0; k < dk; k++)
          t += wx[(size_t)a * dk + k] * KEY(keys, dk, i, k);
        score += v[a] * tanh(t);
      }
    } else {
      score = e[i];
    }
    e[i] = score;
  }
  if (n == 0)
    return;
  double max = e[0], sum = 0;
  for (int i = 1; i < n; i++)
    max = e[i] > max ? e[i] : max;
  for (int i = 0; i < n; i++)
    sum += e[i] = exp(e[i] - max);
  for (int i = 0; i < n; i++) {
    s->weights[i] = e[i] / sum;
    for (int k = 0; k < dv; k++)
      s->y[k] += s->weights[i] * KEY(vals, dv, i, k);
  }
#undef KEY
}

/* A windowed temporal op on the frames of its ring, oldest first (a window
 * not yet full: the frames so far; temporal_conv pads it with zeros). */
static void temporal_window(Interp *in, const Layer *l, LayerState *s) {
  int w = l->frames, valid = ring_valid(in, w), size = (int)shape_elems(l->in_shape);
  if (l->op == OP_TEMPORAL_POOL) {
    for (int i = 0; i < size; i++) {
      double acc = l->tmode == TPOOL_MAX ? -INFINITY : 0;
      for (int t = 0; t < valid; t++) {
        double v = s->ring[(size_t)ring_slot(in, w, t) * size + i];
        acc = l->tmode == TPOOL_MAX ? (v > acc || isnan(v) ? v : acc) : acc + v;
      }
      s->y[i] = l->tmode == TPOOL_MAX ? acc : acc / valid;
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
  matvec(s->h[0], find_param(l, "init_h.weight", 0)->data, find_param(l, "init_h.bias", 0)->data, m, H, d);
  matvec(s->c[0], find_param(l, "init_c.weight", 0)->data, find_param(l, "init_c.bias", 0)->data, m, H, d);
  for (int j = 0; j < H; j++) {
    s->h[0][j] = tanh(s->h[0][j]);
    s->c[0][j] = tanh(s->c[0][j]);
  }
}

static void lstm_step(const Layer *l, LayerState *s, const double *x, double *gates, double *hr) {
  int H = l->hidden[0];
  for (int k = 0; k < l->stack; k++) {
    double *h = s->h[k], *c = s->c[k];
    int in = k == 0 ? (int)shape_elems(l->in_shape) : H;
    matvec(gates, find_param(l, "weight_ih_l%d", k)->data, find_param(l, "bias_ih_l%d", k)->data, x, 4 * H, in);
    matvec(hr, find_param(l, "weight_hh_l%d", k)->data, find_param(l, "bias_hh_l%d", k)->data, h, 4 * H, H);
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
      double cn = sigm(pf) * c[j] + sigm(pi) * tanh(pg);
      if (peep)
        po += wco[j] * cn; /* the output gate sees the new cell */
      c[j] = cn;
      h[j] = sigm(po) * tanh(cn);
    }
    x = h;
  }
}

static void gru_step(const Layer *l, LayerState *s, const double *x, double *gi, double *gh) {
  int H = l->hidden[0];
  for (int k = 0; k < l->stack; k++) {
    double *h = s->h[k];
    int in = k == 0 ? (int)shape_elems(l->in_shape) : H;
    matvec(gi, find_param(l, "weight_ih_l%d", k)->data, find_param(l, "bias_ih_l%d", k)->data, x, 3 * H, in);
    matvec(gh, find_param(l, "weight_hh_l%d", k)->data, find_param(l, "bias_hh_l%d", k)->data, h, 3 * H, H);
    for (int j = 0; j < H; j++) {
      double r = sigm(gi[j] + gh[j]), z = sigm(gi[H + j] + gh[H + j]);
      double n = tanh(gi[2 * H + j] + r * gh[2 * H + j]);
      h[j] = (1 - z) * n + z * h[j];
    }
    x = h;
  }
}

/* ConvLSTM (ConvLSTM_pytorch): gates [i f o g] = conv([x; h]) + b. */
static void convlstm_step(Interp *in, const Layer *l, LayerState *s) {
  int rows = l->in_shape.dim[1], cols = l->in_shape.dim[2], plane = rows * cols;
  const double *x = l->n_input ? layer_input(in, l, 0) : NULL;
  int c_in = l->n_input ? l->in_shape.dim[0] : 0;
  Window win = same_window(l->kernel);
  for (int k = 0; k < l->stack; k++) {
    int H = l->hidden[k], n = H * plane;
    double *gates = s->work, *h = s->h[k], *c = s->c[k];
    conv(gates, false, x, c_in, h, H, rows, cols, find_param(l, "cell_list.%d.conv.weight", k)->data,
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
      double cn = sigm(pf) * c[j] + sigm(pi) * tanh(pg);
      if (l->peephole)
        po += wco[p] * cn;
      c[j] = cn;
      h[j] = sigm(po) * tanh(cn);
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
static void convgru_step(Interp *in, const Layer *l, LayerState *s) {
  int rows = l->in_shape.dim[1], cols = l->in_shape.dim[2];
  const double *x = layer_input(in, l, 0);
  int c_in = l->in_shape.dim[0];
  Window win = same_window(l->kernel), two = {.kh = 2, .kw = 2, .sh = 2, .sw = 2, .dh = 1, .dw = 1};
  for (int k = 0; k < l->stack; k++) {
    int H = l->hidden[k], prev_rows = rows, prev_cols = cols;
    if (l->rcn && k > 0) {
      x = layer_input(in, l, k);
      c_in = in->g->layer[l->input[k]].out_shape.dim[0];
      rows /= 2, cols /= 2;
    }
    int n = H * rows * cols;
    double *gates = s->work, *cand = gates + (size_t)2 * n, *rh = cand + n, *h = s->h[k];
    conv(gates, false, x, c_in, h, H, rows, cols, find_param(l, "cell_list.%d.conv_gates.weight", k)->data,
         find_param(l, "cell_list.%d.conv_gates.bias", k)->data, 2 * H, rows, cols, &win, 1);
    if (l->rcn && k > 0) {
      int H0 = l->hidden[k - 1];
      double *pooled = rh + n; /* H0 x rows x cols <= the largest state */
      pool(pooled, s->h[k - 1], H0, prev_rows, prev_cols, rows, cols, &two, true);
      conv(gates, true, pooled, H0, NULL, 0, rows, cols,
           find_param(l, "cell_list.%d.conv_below.weight", k)->data, NULL, 2 * H, rows, cols, &win, 1);
    }
    for (int j = 0; j < n; j++)
      rh[j] = sigm(gates[j]) * h[j];
    conv(cand, false, x, c_in, rh, H, rows, cols, find_param(l, "cell_list.%d.conv_can.weight", k)->data,
         find_param(l, "cell_list.%d.conv_can.bias", k)->data, H, rows, cols, &win, 1);
    for (int j = 0; j < n; j++) {
      double z = sigm(gates[n + j]);
      h[j] = (1 - z) * h[j] + z * tanh(cand[j]);
    }
    x = h;
    c_in = H;
  }
  memcpy(s->y, x, (size_t)shape_elems(l->out_shape) * sizeof(double));
}

static void run_layer(Interp *in, int li, double *t1, double *t2) {
  const Layer *l = &in->g->layer[li];
  LayerState *s = &in->s[li];
  const double *x = l->n_input ? layer_input(in, l, 0) : NULL;
  int64_t n = shape_elems(l->out_shape);
  double *y = s->y;
  switch (l->op) {
  case OP_LINEAR:
    matvec(y, l->param[0].data, l->bias ? l->param[1].data : NULL, x, l->out,
           (int)shape_elems(l->in_shape));
    break;
  case OP_RELU:
  case OP_RELU6:
  case OP_LEAKY_RELU:
  case OP_SIGMOID:
  case OP_TANH:
    for (int64_t i = 0; i < n; i++) {
      double v = x[i];
      y[i] = l->op == OP_RELU ? (v > 0 ? v : 0)
             : l->op == OP_RELU6 ? fmin(fmax(v, 0), 6)
             : l->op == OP_LEAKY_RELU ? (v >= 0 ? v : l->slope * v)
             : l->op == OP_SIGMOID ? sigm(v) : tanh(v);
    }
    break;
  case OP_SOFTMAX: {
    double max = x[0], sum = 0;
    for (int64_t i = 1; i < n; i++)
      max = x[i] > max ? x[i] : max;
    for (int64_t i = 0; i < n; i++)
      sum += y[i] = exp(x[i] - max);
    for (int64_t i = 0; i < n; i++)
      y[i] /= sum;
    break;
  }
  case OP_DROPOUT:
  case OP_FLATTEN:
    memcpy(y, x, (size_t)n * sizeof *y);
    break;
  case OP_LSTM:
    if (l->init_from >= 0 && in->frames == 1 && l->phase == PHASE_STEP)
      lstm_init_from(in, l, s);
    lstm_step(l, s, x, t1, t2);
    memcpy(y, s->h[l->stack - 1], (size_t)n * sizeof *y);
    break;
  case OP_GRU:
    gru_step(l, s, x, t1, t2);
    memcpy(y, s->h[l->stack - 1], (size_t)n * sizeof *y);
    break;
  case OP_CONV2D:
    conv(y, false, x, l->in_shape.dim[0], NULL, 0, l->in_shape.dim[1], l->in_shape.dim[2],
         l->param[0].data, l->bias ? l->param[1].data : NULL, l->out, l->out_shape.dim[1],
         l->out_shape.dim[2], &l->win, l->groups);
    break;
  case OP_BATCHNORM: {
    int c = l->in_shape.dim[0];
    int64_t plane = n / c;
    for (int k = 0; k < c; k++) {
      double scale = l->param[0].data[k] / sqrt((double)l->param[3].data[k] + l->eps);
      for (int64_t i = 0; i < plane; i++)
        y[k * plane + i] = (x[k * plane + i] - l->param[2].data[k]) * scale + l->param[1].data[k];
    }
    break;
  }
  case OP_MAXPOOL:
  case OP_AVGPOOL:
    pool(y, x, l->in_shape.dim[0], l->in_shape.dim[1], l->in_shape.dim[2], l->out_shape.dim[1],
         l->out_shape.dim[2], &l->win, l->op == OP_MAXPOOL);
    break;
  case OP_GLOBAL_AVGPOOL: {
    int64_t plane = (int64_t)l->in_shape.dim[1] * l->in_shape.dim[2];
    for (int k = 0; k < l->in_shape.dim[0]; k++) {
      double sum = 0;
      for (int64_t i = 0; i < plane; i++)
        sum += x[k * plane + i];
      y[k] = sum / (double)plane;
    }
    break;
  }
  case OP_ADD:
    memcpy(y, x, (size_t)n * sizeof *y);
    for (int k = 1; k < l->n_input; k++) {
      const double *xk = layer_input(in, l, k);
      for (int64_t i = 0; i < n; i++)
        y[i] += xk[i];
    }
    break;
  case OP_CONCAT: {
    int64_t offset = 0;
    for (int k = 0; k < l->n_input; k++) {
      int src = l->input[k];
      int64_t m = shape_elems(src < 0 ? in->g->input : in->g->layer[src].out_shape);
      memcpy(y + offset, layer_input(in, l, k), (size_t)m * sizeof *y);
      offset += m;
    }
    break;
  }
  case OP_PIXEL_SHUFFLE:
  case OP_PIXEL_UNSHUFFLE: {
    bool up = l->op == OP_PIXEL_SHUFFLE;
    int r = l->factor, c = up ? l->out_shape.dim[0] : l->in_shape.dim[0];
    int h = up ? l->in_shape.dim[1] : l->out_shape.dim[1], w = up ? l->in_shape.dim[2] : l->out_shape.dim[2];
    for (int k = 0; k < c; k++)
      for (int i = 0; i < r; i++)
        for (int j = 0; j < r; j++)
          for (int row = 0; row < h; row++)
            for (int col = 0; col < w; col++) {
              size_t big = ((size_t)k * h * r + (size_t)row * r + i) * w * r + (size_t)col * r + j;
              size_t small = (((size_t)k * r + i) * r + j) * h * w + (size_t)row * w + col;
              if (up)
                y[big] = x[small];
              else
                y[small] = x[big];
            }
    break;
  }
  case OP_CONVLSTM:
    convlstm_step(in, l, s);
    break;
  case OP_CONVGRU:
    convgru_step(in, l, s);
    break;
  case OP_ATTENTION:
    attention(in, l, s);
    break;
  case OP_TEMPORAL_POOL:
  case OP_TEMPORAL_CONV:
    temporal_window(in, l, s);
    break;
  default:
    break;
  }
}

static bool window_closes(const Interp *in, const Layer *t) {
  return in->frames >= (unsigned long)t->frames &&
         (in->frames - (unsigned long)t->frames) % (unsigned long)t->tstride == 0;
}

/* Values a clip pool has folded in: frames, or closed windows. */
static unsigned long pool_values(const Interp *in, const Layer *l) {
  if (l->gate < 0)
    return in->frames;
  const Layer *t = &in->g->layer[l->gate];
  return in->frames >= (unsigned long)t->frames
             ? (in->frames - (unsigned long)t->frames) / (unsigned long)t->tstride + 1 : 0;
}

static void push(double *ring, const double *x, int64_t size, int n, unsigned long frames) {
  memcpy(ring + (size_t)((frames - 1) % (unsigned long)n) * size, x, (size_t)size * sizeof(double));
}

/* One frame through the per-frame chain, at each layer's rate. */
static void step_frame(Interp *in, double *t1, double *t2) {
  const Graph *g = in->g;
  for (int i = 0; i < g->n_step_layers; i++) {
    const Layer *l = &g->layer[i];
    LayerState *s = &in->s[i];
    bool windowed = (l->op == OP_TEMPORAL_POOL && l->frames) || l->op == OP_TEMPORAL_CONV;
    if (windowed)
      push(s->ring, layer_input(in, l, 0), shape_elems(l->in_shape), l->frames, in->frames);
    if (l->rate == RATE_CLIP) { /* a clip pool folds; the layers after it wait for clip() */
      if (l->op != OP_TEMPORAL_POOL || (l->gate >= 0 && !window_closes(in, &g->layer[l->gate])))
        continue;
      int64_t size = shape_elems(l->in_shape);
      unsigned long k = pool_values(in, l);
      const double *x = layer_input(in, l, 0);
      for (int64_t j = 0; j < size; j++) {
        if (l->tmode == TPOOL_MAX)
          s->acc[j] = k == 1 || x[j] > s->acc[j] || isnan(x[j]) ? x[j] : s->acc[j];
        else if (l->tmode == TPOOL_MEAN)
          s->acc[j] += x[j];
        else if (k <= (unsigned long)l->count)
          s->acc[(k - 1) * size + j] = x[j];
      }
      continue;
    }
    if (l->rate == RATE_WINDOW && !window_closes(in, &g->layer[l->gate]))
      continue;
    run_layer(in, i, t1, t2);
    if (l->window)
      push(s->ring, s->y, shape_elems(l->out_shape), l->window, in->frames);
  }
}

/* The per-clip layers on the pools' current values (a pool whose input
 * windows have not closed yet: the frames so far as its one window). */
static const double *eval_clip(Interp *in, double *t1, double *t2) {
  const Graph *g = in->g;
  for (int i = 0; i < g->n_step_layers; i++) {
    const Layer *l = &g->layer[i];
    LayerState *s = &in->s[i];
    if (l->rate != RATE_CLIP)
      continue;
    if (l->op != OP_TEMPORAL_POOL) {
      run_layer(in, i, t1, t2);
      continue;
    }
    int64_t size = shape_elems(l->in_shape), total = shape_elems(l->out_shape);
    unsigned long k = pool_values(in, l);
    if (l->gate >= 0 && k == 0) { /* the partial window, through the layers it feeds */
      for (int j = l->gate; j < i; j++)
        if (g->layer[j].rate == RATE_WINDOW && g->layer[j].gate == l->gate)
          run_layer(in, j, t1, t2);
      memset(s->y, 0, (size_t)total * sizeof(double));
      memcpy(s->y, layer_input(in, l, 0), (size_t)size * sizeof(double));
      continue;
    }
    for (int64_t j = 0; j < total; j++)
      s->y[j] = k == 0 ? 0 : l->tmode == TPOOL_MEAN ? s->acc[j] / (double)k : s->acc[j];
  }
  return in->s[g->n_step_layers - 1].y;
}

/* [T, *frame], or [T, frame elements]: the same floats in the same order. */
static bool input_fits(Arena *a, const Graph *g, const Tensor *x, const char *path) {
  bool fits = x->shape.rank == g->input.rank + 1 && x->shape.dim[0] >= 1;
  for (int i = 0; fits && i < g->input.rank; i++)
    fits = x->shape.dim[i + 1] == g->input.dim[i];
  if (!fits && x->shape.rank == 2 && x->shape.dim[0] >= 1)
    fits = x->shape.dim[1] == shape_elems(g->input);
  if (!fits)
    diag_error((Loc){path, 0, 0}, "tensor 'input' has shape %s: expected [T, %s with T >= 1",
               shape_str(a, x->shape), shape_str(a, g->input) + 1);
  return fits;
}

static Shape with_time(int t, Shape s) {
  Shape r = {s.rank + 1, {t}};
  for (int i = 0; i < s.rank; i++)
    r.dim[i + 1] = s.dim[i];
  return r;
}

bool interp_run(Arena *a, const Graph *g, TensorFile *inputs, const char *out_path) {
  Tensor *x = tensors_find(inputs, "input");
  if (!x) {
    diag_error((Loc){inputs->path, 0, 0}, "no tensor 'input': expected [T, %s",
               shape_str(a, g->input) + 1);
    return false;
  }
  if (!x->data) {
    diag_error((Loc){inputs->path, 0, 0}, "tensor 'input' is %s: expected floats (F32, F16, BF16 "
               "or F64)", x->dtype);
    return false;
  }
  if (!input_fits(a, g, x, inputs->path))
    return false;
  int64_t frame = shape_elems(g->input);
  int T = x->shape.dim[0], out = graph_out_size(g);

  Interp in = {a, g, arena_alloc(a, (size_t)g->n_layer * sizeof(LayerState)), zeros(a, frame), NULL, 0};
  int64_t widest = 1, attention_floats = 0;
  for (int i = 0; i < g->n_layer; i++) {
    const Layer *l = &g->layer[i];
    in.s[i].y = zeros(a, shape_elems(l->out_shape));
    int rows = l->op == OP_CONVLSTM || l->op == OP_CONVGRU ? l->in_shape.dim[1] : 1;
    int cols = l->op == OP_CONVLSTM || l->op == OP_CONVGRU ? l->in_shape.dim[2] : 1;
    int64_t largest = 0; /* floats in the largest state of the stack */
    for (int k = 0; k < l->stack; k++) {
      if (l->rcn && k > 0)
        rows /= 2, cols /= 2;
      in.s[i].h[k] = zeros(a, (int64_t)l->hidden[k] * rows * cols);
      in.s[i].c[k] = zeros(a, (int64_t)l->hidden[k] * rows * cols);
      if ((int64_t)l->hidden[k] * rows * cols > largest)
        largest = (int64_t)l->hidden[k] * rows * cols;
    }
    if (l->op == OP_CONVLSTM || l->op == OP_CONVGRU) /* 4 gate planes, or 2 + cand + rh + pooled */
      in.s[i].work = zeros(a, 5 * largest);
    if (l->op == OP_ATTENTION) { /* scores, then the projected query */
      int proj = l->key_dim > l->hidden[0] ? l->key_dim : l->hidden[0];
      in.s[i].work = zeros(a, (int64_t)l->keys_n + proj);
      in.s[i].weights = zeros(a, l->keys_n);
      attention_floats += l->phase == PHASE_STEP ? l->keys_n : 0;
    }
    if (l->init_from >= 0) /* the mean feature */
      in.s[i].work = zeros(a, g->layer[l->init_from].out_shape.dim[0]);
    if (l->window)
      in.s[i].ring = zeros(a, l->window * shape_elems(l->out_shape));
    if (l->op == OP_TEMPORAL_CONV || (l->op == OP_TEMPORAL_POOL && l->frames))
      in.s[i].ring = zeros(a, l->frames * shape_elems(l->in_shape));
    if (l->op == OP_TEMPORAL_POOL && !l->frames)
      in.s[i].acc = zeros(a, shape_elems(l->out_shape));
    if (4 * (int64_t)l->hidden[0] > widest)
      widest = 4 * (int64_t)l->hidden[0];
  }
  double *t1 = zeros(a, widest), *t2 = zeros(a, widest), *acc = zeros(a, out);
  float *per_frame = arena_alloc(a, (size_t)T * out * sizeof(float));
  float *clip_steps = arena_alloc(a, (size_t)T * out * sizeof(float));
  float *weights = arena_alloc(a, (size_t)(T * attention_floats + 1) * sizeof(float));
  double *last = zeros(a, frame);

  for (int t = 0; t < T; t++) {
    double *frame_in = (double *)in.input;
    for (int64_t i = 0; i < frame; i++)
      frame_in[i] = last[i] = x->data[t * frame + i];
    in.frames++;
    step_frame(&in, t1, t2);
    const double *y = in.s[g->n_step_layers - 1].y;
    if (g->clip_head)
      y = eval_clip(&in, t1, t2);
    double scale = g->clip == CLIP_MEAN ? 1.0 / (t + 1) : g->clip == CLIP_WEIGHTED ? 2.0 / ((t + 1.0) * (t + 2)) : 1.0;
    for (int i = 0; i < out; i++) {
      double p = y[i];
      per_frame[(size_t)t * out + i] = (float)p;
      if (g->clip == CLIP_MEAN)
        acc[i] += p;
      else if (g->clip == CLIP_WEIGHTED)
        acc[i] += (t + 1) * p;
      else if (g->clip == CLIP_MAX)
        acc[i] = t == 0 || p > acc[i] ? p : acc[i];
      else
        acc[i] = p; /* last, or the per-clip output */
      clip_steps[(size_t)t * out + i] = (float)(acc[i] * scale);
    }
    int64_t at = 0;
    for (int i = 0; i < g->n_step_layers; i++)
      for (int j = 0; g->layer[i].op == OP_ATTENTION && j < g->layer[i].keys_n; j++)
        weights[t * attention_floats + at++] = (float)in.s[i].weights[j];
  }

  Tensor result[6];
  int n = 0;
  Shape out_shape = g->layer[g->n_step_layers - 1].out_shape;
  if (g->per_frame)
    result[n++] = (Tensor){.name = "output", .shape = with_time(T, out_shape), .data = per_frame};
  if (g->clip || g->clip_head) {
    result[n++] = (Tensor){.name = "clip", .shape = out_shape,
                           .data = clip_steps + (size_t)(T - 1) * out};
    result[n++] = (Tensor){.name = "clip_steps", .shape = with_time(T, out_shape), .data = clip_steps};
  }
  if (attention_floats)
    result[n++] = (Tensor){.name = "attention", .shape = (Shape){2, {T, (int)attention_floats}},
                           .data = weights};
  const Layer *fc = forecast_output(g);
  if (fc) {
    int64_t fsize = shape_elems(fc->out_shape);
    float *frames = arena_alloc(a, (size_t)(g->forecast_steps * fsize) * sizeof *frames);
    const Layer *first = &g->layer[g->n_step_layers];
    for (int i = g->n_step_layers; i < g->n_layer; i++) { /* every forecast starts afresh */
      const Layer *l = &g->layer[i];
      int64_t rows = l->op == OP_CONVLSTM || l->op == OP_CONVGRU ? l->in_shape.dim[1] : 1;
      int64_t cols = l->op == OP_CONVLSTM || l->op == OP_CONVGRU ? l->in_shape.dim[2] : 1;
      for (int k = 0; k < l->stack; k++) {
        if (l->rcn && k > 0)
          rows /= 2, cols /= 2;
        memset(in.s[i].h[k], 0, (size_t)(l->hidden[k] * rows * cols) * sizeof(double));
        memset(in.s[i].c[k], 0, (size_t)(l->hidden[k] * rows * cols) * sizeof(double));
      }
    }
    if (first->init_state >= 0) /* the forecaster starts from the encoder's state */
      for (int k = 0; k < first->stack; k++) {
        bool conv = first->op == OP_CONVLSTM;
        size_t bytes = (size_t)first->hidden[k] * (conv ? first->in_shape.dim[1] * first->in_shape.dim[2] : 1) *
                       sizeof(double);
        memcpy(in.s[g->n_step_layers].h[k], in.s[first->init_state].h[k], bytes);
        memcpy(in.s[g->n_step_layers].c[k], in.s[first->init_state].c[k], bytes);
      }
    in.feedback = last; /* the last observed frame, then each forecast frame */
    for (int k = 0; k < g->forecast_steps; k++) {
      for (int i = g->n_step_layers; i < g->n_layer; i++)
        run_layer(&in, i, t1, t2);
      for (int64_t i = 0; i < fsize; i++)
        frames[k * fsize + i] = (float)in.s[g->n_layer - 1].y[i];
      if (g->feedback)
        memcpy(last, in.s[g->n_layer - 1].y, (size_t)fsize * sizeof(double));
    }
    result[n++] = (Tensor){.name = "forecast", .shape = with_time(g->forecast_steps, fc->out_shape),
                           .data = frames};
  }
  return safetensors_write(out_path, result, n);
}
