/* mha: multi-head attention as nn.MultiheadAttention (Vaswani et al., "Attention is all you
 * need", 2017), one query per frame against the keys and values of a layer's window:
 *
 *   q' = W_q q + b_q,  k'_i = W_k k_i + b_k,  v'_i = W_v v_i + b_v      (E each)
 *   head h (d = E / heads, its elements h d .. h d + d - 1):
 *     a_h = softmax_i(q'_h . k'_{i,h} / sqrt(d)),   o_h = sum_i a_{h,i} v'_{i,h}
 *   out = W_o [o_0; ...; o_{heads-1}] + b_o
 *
 * The layer keeps its own rings of projected keys and values: each frame projects only the
 * newest entry, so a frame costs E (dk + dv + 2 N + E) + E dq multiply-adds, not N times the
 * projections.  The keys' layer's window sets N; its raw window is not stored unless another
 * layer reads it. */
#include <math.h>
#include <string.h>

#include "../ops.h"

/* mha: {name, op: mha, heads: H, query: LAYER, values: LAYER, bias: true, key_padding: true} */
static bool parse_mha(const YNode *n, Layer *l) {
  const YNode *v;
  l->bias = true;
  l->key_padding = true;
  if (!(v = require(n, "heads", "an mha layer")) || !read_int(v, "heads", 1, MAX_DIM, &l->heads))
    return false;
  if ((v = yaml_get(n, "query")) && !read_ref(v, "query", &l->query_name, &l->query_loc))
    return false;
  if ((v = yaml_get(n, "values")) && !read_ref(v, "values", &l->values_name, &l->values_loc))
    return false;
  if ((v = yaml_get(n, "bias")) && !read_bool(v, "bias", &l->bias))
    return false;
  return !(v = yaml_get(n, "key_padding")) || read_bool(v, "key_padding", &l->key_padding);
}

/* The query and values are earlier layers of the same chain. */
static bool resolve_mha(Graph *g, Layer *l) {
  int i = (int)(l - g->layer);
  struct {
    const char *name, *what;
    Loc at;
    int *out;
  } ref[2] = {{l->query_name, "query", l->query_loc, &l->query},
              {l->values_name, "values", l->values_loc, &l->values}};
  for (int r = 0; r < 2; r++) {
    if (!ref[r].name)
      continue;
    int k = find_layer(g, ref[r].name, i);
    if (k < 0 || g->layer[k].phase != l->phase) {
      diag_error(ref[r].at, "'%s' names '%s', which is not an earlier layer of the same chain",
                 ref[r].what, ref[r].name);
      return false;
    }
    *ref[r].out = k;
    add_ref(l, k);
  }
  return true;
}

static bool infer_mha(Arena *a, Graph *g, Layer *l) {
  int src = l->input[0];
  const Layer *k = src >= 0 ? &g->layer[src] : NULL;
  if (!k || !k->window)
    return shape_error(a, l, "takes its keys from a layer with a 'window' of past frames; '%s' has "
                       "none", k ? k->name : "the input");
  if (k->phase != l->phase)
    return shape_error(a, l, "projects each new key as it comes, so its keys' layer '%s' must be "
                       "of its own chain", k->name);
  l->keys_n = k->window;
  l->key_dim = (int)shape_elems(k->out_shape);
  l->value_dim = l->key_dim;
  if (l->values >= 0) {
    const Layer *v = &g->layer[l->values];
    if (v->window != l->keys_n) {
      diag_error(l->values_loc, "mha '%s': values '%s' must keep a window of the keys' %d frames",
                 l->name, v->name, l->keys_n);
      return false;
    }
    l->value_dim = (int)shape_elems(v->out_shape);
  }
  const Layer *q = l->query >= 0 ? &g->layer[l->query] : k;
  if (q->out_shape.rank != 1 || q->rate != RATE_FRAME) {
    diag_error(l->query >= 0 ? l->query_loc : l->loc, "mha '%s': the query '%s' must be a vector "
               "computed every frame, got %s%s", l->name, q->name, shape_str(a, q->out_shape),
               q->rate != RATE_FRAME ? " (not every frame)" : "");
    return false;
  }
  int E = (int)shape_elems(q->out_shape), dk = l->key_dim, dv = l->value_dim, n = l->keys_n;
  if (E % l->heads)
    return shape_error(a, l, "has heads %d, which must divide the embedding size %d (the query's "
                       "size, nn.MultiheadAttention's embed_dim)", l->heads, E);
  l->out = E;
  if (dk == E && dv == E) { /* PyTorch packs the three when kdim == vdim == embed_dim */
    Param *w = add_param(a, l, mat(3 * E, E), "in_proj_weight");
    w->fan_in = E;
    w->compress = true;
  } else {
    add_param(a, l, mat(E, E), "q_proj_weight")->compress = true;
    add_param(a, l, mat(E, dk), "k_proj_weight")->compress = true;
    add_param(a, l, mat(E, dv), "v_proj_weight")->compress = true;
  }
  Param *b = add_param(a, l, vec(3 * E), "in_proj_bias");
  b->zero = !l->bias;
  b->init = INIT_NEAR_ZERO;
  add_param(a, l, mat(E, E), "out_proj.weight")->compress = true;
  Param *ob = add_param(a, l, vec(E), "out_proj.bias");
  ob->zero = !l->bias;
  ob->init = INIT_NEAR_ZERO;
  l->macs = (int64_t)E * (E + dk + dv + E) + 2LL * n * E;
  l->out_shape = vec(E);
  return fits(l, (int64_t)n * E * 2, "projected key and value windows");
}

