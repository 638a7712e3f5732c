/* Activations: element-wise functions of one input, the same shape out
 * (softmax: over a vector).  Each has a REEL_ACT_* code; after a conv2d
 * or a linear it is fused into that call's store (fuse.c).  The
 * interpreter evaluates each in double, from its PyTorch definition. */
#include <math.h>

#include "../ops.h"

static bool same_shape(Arena *a, Graph *g, Layer *l) {
  (void)a, (void)g;
  l->out_shape = l->in_shape;
  return true;
}

static double clamp06(double v) { return v < 0 ? 0 : v > 6 ? 6 : v; }

/* y = f(x) in double, as PyTorch defines f (torch.nn.functional), special
 * values included: a comparison with NaN is false, so NaN passes through
 * every clamp (fmin and fmax would drop it). */
static double evaluate(int act, double alpha, double v) {
  switch (act) {
  case REEL_ACT_RELU: return v < 0 ? 0 : v;
  case REEL_ACT_RELU6: return clamp06(v);
  case REEL_ACT_LEAKY_RELU: return v >= 0 ? v : alpha * v;
  case REEL_ACT_SIGMOID: return interp_sigmoid(v);
  case REEL_ACT_TANH: return tanh(v);
  case REEL_ACT_GELU: return 0.5 * v * erfc(-v / sqrt(2.0));
  case REEL_ACT_GELU_TANH: /* sqrt(2 / pi) */
    return 0.5 * v * (1 + tanh(0.79788456080286536 * (v + 0.044715 * v * v * v)));
  case REEL_ACT_SILU: return v / (1 + exp(-v));
  case REEL_ACT_HARDSWISH: return v * clamp06(v + 3) / 6;
  case REEL_ACT_HARDSIGMOID: return clamp06(v + 3) / 6;
  case REEL_ACT_ELU: return v > 0 ? v : alpha * expm1(v);
  default: return v;
  }
}

static void interp_activation(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  const double *x = interp_input(in, l, 0);
  double *y = in->s[li].y;
  float alpha; /* as the kernels get it: the code and parameter of the op's descriptor */
  int act = l->op->activation(l, &alpha);
  for (int64_t i = 0, n = shape_elems(l->out_shape); i < n; i++)
    y[i] = evaluate(act, alpha, x[i]);
}

/* The activation kernel, in place when nobody else reads the input. */
static int lower_activation(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int x = input_value(lw, l, 0), n = (int)lw->p->v[x].size;
  int y = inplace_output(lw, li, n);
  Call *c = add_call(lw, K_ACTIVATION, li, -1, (int[]){y, x}, 2, &n, 1);
  c->act = l->op->activation(l, &c->alpha);
  return y;
}

#define ACTIVATION(op, code)                                                                      \
  static int op##_code(const Layer *l, float *alpha) {                                            \
    *alpha = (float)l->alpha;                                                                     \
    return code;                                                                                  \
  }                                                                                               \
  const OpDesc op_##op = {.name = #op, .keys = "", .min_inputs = 1, .max_inputs = 1,              \
                          .infer = same_shape, .activation = op##_code,                           \
                          .lower = lower_activation, .interp = interp_activation}

ACTIVATION(relu, REEL_ACT_RELU);
ACTIVATION(relu6, REEL_ACT_RELU6);
ACTIVATION(sigmoid, REEL_ACT_SIGMOID);
ACTIVATION(tanh, REEL_ACT_TANH);
ACTIVATION(silu, REEL_ACT_SILU);
ACTIVATION(hardswish, REEL_ACT_HARDSWISH);
ACTIVATION(hardsigmoid, REEL_ACT_HARDSIGMOID);

/* leaky_relu: {op, negative_slope: 0.01} */
static bool parse_leaky_relu(const YNode *n, Layer *l) {
  const YNode *v;
  l->alpha = 0.01;
  return !(v = yaml_get(n, "negative_slope")) ||
         read_number(v, "negative_slope", -1e6, 1e6, &l->alpha);
}

static int leaky_relu_code(const Layer *l, float *alpha) {
  *alpha = (float)l->alpha;
  return REEL_ACT_LEAKY_RELU;
}

const OpDesc op_leaky_relu = {.name = "leaky_relu", .keys = "negative_slope", .min_inputs = 1,
                              .max_inputs = 1, .parse = parse_leaky_relu, .infer = same_shape,
                              .activation = leaky_relu_code, .lower = lower_activation,
                              .interp = interp_activation};

/* softmax: {op} over a vector; subtracting the max keeps exp finite. */
static bool infer_softmax(Arena *a, Graph *g, Layer *l) {
  return need_rank(a, l, 1) && same_shape(a, g, l);
}

