/* Fusion decisions on the graph: a norm (OP_NORM) that reads only an op
 * that folds norms (OP_FOLDS_NORM: conv2d), and is its only reader, is
 * folded into that op's weights and bias; an activation after such an op
 * or after one that takes an epilogue (OP_EPILOGUE: conv2d, linear)
 * becomes that call's epilogue (not a norm into bf16 weights: see fold_input).
 * Lowering then emits one call for the
 * group; the absorbed layers' outputs are the first layer's.  The input's
 * normalisation folds into a first conv likewise. */
#include "ops.h"

/* The layer after i when it is i's only reader, runs in the same phase and
 * reads nothing else; -1 otherwise.  A layer with a window of its own is
 * left alone: its ring keeps its values, not the epilogue's. */
static int sole_reader(const Graph *g, int i) {
  if (g->layer[i].consumers != 1 || g->layer[i].window || i + 1 >= g->n_layer)
    return -1;
  const Layer *next = &g->layer[i + 1];
  return next->phase == g->layer[i].phase && next->n_input == 1 && next->input[0] == i ? i + 1 : -1;
}

/* The input's normalisation x = (in scale - mean) / std folds into a conv2d that is the
 * input's only reader and pads nothing (a padded border would be zeros of x, not of in):
 * w' = w scale / std[c], b' = b - sum w mean[c] / std[c].  Compressed weights must stay the
 * trained weights' rounding: int8 rows take a common factor into their scale, but not a
 * per-channel std, and bf16 takes none (bf16(w s) is not bf16(w) s). */
static void fold_input(Graph *g) {
  InputFormat *f = &g->in_fmt;
  if ((f->scale == 1.0 && !f->mean && !f->std) || (g->feedback && g->forecast_steps))
    return;
  int reader = -1, readers = 0;
  for (int i = 0; i < g->n_step_layers; i++)
    for (int k = 0; k < g->layer[i].n_input; k++)
      if (g->layer[i].input[k] < 0)
        reader = i, readers++;
  const Layer *l = readers == 1 ? &g->layer[reader] : NULL;
  f->folded = l && l->op == &op_conv2d && l->input[0] < 0 && !l->win.pad_top &&
              !l->win.pad_bottom && !l->win.pad_left && !l->win.pad_right &&
              (l->weight_type == WT_F32 || (l->weight_type == WT_I8 && !f->std));
}

void fuse_layers(Graph *g) {
  fold_input(g);
  for (int i = 0; i < g->n_layer; i++) {
    Layer *l = &g->layer[i];
    if (!(l->op->flags & OP_EPILOGUE))
      continue;
    int next = sole_reader(g, i);
    /* a norm's per-channel factor folds into int8 rows' scales, not into bf16 weights */
    if (next >= 0 && (l->op->flags & OP_FOLDS_NORM) && (g->layer[next].op->flags & OP_NORM) &&
        l->weight_type != WT_BF16) {
      l->fused_bn = next;
      g->layer[next].fused_into = i;
      next = sole_reader(g, next);
    }
    if (next >= 0 && g->layer[next].op->activation) {
      l->fused_act = next;
      g->layer[next].fused_into = i;
    }
  }
}
