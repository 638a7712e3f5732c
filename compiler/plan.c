/* Static memory plan: every transient value gets an offset in one arena,
 * in slots of whole 8-float (32-byte) vectors; the reported sum and lower
 * bound count the same slots, so they compare with the plan.
 * Greedy by size (as TFLite Micro and TVM do): largest first, ties by
 * first use then index for deterministic output, each at the lowest
 * offset that clears every placed value alive at the same time. */
#include <stdlib.h>

#include "reel.h"

static int64_t aligned(int64_t floats) { return (floats + 7) / 8 * 8; }

static bool alive_together(const Value *a, const Value *b) {
  return !(a->last < b->first || b->last < a->first);
}

static const Program *sort_program;

static int by_size(const void *pa, const void *pb) {
  const Value *a = &sort_program->v[*(const int *)pa], *b = &sort_program->v[*(const int *)pb];
  if (a->size != b->size)
    return a->size > b->size ? -1 : 1;
  if (a->first != b->first)
    return a->first < b->first ? -1 : 1;
  return *(const int *)pa - *(const int *)pb;
}

bool plan_memory(Program *p, bool reuse) {
  int *order = calloc((size_t)p->nv + 1, sizeof *order);
  int *placed = calloc((size_t)p->nv + 1, sizeof *placed);
  if (!order || !placed) {
    free(order);
    free(placed);
    diag_error((Loc){p->g->file, 0, 0}, "out of memory planning the arena");
    return false;
  }
  int n = 0;
  p->transient_sum = 0;
  for (int i = 0; i < p->nv; i++)
    if (p->v[i].kind == V_TRANSIENT) {
      order[n++] = i;
      p->transient_sum += aligned(p->v[i].size);
    }
  sort_program = p;
  qsort(order, (size_t)n, sizeof *order, by_size);

  p->arena_floats = 0;
  for (int i = 0; i < n; i++) {
    Value *v = &p->v[order[i]];
    int64_t offset = 0;
    if (reuse) {
      /* First fit: move past any overlapping placed value until none clash. */
      for (bool moved = true; moved;) {
        moved = false;
        for (int j = 0; j < i; j++) {
          const Value *u = &p->v[placed[j]];
          if (alive_together(u, v) && offset < u->offset + aligned(u->size) &&
              u->offset < offset + aligned(v->size)) {
            offset = u->offset + aligned(u->size);
            moved = true;
          }
        }
      }
    } else {
      offset = p->arena_floats;
    }
    v->offset = offset;
    placed[i] = order[i];
    if (offset + aligned(v->size) > p->arena_floats)
      p->arena_floats = offset + aligned(v->size);
  }

  /* The lower bound: the largest total of transients alive at one call. */
  p->lower_bound = 0;
  for (int c = 0; c <= p->nc; c++) {
    int64_t live = 0;
    for (int i = 0; i < n; i++) {
      const Value *v = &p->v[order[i]];
      if (v->first <= c && c <= v->last)
        live += aligned(v->size);
    }
    if (live > p->lower_bound)
      p->lower_bound = live;
  }
  free(order);
  free(placed);
  return plan_check(p);
}

/* The planner's proof obligation: no two values alive together overlap. */
bool plan_check(const Program *p) {
  for (int i = 0; i < p->nv; i++) {
    const Value *a = &p->v[i];
    if (a->kind != V_TRANSIENT)
      continue;
    if (a->offset < 0 || a->offset + a->size > p->arena_floats)
      goto bad;
    for (int j = i + 1; j < p->nv; j++) {
      const Value *b = &p->v[j];
      if (b->kind == V_TRANSIENT && alive_together(a, b) && a->offset < b->offset + b->size &&
          b->offset < a->offset + a->size)
        goto bad;
    }
  }
  return true;
bad:
  diag_error((Loc){p->g->file, 0, 0}, "internal error: the arena plan overlaps live values");
  return false;
}
