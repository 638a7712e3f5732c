/* Normalisation by a frame's own statistics: layernorm (nn.LayerNorm) and groupnorm
 * (nn.GroupNorm).  batchnorm, which uses running statistics and folds into a conv, is in
 * conv.c.  Both lower to one norm kernel (reel_norm_generic.c): blocks of n floats, each
 * normalised by its mean and biased variance, then an optional affine. */
#include <math.h>

#include "../ops.h"

/* layernorm: {name, op: layernorm, eps: 1e-5, affine: true, dims: all}
 * groupnorm: {name, op: groupnorm, groups: G, eps: 1e-5, affine: true} */
static bool parse_norm(const YNode *n, Layer *l) {
  const YNode *v;
  l->eps = 1e-5;
  l->affine = true;
  if ((v = yaml_get(n, "eps")) && !read_number(v, "eps", 0, 1, &l->eps))
    return false;
  if ((v = yaml_get(n, "affine")) && !read_bool(v, "affine", &l->affine))
    return false;
  if (l->op == &op_groupnorm)
    return (v = require(n, "groups", "a groupnorm layer")) &&
           read_int(v, "groups", 1, MAX_DIM, &l->groups);
  return !(v = yaml_get(n, "dims")) || read_int(v, "dims", 1, MAX_RANK, &l->dims);
}

/* The normalised block: its floats n, and the shape of the scale and shift. */
static bool infer_layernorm(Arena *a, Graph *g, Layer *l) {
  (void)g;
  int rank = l->in_shape.rank, dims = l->dims ? l->dims : rank;
  if (dims > rank)
    return shape_error(a, l, "normalises over the last %d dims, but its input has %d", dims,
                       rank);
  Shape s = {dims, {0}};
  for (int i = 0; i < dims; i++)
    s.dim[i] = l->in_shape.dim[rank - dims + i];
  l->out_shape = l->in_shape;
  if (l->affine) {
    add_param(a, l, s, "weight")->init = INIT_NEAR_ONE;
    add_param(a, l, s, "bias")->init = INIT_NEAR_ZERO;
  }
  return true;
}

static bool infer_groupnorm(Arena *a, Graph *g, Layer *l) {
  (void)g;
  if (l->in_shape.rank != 1 && l->in_shape.rank != 3)
    return shape_error(a, l, "needs a vector or [C, H, W] input");
  int c = l->in_shape.dim[0];
  if (c % l->groups)
    return shape_error(a, l, "has groups %d, which must divide its %d channels", l->groups, c);
  l->out_shape = l->in_shape;
  if (l->affine) {
    add_param(a, l, vec(c), "weight")->init = INIT_NEAR_ONE;
    add_param(a, l, vec(c), "bias")->init = INIT_NEAR_ZERO;
  }
  return true;
}

/* blocks of n floats; scale index (i / per) % nw, as reel_f32_norm_generic takes them */
static void norm_geometry(const Layer *l, int *blocks, int *n, int *per, int *nw) {
  int64_t total = shape_elems(l->in_shape);
  if (l->op == &op_groupnorm) {
    int c = l->in_shape.dim[0];
    *blocks = l->groups;
    *n = (int)(total / l->groups);
    *per = (int)(total / c);
    *nw = c;
  } else {
    int rank = l->in_shape.rank, dims = l->dims ? l->dims : rank;
    *n = 1;
    for (int i = rank - dims; i < rank; i++)
      *n *= l->in_shape.dim[i];
    *blocks = (int)(total / *n);
    *per = 1;
    *nw = *n;
  }
}

static int lower_norm(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int x = input_value(lw, l, 0), blocks, n, per, nw;
  norm_geometry(l, &blocks, &n, &per, &nw);
  int w = l->affine ? weight_copy(lw, li, &l->param[0], vname(lw, l, "weight", -1)) : -1;
  int b = l->affine ? weight_copy(lw, li, &l->param[1], vname(lw, l, "bias", -1)) : -1;
  int y = inplace_output(lw, li, lw->p->v[x].size);
  Call *c = add_call(lw, K_NORM, li, -1, (int[]){y, x, w, b}, 4, (int[]){blocks, n, per, nw}, 4);
  c->eps = (float)l->eps;
  return y;
}

static void interp_norm(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  const double *x = interp_input(in, l, 0);
  double *y = in->s[li].y;
  int blocks, n, per, nw;
  norm_geometry(l, &blocks, &n, &per, &nw);
  for (int blk = 0; blk < blocks; blk++) {
    const double *xb = x + (int64_t)blk * n;
    double mean = 0.0, var = 0.0, squares = 0.0;
    for (int i = 0; i < n; i++)
      mean += xb[i], squares += xb[i] * xb[i];
    mean /= n;
    for (int i = 0; i < n; i++)
      var += (xb[i] - mean) * (xb[i] - mean);
    /* PyTorch's float E[x^2] - mean^2 is inf - inf, NaN, once the squares overflow a float */
    var = isinf((float)squares) ? NAN : var / n;
    double inv = 1.0 / sqrt(var + l->eps);
    for (int i = 0; i < n; i++) {
      int64_t at = ((int64_t)blk * n + i) / per % nw;
      double v = (xb[i] - mean) * inv;
      y[(int64_t)blk * n + i] = l->affine ? v * l->param[0].data[at] + l->param[1].data[at] : v;
    }
  }
}

const OpDesc op_layernorm = {.name = "layernorm", .keys = "eps affine dims",
                             .flags = OP_WEIGHTED, .min_inputs = 1, .max_inputs = 1,
                             .parse = parse_norm, .infer = infer_layernorm, .lower = lower_norm,
                             .interp = interp_norm};

const OpDesc op_groupnorm = {.name = "groupnorm", .keys = "groups eps affine",
                             .flags = OP_WEIGHTED, .min_inputs = 1, .max_inputs = 1,
                             .parse = parse_norm, .infer = infer_groupnorm, .lower = lower_norm,
                             .interp = interp_norm};
