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

/* The prefixes of o stripped from every tensor name, in order, each at
 * most once; a name that then equals another tensor's is an error. */
static bool strip_prefixes(TensorFile *f, const WeightOptions *o) {
  for (int i = 0; i < f->n; i++) {
    const char *name = f->t[i].saved;
    for (int k = 0; k < o->n_strip; k++) {
      size_t n = strlen(o->strip[k]);
      if (strncmp(name, o->strip[k], n) == 0 && name[n])
        name += n;
    }
    f->t[i].name = name;
  }
  bool ok = true;
  for (int i = 0; o->n_strip && i < f->n; i++)
    for (int j = 0; j < i; j++)
      if (strcmp(f->t[i].name, f->t[j].name) == 0) {
        const Tensor *cut = f->t[i].name != f->t[i].saved ? &f->t[i] : &f->t[j];
        const Tensor *other = cut == &f->t[i] ? &f->t[j] : &f->t[i];
        diag_error(cut->loc, "tensor '%s' becomes '%s' after --strip-prefix, a name tensor '%s' "
                   "%s: expected prefixes that keep the names distinct", cut->saved, cut->name,
                   other->saved, other->name == other->saved ? "has" : "gets too");
        ok = false;
        break;
      }
  return ok;
}

static Tensor *param_tensor(TensorFile *f, const Param *p) {
  Tensor *t = tensors_find(f, p->name);
  return t || !p->alias ? t : tensors_find(f, p->alias);
}

/* A tensor named "<prefix>.<param>": a DataParallel or a wrapping module
 * put the prefix before the names the spec expects.  NULL: none. */
static const Tensor *under_prefix(const TensorFile *f, const char *param) {
  size_t n = param ? strlen(param) : 0;
  for (int i = 0; n && i < f->n; i++) {
    const char *name = f->t[i].name;
    size_t len = strlen(name);
    if (len > n + 1 && strcmp(name + len - n, param) == 0 && name[len - n - 1] == '.')
      return &f->t[i];
  }
  return NULL;
}

static bool bind_param(Arena *a, const Layer *l, Param *p, TensorFile *f, const char **hinted) {
  if (p->zero) {
    p->data = arena_alloc(a, (size_t)(shape_elems(p->shape) ? shape_elems(p->shape) : 1) * sizeof *p->data);
    return true;
  }
  Tensor *t = param_tensor(f, p);
  if (!t) {
    diag_error(l->loc, "%s '%s' needs tensor '%s' of shape %s, but %s has no such tensor",
               l->op->name, l->name, p->name, shape_str(a, p->shape), f->path);
    const Tensor *found = under_prefix(f, p->name);
    const char *as = found ? p->name : p->alias;
    if (!found)
      found = under_prefix(f, p->alias);
    const char *prefix =
        found ? arena_printf(a, "%.*s", (int)(strlen(found->name) - strlen(as)), found->name) : NULL;
    if (prefix && (!*hinted || strcmp(prefix, *hinted) != 0)) {
      diag_note(l->loc, "%s has names under '%s' (such as '%s'): to read them, pass "
                "--strip-prefix %s", f->path, prefix, found->saved, prefix);
      *hinted = prefix;
    }
    return false;
  }
  t->used = true;
  if (!t->data) {
    diag_error(l->loc, "%s '%s' needs tensor '%s' as floats, but %s stores it as %s",
               l->op->name, l->name, t->saved, f->path, t->dtype);
    return false;
  }
  if (!same_shape(t->shape, p->shape)) {
    diag_error(l->loc, "%s '%s' needs tensor '%s' of shape %s, but %s has shape %s",
               l->op->name, l->name, t->saved, shape_str(a, p->shape), f->path,
               shape_str(a, t->shape));
    return false;
  }
  p->data = t->data;
  return true;
}

/* The layer whose name prefixes a tensor name ("rnn" for
 * "rnn.weight_ih_l0_reverse"), the longest such, or NULL. */
