/* Binding weights to the parameters the graph needs: every needed tensor
 * present with its exact shape, and no tensor left over (a leftover means
 * the spec and the trained model disagree). */
#include <math.h>
#include <string.h>

#include "ops.h"

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
                   l->op->name, l->name, p->name, shape_str(a, p->shape), f->path);
        ok = false;
        continue;
      }
      t->used = true;
      if (!t->data) {
        diag_error(l->loc, "%s '%s' needs tensor '%s' as floats, but %s stores it as %s",
                   l->op->name, l->name, p->name, f->path, t->dtype);
        ok = false;
        continue;
      }
      if (!same_shape(t->shape, p->shape)) {
        diag_error(l->loc, "%s '%s' needs tensor '%s' of shape %s, but %s has shape %s",
                   l->op->name, l->name, p->name, shape_str(a, p->shape), f->path,
                   shape_str(a, t->shape));
        ok = false;
        continue;
      }
      p->data = t->data;
    }
    /* tensors PyTorch saves that the model never reads (a batch norm's counter) */
    char extra[64];
    snprintf(extra, sizeof extra, "%s", l->op->extra ? l->op->extra : "");
    for (char *w = strtok(extra, " "); w; w = strtok(NULL, " ")) {
      Tensor *t = tensors_find(f, arena_printf(a, "%s.%s", l->name, w));
      if (t)
        t->used = true;
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

static double uniform(uint64_t *s) { return (double)(next(s) >> 11) * 0x1p-53; }

/* Each parameter as its Param.init says: PyTorch's default initialisation
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases; a norm's
 * scale and variance in [0.5, 1.5), its shift and mean in [-0.5, 0.5). */
void bind_random_weights(Arena *a, Graph *g, uint64_t seed) {
  uint64_t state = seed;
  for (int i = 0; i < g->n_layer; i++) {
    Layer *l = &g->layer[i];
    for (int j = 0; j < l->n_param; j++) {
      Param *p = &l->param[j];
      int64_t n = shape_elems(p->shape);
      double bound = 1.0 / sqrt((double)(p->fan_in > 0 ? p->fan_in : 1));
      float *d = arena_alloc(a, (size_t)(n ? n : 1) * sizeof *d);
      for (int64_t k = 0; k < n; k++) {
        double u = uniform(&state);
        d[k] = (float)(p->init == INIT_NEAR_ONE ? 0.5 + u
                       : p->init == INIT_NEAR_ZERO ? u - 0.5 : bound * (2.0 * u - 1.0));
      }
      p->data = d;
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
