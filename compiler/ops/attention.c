/* attention: soft attention over keys from a window of past frames or the
 * positions of a [D, H, W] map (Xu et al.'s soft visual attention,
 * Luong's dot and general scores, Bahdanau's additive, location-based):
 * scores e_i of the query against each key, a = softmax(e), the output
 * sum_i a_i v_i.  The query is a layer's output, or the hidden state of a
 * later lstm or gru at the previous step; a's of the per-frame chain are
 * readable through m_attention. */
#include <math.h>
#include <string.h>

#include "../ops.h"

/* attention: {name, op: attention, query: LAYER | learned, values: LAYER,
 *             score: dot|general|additive|location|linear, scale: false, hidden: A (additive)}
 * score linear (nn.Linear(D, 1) over the keys) takes no query. */
static bool parse_attention(const YNode *n, Layer *l) {
  const YNode *v;
  int choice = SCORE_DOT;
  if ((v = yaml_get(n, "score")) && !read_choice(v, "score", score_name, 5, &choice))
    return false;
  l->score = (Score)choice;
  v = yaml_get(n, "query");
  if (l->score == SCORE_LINEAR && v) {
    diag_error(v->loc, "score linear scores each key alone (nn.Linear(D, 1)): it takes no query");
    return false;
  }
  if (l->score != SCORE_LINEAR && !(v = require(n, "query", "an attention layer")))
    return false;
  if (v && v->kind == Y_SCALAR && strcmp(v->str, "learned") == 0)
    l->query_learned = true;
  else if (v && !read_ref(v, "query", &l->query_name, &l->query_loc))
    return false;
  if ((v = yaml_get(n, "values")) && !read_ref(v, "values", &l->values_name, &l->values_loc))
    return false;
  if ((v = yaml_get(n, "scale")) && !read_bool(v, "scale", &l->scale))
    return false;
  if (v && l->scale && l->score != SCORE_DOT && l->score != SCORE_GENERAL) {
    diag_error(v->loc, "'scale' divides dot-product scores by sqrt(key size): it is for score dot "
               "or general, not %s", score_name[l->score]);
    return false;
  }
  v = yaml_get(n, "hidden");
  if (l->score == SCORE_ADDITIVE && !v) {
    diag_error(n->loc, "attention '%s' with score additive needs 'hidden': the width of its "
               "tanh layer", l->name);
    return false;
  }
  if (v && l->score != SCORE_ADDITIVE) {
    diag_error(v->loc, "'hidden' is the width of additive attention; score %s has none",
               score_name[l->score]);
    return false;
  }
  return !v || read_int(v, "hidden", 1, MAX_DIM, &l->hidden[0]);
}

static bool resolve_values(Graph *g, Layer *l, int i);

/* The query may come after the attention (a recurrent layer's previous h);
 * the values are an earlier layer, or one with a window in the other chain. */
static bool resolve_attention(Graph *g, Layer *l) {
  int i = (int)(l - g->layer), q = l->query_name ? find_layer(g, l->query_name, g->n_layer) : i;
  if (!l->query_name) /* learned, or none */
    return resolve_values(g, l, i);
  if (q < 0 || q == i || g->layer[q].phase != l->phase) {
    diag_error(l->query_loc, q == i ? "attention '%s' cannot be its own query"
               : "'query' names '%s', which is not a layer of the same chain",
               q == i ? l->name : l->query_name);
    return false;
  }
  if (q > i && ((g->layer[q].op != &op_lstm && g->layer[q].op != &op_gru) ||
                g->layer[q].bidirectional)) {
    diag_error(l->query_loc, "'query: %s' comes after the attention, so it must be an lstm or gru "
               "whose hidden state of the previous step is the query; it is a %s%s",
               l->query_name, g->layer[q].bidirectional ? "bidirectional " : "",
               g->layer[q].op->name);
    return false;
  }
  l->query = q;
  l->query_prev = q > i;
  if (!l->query_prev)
    add_ref(l, q);
  return resolve_values(g, l, i);
}

static bool resolve_values(Graph *g, Layer *l, int i) {
  if (l->values_name) {
    int v = find_layer(g, l->values_name, i);
    if (v < 0 || (g->layer[v].phase != l->phase && !g->layer[v].window)) {
      diag_error(l->values_loc, "'values' names '%s', which is not an earlier layer of the same "
                 "chain (or one with a 'window')", l->values_name);
      return false;
    }
    l->values = v;
    add_ref(l, v);
  }
  return true;
}