/* Rows [r0, r0 + rows) of a parameter (of in_proj_weight or in_proj_bias), as a parameter. */
static Param rows_of(const Param *p, int r0, int rows) {
  Param s = *p;
  int cols = p->shape.rank == 2 ? p->shape.dim[1] : 1;
  s.shape = p->shape.rank == 2 ? mat(rows, cols) : vec(rows);
  if (p->data)
    s.data = p->data + (size_t)r0 * cols;
  return s;
}

/* One projection: rows [r0, r0 + E) of in_proj_weight (or its own weight) and in_proj_bias. */
static Param projection(const Layer *l, int which, Param *bias) {
  static const char *const own[3] = {"q_proj_weight", "k_proj_weight", "v_proj_weight"};
  int E = l->out;
  const Param *b = find_param(l, "in_proj_bias", 0);
  *bias = rows_of(b, which * E, E);
  const Param *packed = find_param(l, "in_proj_weight", 0);
  return packed ? rows_of(packed, which * E, E) : *find_param(l, own[which], 0);
}

static int lower_mha(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int E = l->out, n = l->keys_n, keys = l->input[0];
  int in[3] = {lw->out[l->query >= 0 ? l->query : keys], lw->out[keys],
               lw->out[l->values >= 0 ? l->values : keys]};
  static const char *const what[3] = {"q", "k", "v"};
  int proj[3], bias[3];
  for (int j = 0; j < 3; j++) {
    Param b, w = projection(l, j, &b);
    proj[j] = add_value(lw, V_TRANSIENT, li, E, vname(lw, l, what[j], -1));
    Call *c = gemv_call(lw, li, vname(lw, l, arena_printf(lw->a, "%s_proj", what[j]), -1), &w,
                        l->bias ? &b : NULL, proj[j], in[j]);
    c->note = arena_printf(lw->a, "%s' = W_%s %s + b_%s", what[j], what[j], what[j], what[j]);
    /* without key padding an unfilled slot is a zero frame: its projection is the bias */
    bias[j] = l->bias && !l->key_padding && j > 0
                  ? weight_copy(lw, li, &b, vname(lw, l, arena_printf(lw->a, "%s_zero", what[j]), -1))
                  : -1;
  }
  int kring = window_ring(lw, li, proj[1], n, "keys");
  int vring = window_ring(lw, li, proj[2], n, "values");
  AttnGeom geom = {.n = n, .key_dim = E, .value_dim = E, .key_step = E, .key_stride = 1,
                   .value_step = E, .value_stride = 1, .window = true,
                   .scale = (float)(1.0 / sqrt((double)E / l->heads))}; /* 1/sqrt(head size) */
  int e = add_value(lw, V_TRANSIENT, li, (int64_t)l->heads * n, vname(lw, l, "scores", -1));
  int weights = add_state(lw, li, n, vname(lw, l, "weights", -1), "attention weights");
  lw->p->v[weights].attention = true;
  lw->p->v[weights].about = "frames, newest first, the mean over the heads";
  int o = add_value(lw, V_TRANSIENT, li, E, vname(lw, l, "heads", -1));
  add_call(lw, K_MHA, li, -1, (int[]){o, weights, e, proj[0], kring, vring, bias[1], bias[2]}, 8,
           (int[]){l->heads, l->key_padding}, 2)
      ->attn = geom;
  int y = add_value(lw, V_TRANSIENT, li, E, vname(lw, l, "out", -1));
  gemv_call(lw, li, vname(lw, l, "out_proj", -1), find_param(l, "out_proj.weight", 0),
            l->bias ? find_param(l, "out_proj.bias", 0) : NULL, y, o);
  return y;
}

