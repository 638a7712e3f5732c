/* Fusion decisions on the graph: a batchnorm that reads only a conv2d
 * (and is its only reader) is folded into the conv's weights and bias, and
 * a relu, relu6 or leaky_relu after either becomes the conv's epilogue.
 * Lowering then emits one conv call for the group; the absorbed layers'
 * outputs are the conv's. */
#include "reel.h"

static int sole_reader(const Graph *g, int i) {
  if (g->layer[i].consumers != 1 || i + 1 >= g->n_layer)
    return -1;
  const Layer *next = &g->layer[i + 1];
  return next->phase == g->layer[i].phase && next->n_input == 1 && next->input[0] == i ? i + 1 : -1;
}

void fuse_layers(Graph *g) {
  for (int i = 0; i < g->n_layer; i++) {
    Layer *conv = &g->layer[i];
    if (conv->op != OP_CONV2D)
      continue;
    int next = sole_reader(g, i);
    if (next >= 0 && g->layer[next].op == OP_BATCHNORM) {
      conv->fused_bn = next;
      g->layer[next].fused_into = i;
      next = sole_reader(g, next);
    }
    if (next >= 0) {
      Op op = g->layer[next].op;
      if (op == OP_RELU || op == OP_RELU6 || op == OP_LEAKY_RELU) {
        conv->fused_act = next;
        g->layer[next].fused_into = i;
      }
    }
  }
}
