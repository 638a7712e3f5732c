/* Ops that pass, reshape or combine tensors without parameters: dropout,
 * flatten and reshape (aliases: their output is their input's floats), add, mul
 * and concat over two or more layers. */
#include <string.h>

#include "../ops.h"

/* ---- dropout: {op: dropout, p: 0.5}, the identity at inference;
 *      flatten: {op: flatten}, the same floats as one vector ---- */
static bool parse_dropout(const YNode *n, Layer *l) {
  const YNode *v;
  return !(v = yaml_get(n, "p")) || read_number(v, "p", 0, 1, &l->p);
}

static bool infer_dropout(Arena *a, Graph *g, Layer *l) {
  (void)a, (void)g;
  l->out_shape = l->in_shape;
  return true;
}

static bool infer_flatten(Arena *a, Graph *g, Layer *l) {
  (void)a, (void)g;
  l->out_shape = vec((int)shape_elems(l->in_shape));
  return true;
}

/* reshape: {op: reshape, shape: [d, ...]}, the same floats in another shape (1 to 3 dims,
 * one of them -1: whatever the element count leaves), as torch.reshape. */
static bool parse_reshape(const YNode *n, Layer *l) {
  const YNode *v = require(n, "shape", "a reshape layer");
  if (!v)
    return false;
  if (v->kind != Y_SEQ || v->n < 1 || v->n > 3) {
    diag_error(v->loc, "'shape' must be a list of 1 to 3 sizes ([N], [C, H, W], ...), got %s",
               describe(v));
    return false;
  }
  l->reshape.rank = v->n;
  int inferred = 0;
  for (int i = 0; i < v->n; i++) {
    const YNode *d = v->item[i];
    if (d->kind == Y_SCALAR && strcmp(d->str, "-1") == 0) {
      l->reshape.dim[i] = -1;
      if (++inferred > 1) {
        diag_error(d->loc, "'shape' may infer one size (-1), not two");
        return false;
      }
    } else if (!read_int(d, "shape", 1, MAX_DIM, &l->reshape.dim[i])) {
      return false;
    }
  }
  return true;
}

static bool infer_reshape(Arena *a, Graph *g, Layer *l) {
  (void)g;
  int64_t n = shape_elems(l->in_shape), known = 1;
  int free_dim = -1;
  Shape s = l->reshape;
  for (int i = 0; i < s.rank; i++)
    if (s.dim[i] < 0)
      free_dim = i;
    else
      known *= s.dim[i];
  if (free_dim >= 0 && n % known == 0 && n / known <= MAX_DIM)
    s.dim[free_dim] = (int)(n / known);
  if ((free_dim >= 0 && n % known) || shape_elems(s) != n)
    return shape_error(a, l, "asks for %s, which is not %lld elements", shape_str(a, l->reshape),
                       (long long)n);
  l->out_shape = s;
  return true;
}

static int lower_alias(Lowering *lw, int li) { return input_value(lw, &lw->g->layer[li], 0); }

static void interp_alias(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  memcpy(in->s[li].y, interp_input(in, l, 0), (size_t)shape_elems(l->out_shape) * sizeof(double));
}

const OpDesc op_dropout = {.name = "dropout", .keys = "p", .flags = OP_ALIAS, .min_inputs = 1,
                           .max_inputs = 1, .parse = parse_dropout, .infer = infer_dropout,
                           .lower = lower_alias, .interp = interp_alias};

const OpDesc op_reshape = {.name = "reshape", .keys = "shape", .flags = OP_ALIAS, .min_inputs = 1,
                           .max_inputs = 1, .parse = parse_reshape, .infer = infer_reshape,
                           .lower = lower_alias, .interp = interp_alias};

const OpDesc op_flatten = {.name = "flatten", .keys = "", .flags = OP_ALIAS, .min_inputs = 1,
                           .max_inputs = 1, .infer = infer_flatten, .lower = lower_alias,
                           .interp = interp_alias};

