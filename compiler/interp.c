/* The reference interpreter: runs the spec's layers directly from
 * SEMANTICS' equations, in double precision, with no lowering, packing or
 * planning.  It is the oracle the generated code is tested against. */
#include <math.h>
#include <string.h>

#include "reel.h"

typedef struct {
  double *h, *c; /* per stacked layer: hidden * stack */
  double *y;     /* this layer's output for the current frame */
} LayerState;

static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }

/* y = W x + b for row-major W (rows x cols) given as float. */
static void matvec(double *y, const float *w, const float *b, const double *x, int rows, int cols) {
  for (int r = 0; r < rows; r++) {
    double s = b ? b[r] : 0.0;
    for (int j = 0; j < cols; j++)
      s += (double)w[(size_t)r * cols + j] * x[j];
    y[r] = s;
  }
}

static const float *pdata(const Layer *l, const char *suffix, int k) {
  char name[MAX_NAME * 2];
  snprintf(name, sizeof name, "%s.%s_l%d", l->name, suffix, k);
  for (int i = 0; i < l->n_param; i++)
    if (strcmp(l->param[i].name, name) == 0)
      return l->param[i].data;
  return NULL;
}

static void lstm_step(const Layer *l, LayerState *s, const double *x, double *gates, double *hr) {
  int H = l->hidden;
  for (int k = 0; k < l->stack; k++) {
    double *h = s->h + (size_t)k * H, *c = s->c + (size_t)k * H;
    int in = k == 0 ? (int)shape_elems(l->in_shape) : H;
    matvec(gates, pdata(l, "weight_ih", k), pdata(l, "bias_ih", k), x, 4 * H, in);
    matvec(hr, pdata(l, "weight_hh", k), pdata(l, "bias_hh", k), h, 4 * H, H);
    const float *wci = pdata(l, "weight_ci", k), *wcf = pdata(l, "weight_cf", k),
                *wco = pdata(l, "weight_co", k);
    for (int j = 0; j < H; j++) {
      double pi = gates[j] + hr[j], pf = gates[H + j] + hr[H + j];
      double pg = gates[2 * H + j] + hr[2 * H + j], po = gates[3 * H + j] + hr[3 * H + j];
      if (l->peephole == PEEPHOLE_DIAGONAL) {
        pi += wci[j] * c[j];
        pf += wcf[j] * c[j];
      }
      double cn = sigm(pf) * c[j] + sigm(pi) * tanh(pg);
      if (l->peephole == PEEPHOLE_DIAGONAL)
        po += wco[j] * cn; /* the output gate sees the new cell */
      c[j] = cn;
      h[j] = sigm(po) * tanh(cn);
    }
    x = h;
  }
}

static void gru_step(const Layer *l, LayerState *s, const double *x, double *gi, double *gh) {
  int H = l->hidden;
  for (int k = 0; k < l->stack; k++) {
    double *h = s->h + (size_t)k * H;
    int in = k == 0 ? (int)shape_elems(l->in_shape) : H;
    matvec(gi, pdata(l, "weight_ih", k), pdata(l, "bias_ih", k), x, 3 * H, in);
    matvec(gh, pdata(l, "weight_hh", k), pdata(l, "bias_hh", k), h, 3 * H, H);
    for (int j = 0; j < H; j++) {
      double r = sigm(gi[j] + gh[j]), z = sigm(gi[H + j] + gh[H + j]);
      double n = tanh(gi[2 * H + j] + r * gh[2 * H + j]);
      h[j] = (1 - z) * n + z * h[j];
    }
    x = h;
  }
}

static void run_layer(const Layer *l, LayerState *s, const double *x, double *t1, double *t2) {
  int n = (int)shape_elems(l->out_shape);
  double *y = s->y;
  switch (l->op) {
  case OP_LINEAR:
    matvec(y, l->param[0].data, l->bias ? l->param[1].data : NULL, x, l->out,
           (int)shape_elems(l->in_shape));
    break;
  case OP_RELU:
    for (int i = 0; i < n; i++)
      y[i] = x[i] > 0 ? x[i] : 0;
    break;
  case OP_SIGMOID:
    for (int i = 0; i < n; i++)
      y[i] = sigm(x[i]);
    break;
  case OP_TANH:
    for (int i = 0; i < n; i++)
      y[i] = tanh(x[i]);
    break;
  case OP_SOFTMAX: {
    double max = x[0], sum = 0;
    for (int i = 1; i < n; i++)
      max = x[i] > max ? x[i] : max;
    for (int i = 0; i < n; i++)
      sum += y[i] = exp(x[i] - max);
    for (int i = 0; i < n; i++)
      y[i] /= sum;
    break;
  }
  case OP_DROPOUT:
    memcpy(y, x, (size_t)n * sizeof *y);
    break;
  case OP_LSTM:
    lstm_step(l, s, x, t1, t2);
    memcpy(y, s->h + (size_t)(l->stack - 1) * l->hidden, (size_t)n * sizeof *y);
    break;
  case OP_GRU:
    gru_step(l, s, x, t1, t2);
    memcpy(y, s->h + (size_t)(l->stack - 1) * l->hidden, (size_t)n * sizeof *y);
    break;
  default:
    break;
  }
}

