/* Static memory plan: every transient value gets an offset in one arena,
 * in slots of whole 8-float (32-byte) vectors; the reported sum and lower
 * bound count the same slots, so they compare with the plan.
 * Greedy by size (as TFLite Micro and TVM do): largest first, ties by
 * first use then index for deterministic output, each at the lowest
 * offset that clears every placed value alive at the same time.
 *
 * The arena has two regions, for a batch of streams (m_step_many): a batch
 * runs the step in passes over its streams, each batched call one pass and
 * each run of other calls one pass.  A transient used in one pass only is
 * "shared": the streams use it in turn, so one copy serves the batch.  The
 * others are "carried": each stream keeps its own from pass to pass.  The
 * shared ones are placed first, in [0, local_floats); the carried ones
 * above, so a batch can give each stream its own copy of that region. */
#include <stdlib.h>

#include "reel.h"

/* Whether call c runs once for a whole batch: its kernel has a batched form, it runs on
 * every frame (a guarded call runs stream by stream, as its guard says for each) and its
 * inputs x are the streams' (a gemv of a learned query has one x for all). */
bool call_batched(const Program *p, const Call *c) {
  if (!(kernel_info[c->op].isas & K_MANY) || c->guard != G_ALWAYS)
    return false;
  char tok[32];
  int value = 0;
  for (const char *s = kernel_info[c->op].signature; signature_next(&s, tok, sizeof tok);)
    if (signature_kind(tok) == SIG_VALUE) {
      int v = c->arg[value++];
      if (tok[0] == 'x' && (v < 0 || p->v[v].kind == V_WEIGHT))
        return false;
    }
  return true;
}

/* Which transients a batch carries: used by a batched call, or in two passes (the output,
 * read after the last call, counts as used in the last pass). */
static void mark_carried(Program *p) {
  int *pass = calloc((size_t)p->nv + 1, sizeof *pass); /* per value: its pass + 1, 0: unused */
  if (!pass) {
    for (int i = 0; i < p->nv; i++) /* no memory to tell: carry all, which is always safe */
      p->v[i].carried = p->v[i].kind == V_TRANSIENT;
    return;
  }
  for (int i = 0; i < p->nv; i++)
    p->v[i].carried = false;
  int k = 0;
  for (int c = 0; c < p->step_end; c++) {
    bool batched = call_batched(p, &p->call[c]);
    if (c > 0 && (batched || call_batched(p, &p->call[c - 1])))
      k++;
    for (int a = 0; a < MAX_ARGS; a++) {
      int v = p->call[c].arg[a];
      if (v < 0 || p->v[v].kind != V_TRANSIENT)
        continue;
      if (batched || (pass[v] && pass[v] != k + 1))
        p->v[v].carried = true;
      pass[v] = k + 1;
    }
  }
  int y = p->out_value;
  if (y >= 0 && p->v[y].kind == V_TRANSIENT && pass[y] && pass[y] != k + 1)
    p->v[y].carried = true;
  free(pass);
}

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
  mark_carried(p);
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
  int done = 0;
  for (int carried = 0; carried < 2; carried++) { /* the shared region, then the carried */
    int64_t base = p->arena_floats;
    for (int i = 0; i < n; i++) {
      Value *v = &p->v[order[i]];
      if (v->carried != carried)
        continue;
      int64_t offset = reuse ? base : p->arena_floats;
      /* First fit: move past any overlapping placed value until none clash. */
      for (bool moved = reuse; moved;) {
        moved = false;
        for (int j = 0; j < done; j++) {
          const Value *u = &p->v[placed[j]];
          if (alive_together(u, v) && offset < u->offset + aligned(u->size) &&
              u->offset < offset + aligned(v->size)) {
            offset = u->offset + aligned(u->size);
            moved = true;
          }
        }
      }
      v->offset = offset;
      placed[done++] = order[i];
      if (offset + aligned(v->size) > p->arena_floats)
        p->arena_floats = offset + aligned(v->size);
    }
    if (!carried)
      p->local_floats = p->arena_floats;
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

/* The planner's proof obligation: no two values alive together overlap, and each is in its
 * region. */
bool plan_check(const Program *p) {
  for (int i = 0; i < p->nv; i++) {
    const Value *a = &p->v[i];
    if (a->kind != V_TRANSIENT)
      continue;
    if (a->offset < 0 || a->offset + a->size > p->arena_floats ||
        (a->carried ? a->offset < p->local_floats : a->offset + a->size > p->local_floats))
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