static int lower_softmax(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int x = input_value(lw, l, 0), n = (int)lw->p->v[x].size;
  int y = inplace_output(lw, li, n);
  add_call(lw, K_SOFTMAX, li, -1, (int[]){y, x}, 2, &n, 1);
  return y;
}

static void interp_softmax(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  const double *x = interp_input(in, l, 0);
  double *y = in->s[li].y, max = x[0], sum = 0;
  int64_t n = shape_elems(l->out_shape);
  for (int64_t i = 1; i < n; i++)
    max = x[i] > max ? x[i] : max;
  for (int64_t i = 0; i < n; i++)
    sum += y[i] = exp(x[i] - max);
  for (int64_t i = 0; i < n; i++)
    y[i] /= sum;
}

const OpDesc op_softmax = {.name = "softmax", .keys = "", .min_inputs = 1, .max_inputs = 1,
                           .infer = infer_softmax, .lower = lower_softmax, .interp = interp_softmax};

/* gelu: {op: gelu, approximate: none | tanh}, as nn.GELU(approximate) */
static bool parse_gelu(const YNode *n, Layer *l) {
  static const char *const forms[] = {"none", "tanh"};
  const YNode *v = yaml_get(n, "approximate");
  int form = 0;
  if (v && !read_choice(v, "approximate", forms, 2, &form))
    return false;
  l->tanh_form = form == 1;
  return true;
}

static int gelu_code(const Layer *l, float *alpha) {
  *alpha = 0.0f;
  return l->tanh_form ? REEL_ACT_GELU_TANH : REEL_ACT_GELU;
}

const OpDesc op_gelu = {.name = "gelu", .keys = "approximate", .min_inputs = 1, .max_inputs = 1,
                        .parse = parse_gelu, .infer = same_shape, .activation = gelu_code,
                        .lower = lower_activation, .interp = interp_activation};

/* elu: {op: elu, alpha: 1.0}, as nn.ELU(alpha) */
static bool parse_elu(const YNode *n, Layer *l) {
  const YNode *v;
  l->alpha = 1.0;
  return !(v = yaml_get(n, "alpha")) || read_number(v, "alpha", -1e6, 1e6, &l->alpha);
}

static int elu_code(const Layer *l, float *alpha) {
  *alpha = (float)l->alpha;
  return REEL_ACT_ELU;
}

const OpDesc op_elu = {.name = "elu", .keys = "alpha", .min_inputs = 1, .max_inputs = 1,
                       .parse = parse_elu, .infer = same_shape, .activation = elu_code,
                       .lower = lower_activation, .interp = interp_activation};

/* prelu: {name, op: prelu, num_parameters: 1}, as nn.PReLU(num_parameters):
 * y = x > 0 ? x : w x with one weight, or one per channel (the first
 * dimension: a [C, H, W] map's channels, a vector's elements).  Its own
 * kernel: a weight vector does not fit a fused epilogue's one parameter. */
static bool parse_prelu(const YNode *n, Layer *l) {
  const YNode *v;
  l->count = 1;
  return !(v = yaml_get(n, "num_parameters")) || read_int(v, "num_parameters", 1, MAX_DIM, &l->count);
}

static bool infer_prelu(Arena *a, Graph *g, Layer *l) {
  (void)g;
  int c = l->in_shape.dim[0];
  if (l->count != 1 && l->count != c)
    return shape_error(a, l, "has num_parameters %d: expected 1, or one per channel (%d)",
                       l->count, c);
  l->out_shape = l->in_shape;
  add_param(a, l, vec(l->count), "weight");
  return true;
}

static int lower_prelu(Lowering *lw, int li) {
  const Layer *l = &lw->g->layer[li];
  int x = input_value(lw, l, 0), n = (int)lw->p->v[x].size;
  int y = inplace_output(lw, li, n);
  int w = weight_copy(lw, li, &l->param[0], vname(lw, l, "weight", -1));
  int c = l->count == 1 ? 1 : l->in_shape.dim[0];
  add_call(lw, K_PRELU, li, -1, (int[]){y, x, w}, 3, (int[]){c, n / c}, 2);
  return y;
}

static void interp_prelu(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  const double *x = interp_input(in, l, 0);
  const float *w = l->param[0].data;
  int64_t n = shape_elems(l->out_shape), per = l->count == 1 ? n : n / l->in_shape.dim[0];
  for (int64_t i = 0; i < n; i++)
    in->s[li].y[i] = x[i] > 0 ? x[i] : w[i / per] * x[i];
}

const OpDesc op_prelu = {.name = "prelu", .keys = "num_parameters", .flags = OP_WEIGHTED,
                         .min_inputs = 1, .max_inputs = 1, .parse = parse_prelu,
                         .infer = infer_prelu, .lower = lower_prelu, .interp = interp_prelu};
