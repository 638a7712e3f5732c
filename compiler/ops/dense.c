/* linear: nn.Linear on a vector, y = W x + b; an activation after it is
 * fused into the gemv's store (fuse.c). */
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

static bool infer_linear(Arena *a, Graph *g, Layer *l) {
  (void)g;
  int in = (int)shape_elems(l->in_shape);
  if (!need_rank(a, l, 1) || !fits(l, (int64_t)l->out * in, "weight"))
    return false;
  l->out_shape = vec(l->out);
  add_param(a, l, mat(l->out, in), "weight");
  if (l->bias)
    add_param(a, l, vec(l->out), "bias");
  l->macs = (int64_t)l->out * in;
  return true;
}

static int lower_linear(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int y = add_value(lw, V_TRANSIENT, li, l->out, vname(lw, l, "out", -1));
  Call *c = gemv_call(lw, li, l->cname, &l->param[0], l->bias ? &l->param[1] : NULL, y,
                      input_value(lw, l, 0));
  c->act = fused_act(lw, l, &c->alpha);
  return y;
}

static void interp_linear(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  interp_matvec(in->s[li].y, l->param[0].data, l->bias ? l->param[1].data : NULL,
                interp_input(in, l, 0), l->out, (int)shape_elems(l->in_shape));
}

const OpDesc op_linear = {.name = "linear", .keys = "out bias", .flags = OP_WEIGHTED | OP_EPILOGUE,
                          .min_inputs = 1, .max_inputs = 1, .parse = parse_linear,
                          .infer = infer_linear, .lower = lower_linear, .interp = interp_linear};