static const Layer *owner(const Graph *g, const char *tensor) {
  const Layer *best = NULL;
  for (int i = 0; i < g->n_layer; i++) {
    size_t n = strlen(g->layer[i].name);
    if (strncmp(tensor, g->layer[i].name, n) == 0 && tensor[n] == '.' &&
        (!best || n > strlen(best->name)))
      best = &g->layer[i];
  }
  return best;
}

/* Why an unused tensor is there, as the layer it is under explains it. */
static const char *unused_reason(Arena *a, const Graph *g, const Tensor *t) {
  const Layer *l = t->used ? NULL : owner(g, t->name);
  return l && l->op->explain_tensor ? l->op->explain_tensor(a, l, t->name + strlen(l->name) + 1)
                                    : NULL;
}

/* Tensors no layer reads, all in one diagnostic: an error (the spec and
 * the trained model disagree) or, with --allow-unused, a warning; each
 * one its layer can explain (a PyTorch variant the spec lacks) gets a note. */
static bool report_unused(Arena *a, const Graph *g, const TensorFile *f, bool allow) {
  enum { LISTED = 12 };
  int n = 0;
  Loc at = {f->path, 0, 0};
  Buf list = {0};
  for (int i = 0; i < f->n; i++) {
    if (f->t[i].used)
      continue;
    if (n == 0)
      at = f->t[i].loc;
    if (n < LISTED)
      buf_printf(&list, "%s'%s'", n ? ", " : "", f->t[i].saved);
    n++;
  }
  if (n == 0)
    return true;
  if (n > LISTED)
    buf_printf(&list, " and %d more", n - LISTED);
  const char *what = arena_printf(a, "%d tensor%s of %s %s not read by any layer of model '%s' (%s): %s",
                                  n, n == 1 ? "" : "s", f->path, n == 1 ? "is" : "are", g->model,
                                  g->file, list.s);
  buf_free(&list);
  if (allow)
    diag_warning(at, "%s; ignored (--allow-unused)", what);
  else
    diag_error(at, "%s; expected every tensor to be a parameter (pass --allow-unused to ignore them)",
               what);
  /* one note per explanation: the first tensor it explains, and how many more */
  for (int i = 0; i < f->n; i++) {
    const char *why = unused_reason(a, g, &f->t[i]);
    bool first = why != NULL;
    int more = 0;
    for (int j = 0; j < f->n && first; j++)
      if (j != i) {
        const char *other = unused_reason(a, g, &f->t[j]);
        if (other && strcmp(other, why) == 0) {
          first = j > i;
          more++;
        }
      }
    if (first && more)
      diag_note(f->t[i].loc, "'%s' and %d more like it: each %s", f->t[i].saved, more, why);
    else if (first)
      diag_note(f->t[i].loc, "'%s' %s", f->t[i].saved, why);
  }
  return allow;
}

bool bind_weights(Arena *a, Graph *g, TensorFile *f, const WeightOptions *o) {
  if (!strip_prefixes(f, o))
    return false;
  bool ok = true;
  const char *hinted = NULL;
  for (int i = 0; i < g->n_layer; i++) {
    Layer *l = &g->layer[i];
    for (int j = 0; j < l->n_param; j++)
      ok &= bind_param(a, l, &l->param[j], f, &hinted);
    /* tensors PyTorch saves that the model never reads (a batch norm's counter) */
    char extra[64];
    snprintf(extra, sizeof extra, "%s", l->op->extra ? l->op->extra : "");
    for (char *w = strtok(extra, " "); w; w = strtok(NULL, " ")) {
      Tensor *t = tensors_find(f, arena_printf(a, "%s.%s", l->name, w));
      if (t)
        t->used = true;
    }
  }
  return report_unused(a, g, f, o->allow_unused) && ok;
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
      for (int64_t k = 0; k < n && !p->zero; k++) {
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
      n += g->layer[i].param[j].zero ? 0 : shape_elems(g->layer[i].param[j].shape);
  return n;
}