/* Keys (and values) from a window or the positions of a map. */
static bool infer_attention(Arena *a, Graph *g, Layer *l) {
  int src = l->input[0];
  const Layer *k = src >= 0 ? &g->layer[src] : NULL;
  if (k && k->window) {
    l->keys_n = k->window;
    l->key_dim = (int)shape_elems(k->out_shape);
  } else if (l->in_shape.rank == 3) {
    l->keys_map = true;
    l->keys_n = l->in_shape.dim[1] * l->in_shape.dim[2];
    l->key_dim = l->in_shape.dim[0];
  } else {
    diag_error(l->loc, "attention '%s' takes its keys from '%s', which has no 'window' and is not a "
               "[D, H, W] map", l->name, k ? k->name : "input");
    return false;
  }
  l->value_dim = l->key_dim;
  if (l->values >= 0) {
    const Layer *v = &g->layer[l->values];
    bool ok = l->keys_map ? v->out_shape.rank == 3 && v->out_shape.dim[1] * v->out_shape.dim[2] == l->keys_n &&
                                v->out_shape.dim[1] == l->in_shape.dim[1]
                          : v->window == l->keys_n;
    if (!ok) {
      diag_error(l->values_loc, l->keys_map
                 ? "attention '%s': values '%s' must be a map of the keys' rows and columns"
                 : "attention '%s': values '%s' must keep a window of the keys' %d frames",
                 l->name, v->name, l->keys_n);
      return false;
    }
    l->value_dim = l->keys_map ? v->out_shape.dim[0] : (int)shape_elems(v->out_shape);
  }
  const Layer *q = l->query >= 0 ? &g->layer[l->query] : l;
  int dq = l->query < 0 ? l->key_dim /* learned: a key-sized vector */
           : l->query_prev ? (q->proj ? q->proj : q->hidden[q->stack - 1])
                           : (int)shape_elems(q->out_shape);
  if (l->query_learned)
    add_param(a, l, vec(dq), "query");
  if (l->query >= 0 && !l->query_prev && q->out_shape.rank != 1) {
    diag_error(l->query_loc, "attention '%s': the query '%s' must be a vector, got %s", l->name,
               q->name, shape_str(a, q->out_shape));
    return false;
  }
  if (l->query >= 0 && !l->query_prev && q->rate != RATE_FRAME) {
    diag_error(l->query_loc, "attention '%s': the query '%s' does not run every frame", l->name,
               q->name);
    return false;
  }
  int n = l->keys_n, dk = l->key_dim, A = l->hidden[0];
  switch (l->score) {
  case SCORE_DOT:
    if (dq != dk) {
      diag_error(l->query_loc, "attention '%s': score dot needs a query of the keys' size %d, but "
                 "'%s' gives %d (score general maps one to the other)", l->name, dk, q->name, dq);
      return false;
    }
    break;
  case SCORE_GENERAL:
    add_param(a, l, mat(dk, dq), "w_q.weight")->compress = true;
    l->macs += (int64_t)dk * dq;
    break;
  case SCORE_ADDITIVE:
    add_param(a, l, mat(A, dk), "w_x.weight");
    add_param(a, l, vec(A), "w_x.bias");
    add_param(a, l, mat(A, dq), "w_h.weight")->compress = true;
    add_param(a, l, mat(1, A), "v.weight");
    l->macs += (int64_t)A * dq + (int64_t)n * A * (dk + 1);
    break;
  case SCORE_LOCATION:
    if (!l->keys_map) {
      diag_error(l->loc, "attention '%s': score location scores the positions of a map; its keys "
                 "are a window", l->name);
      return false;
    }
    add_param(a, l, mat(n, dq), "weight")->compress = true;
    add_param(a, l, vec(n), "bias");
    l->macs += (int64_t)n * dq;
    break;
  case SCORE_LINEAR: /* the bias shifts every score alike: the softmax cancels it */
    add_param(a, l, mat(1, dk), "score.weight");
    add_param(a, l, vec(1), "score.bias");
    break;
  }
  if (l->score != SCORE_ADDITIVE && l->score != SCORE_LOCATION)
    l->macs += (int64_t)n * dk;
  l->macs += (int64_t)n * l->value_dim;
  l->out_shape = vec(l->value_dim);
  return fits(l, (int64_t)n * (dk > l->value_dim ? dk : l->value_dim), "key window");
}

/* Scores over the keys, then softmax and the weighted sum of the values.
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
  /* a later recurrent layer's h is lowered after this: fixed up in lower(); a learned query
   * (or score linear's weight row, scored as a dot product) is a weight */
  int q = l->query_learned
              ? weight_copy(lw, li, find_param(l, "query", 0), vname(lw, l, "query", -1))
          : l->score == SCORE_LINEAR ? weight_copy(lw, li, find_param(l, "score.weight", 0),
                                                   vname(lw, l, "score_weight", -1))
          : l->query_prev ? -1 : lw->out[l->query];
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
    add_call(lw, K_ATTN_ADDITIVE, li, -1, (int[]){e, keys, hq, wx, bx, v}, 6, &A, 1)->attn = geom;
    break;
  }
  case SCORE_GENERAL: {
    int qp = add_value(lw, V_TRANSIENT, li, dk, vname(lw, l, "query", -1));
    c = gemv_call(lw, li, vname(lw, l, "w_q", -1), find_param(l, "w_q.weight", 0), NULL, qp, q);
    add_call(lw, K_ATTN_DOT, li, -1, (int[]){e, keys, qp}, 3, NULL, 0)->attn = geom;
    break;
  }
  default:
    c = add_call(lw, K_ATTN_DOT, li, -1, (int[]){e, keys, q}, 3, NULL, 0);
    c->attn = geom;
    break;
  }
  if (l->query_prev) { /* the query argument of the first call */
    Fixup *f = &lw->fixup[lw->n_fixup++];
    *f = (Fixup){(int)(c - lw->p->call), c->op == K_ATTN_DOT ? 2 : 3, l->query};
  }
  int weights = add_state(lw, li, n, vname(lw, l, "weights", -1), "attention weights");
  if (l->phase == PHASE_STEP) { /* read by m_attention */
    lw->p->v[weights].attention = true;
    lw->p->v[weights].about = l->keys_map ? "map positions, row by row" : "frames, newest first";
  }
  int y = add_value(lw, V_TRANSIENT, li, l->value_dim, vname(lw, l, "out", -1));
  add_call(lw, K_ATTN_APPLY, li, -1, (int[]){y, weights, e, values}, 4, NULL, 0)->attn = geom;
  return y;
}