/* ---- the interpreter: every projection recomputed from the keys' window, in double ---- */
static void interp_init_mha(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  LayerState *s = &in->s[li];
  /* q', the heads' outputs, the scores of one head */
  s->work = interp_zeros(in->a, 2LL * l->out + l->keys_n);
  s->weights = interp_zeros(in->a, l->keys_n);
  s->n_weights = l->keys_n;
}

static void interp_mha(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  LayerState *s = &in->s[li];
  int E = l->out, H = l->heads, d = E / H, n = l->keys_n, keys = l->input[0];
  int vsrc = l->values >= 0 ? l->values : keys, dims[3] = {E, l->key_dim, l->value_dim};
  /* with key padding the unfilled slots take no part; without, they are zero frames */
  int valid = l->key_padding ? ring_valid(in, n) : n, filled = ring_valid(in, n);
  double *qp = s->work, *o = qp + E, *e = o + E;
  Param w[3], b[3];
  for (int j = 0; j < 3; j++)
    w[j] = projection(l, j, &b[j]);
  const double *q = in->s[l->query >= 0 ? l->query : keys].y;
  interp_matvec(qp, w[0].data, l->bias ? b[0].data : NULL, q, E, dims[0]);
  for (int r = 0; r < E; r++) /* each projection is a float32 tensor in PyTorch */
    qp[r] = (float)qp[r];
  memset(s->weights, 0, (size_t)n * sizeof(double));
  for (int h = 0; h < H; h++) {
    double max = -INFINITY, sum = 0;
    for (int i = 0; i < valid; i++) { /* i: age */
      const double *k = i < filled ? in->s[keys].ring + (size_t)ring_slot(in, n, i) * dims[1] : NULL;
      double score = 0;
      for (int r = h * d; r < (h + 1) * d; r++) {
        double kr = l->bias ? b[1].data[r] : 0;
        for (int c = 0; k && c < dims[1]; c++)
          kr += (double)w[1].data[(size_t)r * dims[1] + c] * k[c];
        score += qp[r] * (float)kr;
      }
      e[i] = (float)(score / sqrt(d)); /* float32 scores, as PyTorch's */
      max = e[i] > max || e[i] != e[i] ? e[i] : max;
    }
    for (int i = 0; i < valid; i++)
      sum += e[i] = exp(e[i] - max);
    for (int r = h * d; r < (h + 1) * d; r++)
      o[r] = 0;
    for (int i = 0; i < valid; i++) {
      const double *v = i < filled ? in->s[vsrc].ring + (size_t)ring_slot(in, n, i) * dims[2] : NULL;
      double a = e[i] / sum;
      s->weights[i] += a / H;
      for (int r = h * d; r < (h + 1) * d; r++) {
        double vr = l->bias ? b[2].data[r] : 0;
        for (int c = 0; v && c < dims[2]; c++)
          vr += (double)w[2].data[(size_t)r * dims[2] + c] * v[c];
        o[r] += a * (float)vr;
      }
    }
    for (int i = valid; i < n; i++) /* masked_fill(-inf): 0, or NaN with the softmax */
      s->weights[i] += 0.0 / sum;
  }
  for (int r = 0; r < E; r++)
    o[r] = (float)o[r];
  interp_matvec(s->y, find_param(l, "out_proj.weight", 0)->data,
                l->bias ? find_param(l, "out_proj.bias", 0)->data : NULL, o, E, E);
}

const OpDesc op_mha = {
    .name = "mha", .keys = "heads query values bias key_padding",
    .flags = OP_WEIGHTED | OP_EVERY_FRAME | OP_OWN_WINDOW | OP_MATRICES, .min_inputs = 1, .max_inputs = 1,
    .parse = parse_mha, .resolve = resolve_mha, .infer = infer_mha, .lower = lower_mha,
    .interp_init = interp_init_mha, .interp = interp_mha};
