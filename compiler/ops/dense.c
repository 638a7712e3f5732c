/* linear: nn.Linear, y = W x + b, on a vector or on each row of an [N, D] matrix (a
 * bidirectional layer's frames), as nn.Linear maps the last dimension; an activation after it
 * is fused into the gemv's store (fuse.c). */
#include "../ops.h"

/* linear: {name, op: linear, out: N, bias: true} */
static bool parse_linear(const YNode *n, Layer *l) {
  const YNode *v;
  l->bias = true;
  l->groups = 1;
  if (!(v = require(n, "out", "a linear layer")) || !read_int(v, "out", 1, MAX_DIM, &l->out))
    return false;
  return !(v = yaml_get(n, "bias")) || read_bool(v, "bias", &l->bias);
}

/* Rows of the input: 1 for a vector, N for [N, D]. */
static int linear_rows(const Layer *l) { return l->in_shape.rank == 2 ? l->in_shape.dim[0] : 1; }

static bool infer_linear(Arena *a, Graph *g, Layer *l) {
  (void)g;
  if (l->in_shape.rank != 1 && l->in_shape.rank != 2)
    return shape_error(a, l, "needs a vector, or an [N, D] matrix whose rows it maps (flatten a "
                       "[C, H, W] map first)");
  int rows = linear_rows(l), in = l->in_shape.dim[l->in_shape.rank - 1];
  if (!fits(l, (int64_t)l->out * in, "weight"))
    return false;
  l->out_shape = l->in_shape.rank == 2 ? mat(rows, l->out) : vec(l->out);
  add_param(a, l, mat(l->out, in), "weight")->compress = true;
  if (l->bias)
    add_param(a, l, vec(l->out), "bias");
  l->macs = (int64_t)rows * l->out * in;
  return true;
}

static int lower_linear(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int rows = linear_rows(l), x = input_value(lw, l, 0);
  int y = add_value(lw, V_TRANSIENT, li, (int64_t)rows * l->out, vname(lw, l, "out", -1));
  const Param *b = l->bias ? &l->param[1] : NULL;
  Call *c;
  if (l->in_shape.rank == 1) {
    c = gemv_call(lw, li, l->cname, &l->param[0], b, y, x);
  } else { /* each row through the same weights */
    int bv, w = gemv_weights(lw, li, l->cname, &l->param[0], b, &bv);
    c = add_call(lw, K_GEMV_ROWS, li, -1, (int[]){y, w, bv, x}, 4,
                 (int[]){l->out, l->param[0].shape.dim[1], rows}, 3);
  }
  c->act = fused_act(lw, l, &c->alpha);
  return y;
}

static void interp_linear(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  int rows = linear_rows(l), cols = l->param[0].shape.dim[1];
  for (int r = 0; r < rows; r++)
    interp_matvec(in->s[li].y + (size_t)r * l->out, l->param[0].data,
                  l->bias ? l->param[1].data : NULL, interp_input(in, l, 0) + (size_t)r * cols,
                  l->out, cols);
}

const OpDesc op_linear = {.name = "linear", .keys = "out bias", .flags = OP_WEIGHTED | OP_EPILOGUE | OP_MATRICES,
                          .min_inputs = 1, .max_inputs = 1, .parse = parse_linear,
                          .infer = infer_linear, .lower = lower_linear, .interp = interp_linear};
