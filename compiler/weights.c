/* Binding weights to the parameters the graph needs: every needed tensor
 * present with its exact shape, and no tensor left over (a leftover means
 * the spec and the trained model disagree). */
#include <math.h>
#include <string.h>

#include "reel.h"

static bool same_shape(Shape a, Shape b) {
  if (a.rank != b.rank)
    return false;
  for (int i = 0; i < a.rank; i++)
    if (a.dim[i] != b.dim[i])
      return false;
  return true;
}

bool bind_weights(Arena *a, Graph *g, TensorFile *f) {
  bool ok = true;
  for (int i = 0; i < g->n_layer; i++) {
    Layer *l = &g->layer[i];
    for (int j = 0; j < l->n_param; j++) {
      Param *p = &l->param[j];
      Tensor *t = tensors_find(f, p->name);
      if (!t) {
        diag_error(l->loc, "%s '%s' needs tensor '%s' of shape %s, but %s has no such tensor",
                   op_name[l->op], l->name, p->name, shape_str(a, p->shape), f->path);
        ok = false;
        continue;
      }
      t->used = true;
      if (!same_shape(t->shape, p->shape)) {
        diag_error(l->loc, "%s '%s' needs tensor '%s' of shape %s, but %s has shape %s",
                   op_name[l->op], l->name, p->name, shape_str(a, p->shape), f->path,
                   shape_str(a, t->shape));
        ok = false;
        continue;
      }
      p->data = t->data;
      p->data_loc = t->loc;
    }
  }
  for (int i = 0; i < f->n && ok; i++)
    if (!f->t[i].used) {
      diag_error(f->t[i].loc, "tensor '%s' is not used by any layer of model '%s' (%s)",
                 f->t[i].name, g->model, g->file);
      ok = false;
    }
  return ok;
}

/* splitmix64: a tiny, well-known generator, so random weights are the
 * same on every machine for the same seed. */
static uint64_t next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

/* PyTorch's default ranges: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for linear,
 * U(-1/sqrt(hidden), 1/sqrt(hidden)) for recurrent layers. */
void bind_random_weights(Arena *a, Graph *g, uint64_t seed) {
  uint64_t state = seed;
  for (int i = 0; i < g->n_layer; i++) {
    Layer *l = &g->layer[i];
    int fan = l->op == OP_LINEAR ? (int)shape_elems(l->in_shape) : l->hidden;
    float bound = 1.0f / sqrtf((float)(fan > 0 ? fan : 1));
    for (int j = 0; j < l->n_param; j++) {
      Param *p = &l->param[j];
      int64_t n = shape_elems(p->shape);
      float *d = arena_alloc(a, (size_t)(n ? n : 1) * sizeof *d);
      for (int64_t k = 0; k < n; k++)
        d[k] = bound * (float)((double)(next(&state) >> 11) * 0x1p-53 * 2.0 - 1.0);
      p->data = d;
      p->data_loc = (Loc){"--random-weights", 0, 0};
    }
  }
}

int64_t graph_param_floats(const Graph *g) {
  int64_t n = 0;
  for (int i = 0; i < g->n_layer; i++)
    for (int j = 0; j < g->layer[i].n_param; j++)
      n += shape_elems(g->layer[i].param[j].shape);
  return n;
}