bool interp_run(Arena *a, const Graph *g, TensorFile *in, const char *out_path) {
  Tensor *x = tensors_find(in, "input");
  int64_t frame = shape_elems(g->input);
  if (!x) {
    diag_error((Loc){in->path, 0, 0}, "no tensor 'input': expected [T, %s]",
               shape_str(a, g->input) + 1);
    return false;
  }
  bool fits = x->shape.rank == g->input.rank + 1 && x->shape.dim[0] >= 1;
  for (int i = 0; fits && i < g->input.rank; i++)
    fits = x->shape.dim[i + 1] == g->input.dim[i];
  if (!fits) {
    diag_error((Loc){in->path, 0, 0}, "tensor 'input' has shape %s: expected [T, %s with T >= 1",
               shape_str(a, x->shape), shape_str(a, g->input) + 1);
    return false;
  }
  int T = x->shape.dim[0];
  int out = graph_out_size(g);

  LayerState *s = arena_alloc(a, (size_t)g->n_layer * sizeof *s);
  int64_t widest = frame;
  for (int i = 0; i < g->n_layer; i++) {
    const Layer *l = &g->layer[i];
    s[i].y = arena_alloc(a, (size_t)shape_elems(l->out_shape) * sizeof(double));
    if (l->op == OP_LSTM || l->op == OP_GRU) {
      s[i].h = arena_alloc(a, (size_t)l->hidden * l->stack * sizeof(double));
      s[i].c = arena_alloc(a, (size_t)l->hidden * l->stack * sizeof(double));
      if (4 * (int64_t)l->hidden > widest)
        widest = 4 * (int64_t)l->hidden;
    }
  }
  double *t1 = arena_alloc(a, (size_t)widest * sizeof(double));
  double *t2 = arena_alloc(a, (size_t)widest * sizeof(double));
  double *xin = arena_alloc(a, (size_t)frame * sizeof(double));
  double *acc = arena_alloc(a, (size_t)out * sizeof(double));
  float *per_frame = arena_alloc(a, (size_t)T * out * sizeof(float));

  for (int t = 0; t < T; t++) {
    for (int64_t i = 0; i < frame; i++)
      xin[i] = x->data[t * frame + i];
    const double *cur = xin;
    for (int i = 0; i < g->n_layer; i++) {
      run_layer(&g->layer[i], &s[i], cur, t1, t2);
      cur = s[i].y;
    }
    for (int i = 0; i < out; i++) {
      double p = cur[i];
      per_frame[(size_t)t * out + i] = (float)p;
      if (g->clip == CLIP_MEAN)
        acc[i] += p;
      else if (g->clip == CLIP_WEIGHTED)
        acc[i] += (t + 1) * p;
      else if (g->clip == CLIP_MAX)
        acc[i] = t == 0 || p > acc[i] ? p : acc[i];
      else if (g->clip == CLIP_LAST)
        acc[i] = p;
    }
  }

  Tensor result[2];
  int n = 0;
  if (g->per_frame)
    result[n++] = (Tensor){.name = "output", .shape = {2, {T, out}}, .data = per_frame};
  if (g->clip) {
    float *clip = arena_alloc(a, (size_t)out * sizeof *clip);
    double scale = g->clip == CLIP_MEAN ? 1.0 / T : g->clip == CLIP_WEIGHTED ? 2.0 / ((double)T * (T + 1)) : 1.0;
    for (int i = 0; i < out; i++)
      clip[i] = (float)(acc[i] * scale);
    result[n++] = (Tensor){.name = "clip", .shape = {1, {out}}, .data = clip};
  }
  return safetensors_write(out_path, result, n);
}