/* ---- add: {op: add, from: [a, b, ...]}, equal shapes, summed;
 *      mul: {op: mul, from: [a, b, ...]}, equal shapes, multiplied (torch.mul);
 *      concat: {op: concat, from: [a, b, ...]}, stacked along the first
 *      dimension (channels), as torch.cat(dim=0) of one frame ---- */
static bool infer_combine(Arena *a, Graph *g, Layer *l, bool cat) {
  Shape s = l->in_shape;
  for (int i = 1; i < l->n_input; i++) {
    Shape t = layer_shape(g, l->input[i]);
    bool ok = t.rank == s.rank;
    for (int d = cat ? 1 : 0; ok && d < s.rank; d++)
      ok = t.dim[d] == s.dim[d];
    if (!ok) {
      diag_error(l->from_loc, "%s '%s': input %d is %s but input 0 is %s: %s", l->op->name,
                 l->name, i, shape_str(a, t), shape_str(a, l->in_shape),
                 cat ? "concat needs equal shapes but for channels"
                     : arena_printf(a, "%s needs equal shapes", l->op->name));
      return false;
    }
    if (cat)
      s.dim[0] += t.dim[0];
  }
  l->out_shape = s;
  return fits(l, shape_elems(s), "output");
}

static bool infer_elementwise(Arena *a, Graph *g, Layer *l) { return infer_combine(a, g, l, false); }
static bool infer_concat(Arena *a, Graph *g, Layer *l) { return infer_combine(a, g, l, true); }

/* y = x0 op x1, then y = y op x_k: over x0 when nobody else reads it */
static int lower_elementwise(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int a = input_value(lw, l, 0), n = (int)shape_elems(l->out_shape);
  int y = inplace_output(lw, li, n);
  for (int k = 1; k < l->n_input; k++, a = y)
    add_call(lw, l->op == &op_mul ? K_MUL2 : K_ADD2, li, -1, (int[]){y, a, input_value(lw, l, k)},
             3, &n, 1);
  return y;
}

static void interp_elementwise(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  int64_t n = shape_elems(l->out_shape);
  double *y = in->s[li].y;
  memcpy(y, interp_input(in, l, 0), (size_t)n * sizeof *y);
  for (int k = 1; k < l->n_input; k++) {
    const double *xk = interp_input(in, l, k);
    for (int64_t i = 0; i < n; i++)
      y[i] = l->op == &op_mul ? y[i] * xk[i] : y[i] + xk[i];
  }
}

static int lower_concat(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int y = add_value(lw, V_TRANSIENT, li, shape_elems(l->out_shape), vname(lw, l, "out", -1));
  int offset = 0;
  for (int k = 0; k < l->n_input; k++) {
    int x = input_value(lw, l, k), n = (int)lw->p->v[x].size;
    add_call(lw, K_COPY, li, -1, (int[]){y, x}, 2, (int[]){n, offset}, 2)->note =
        arena_printf(lw->a, "input %d", k);
    offset += n;
  }
  return y;
}

static void interp_concat(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  int64_t offset = 0;
  for (int k = 0; k < l->n_input; k++) {
    int64_t m = shape_elems(layer_shape(in->g, l->input[k]));
    memcpy(in->s[li].y + offset, interp_input(in, l, k), (size_t)m * sizeof(double));
    offset += m;
  }
}

const OpDesc op_add = {.name = "add", .keys = "", .min_inputs = 2, .max_inputs = MAX_INPUTS,
                       .infer = infer_elementwise, .lower = lower_elementwise, .interp = interp_elementwise};

const OpDesc op_mul = {.name = "mul", .keys = "", .min_inputs = 2, .max_inputs = MAX_INPUTS,
                       .infer = infer_elementwise, .lower = lower_elementwise, .interp = interp_elementwise};

const OpDesc op_concat = {.name = "concat", .keys = "", .min_inputs = 2, .max_inputs = MAX_INPUTS,
                          .infer = infer_concat, .lower = lower_concat, .interp = interp_concat};