/* ---- the interpreter ---- */
static void interp_init_attention(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  LayerState *s = &in->s[li];
  int proj = l->key_dim > l->hidden[0] ? l->key_dim : l->hidden[0];
  /* scores, the projected query, and a learned query (or score linear's row) in double */
  s->work = interp_zeros(in->a, (int64_t)l->keys_n + proj + l->key_dim);
  const Param *fixed = l->query_learned ? find_param(l, "query", 0)
                       : l->score == SCORE_LINEAR ? find_param(l, "score.weight", 0) : NULL;
  for (int k = 0; fixed && k < l->key_dim; k++)
    s->work[l->keys_n + proj + k] = fixed->data[k];
  s->weights = interp_zeros(in->a, l->keys_n);
  s->n_weights = l->phase == PHASE_STEP ? l->keys_n : 0;
}

/* Attention over a window (keys by age) or a map's positions. */
static void interp_attention(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  LayerState *s = &in->s[li];
  const Graph *g = in->g;
  int proj_n = l->key_dim > l->hidden[0] ? l->key_dim : l->hidden[0];
  const double *fixed = s->work + l->keys_n + proj_n; /* a learned query, or linear's row */
  const Layer *q_layer = l->query >= 0 ? &g->layer[l->query] : l;
  const double *q = l->query < 0 ? fixed
                    : l->query_prev ? in->s[l->query].h[q_layer->stack - 1] : in->s[l->query].y;
  int dq = l->query < 0         ? l->key_dim
           : l->query_prev && q_layer->proj ? q_layer->proj
           : l->query_prev      ? q_layer->hidden[q_layer->stack - 1]
                                : (int)shape_elems(q_layer->out_shape);
  int n = l->keys_map ? l->keys_n : ring_valid(in, l->keys_n), dk = l->key_dim, dv = l->value_dim;
  const double *keys = l->keys_map ? interp_input(in, l, 0) : in->s[l->input[0]].ring;
  const double *vals = l->values < 0 ? keys : l->keys_map ? in->s[l->values].y : in->s[l->values].ring;
  double *e = s->work, *proj = s->work + l->keys_n;
  memset(s->y, 0, (size_t)dv * sizeof(double));
  memset(s->weights, 0, (size_t)l->keys_n * sizeof(double));
  /* key i's element k: entry i of the window (by age), or position i of the map */
#define KEY(base, dim, i, k) (l->keys_map ? (base)[(size_t)(k) * l->keys_n + (i)] \
                                          : (base)[(size_t)ring_slot(in, l->keys_n, i) * (dim) + (k)])
  if (l->score == SCORE_GENERAL)
    interp_matvec(proj, find_param(l, "w_q.weight", 0)->data, NULL, q, dk, dq);
  if (l->score == SCORE_ADDITIVE)
    interp_matvec(proj, find_param(l, "w_h.weight", 0)->data, NULL, q, l->hidden[0], dq);
  if (l->score == SCORE_LOCATION)
    interp_matvec(e, l->param[0].data, l->param[1].data, q, n, dq);
  for (int i = 0; i < n; i++) {
    double score = 0;
    if (l->score == SCORE_DOT || l->score == SCORE_GENERAL || l->score == SCORE_LINEAR) {
      const double *qq = l->score == SCORE_GENERAL ? proj : q;
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
    if (l->score == SCORE_LINEAR)
      score += find_param(l, "score.bias", 0)->data[0];
    e[i] = (float)score; /* a float32 score, which overflows to inf as PyTorch's does */
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
  for (int i = n; i < l->keys_n; i++) /* masked_fill(-inf): 0, or NaN with the softmax */
    s->weights[i] = 0.0 / sum;
#undef KEY
}

const OpDesc op_attention = {
    .name = "attention", .keys = "query values score scale hidden",
    .flags = OP_WEIGHTED | OP_EVERY_FRAME | OP_READS_WINDOWS | OP_MATRICES, .min_inputs = 1, .max_inputs = 1,
    .parse = parse_attention, .resolve = resolve_attention, .infer = infer_attention,
    .lower = lower_attention, .interp_init = interp_init_attention, .interp = interp_attention};
