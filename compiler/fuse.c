/* Fusion decisions on the graph: a batchnorm that reads only a conv2d
 * (and is its only reader) is folded into the conv's weights and bias, and
 * an activation after a conv2d (or its folded batchnorm) or a linear
 * becomes that call's epilogue.  Lowering then emits one call for the
 * group; the absorbed layers' outputs are the conv's or the linear's. */
#include "reel.h"

/* The layer after i when it is i's only reader, runs in the same phase and
 * reads nothing else; -1 otherwise.  A layer with a window of its own is
 * left alone: its ring keeps its values, not the epilogue's. */
static int sole_reader(const Graph *g, int i) {
  if (g->layer[i].consumers != 1 || g->layer[i].window || i + 1 >= g->n_layer)
    return -1;
  const Layer *next = &g->layer[i + 1];
  return next->phase == g->layer[i].phase && next->n_input == 1 && next->input[0] == i ? i + 1 : -1;
}

static bool is_activation(Op op) {
  return op == OP_RELU || op == OP_RELU6 || op == OP_LEAKY_RELU || op == OP_SIGMOID || op == OP_TANH;
}

void fuse_layers(Graph *g) {
  for (int i = 0; i < g->n_layer; i++) {
    Layer *l = &g->layer[i];
    if (l->op != OP_CONV2D && l->op != OP_LINEAR)
      continue;
    int next = sole_reader(g, i);
    if (next >= 0 && l->op == OP_CONV2D && g->layer[next].op == OP_BATCHNORM) {
      l->fused_bn = next;
      g->layer[next].fused_into = i;
      next = sole_reader(g, next);
    }
    if (next >= 0 && is_activation(g->layer[next].op)) {
      l->fused_act = next;
      g->layer[next].fused_into = i;
    }
  }
}
