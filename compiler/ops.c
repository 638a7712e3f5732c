/* The op table (ops.h's REEL_OPS) as an array, lookup by name, and the
 * check that every descriptor has what the passes call. */
#include <string.h>

#include "ops.h"

const OpDesc *const op_table[] = {
#define X(desc) &(desc),
    REEL_OPS(X)
#undef X
};
const int op_count = (int)(sizeof op_table / sizeof op_table[0]);

const OpDesc *op_find(const char *name) {
  for (int i = 0; i < op_count; i++)
    if (strcmp(op_table[i]->name, name) == 0)
      return op_table[i];
  return NULL;
}

const char *nearest_op(const char *name) {
  const char *names[sizeof op_table / sizeof op_table[0]];
  for (int i = 0; i < op_count; i++)
    names[i] = op_table[i]->name;
  return nearest_word(name, names, op_count);
}

/* A descriptor the passes would trip over: no name, a required function
 * missing, an optional one its flags need missing, an impossible input
 * count.  Reported as an internal error naming the op. */
bool ops_verify(void) {
  bool ok = true;
  for (int i = 0; i < op_count; i++) {
    const OpDesc *d = op_table[i];
    const char *missing = !d->name ? "name" : !d->keys ? "keys" : !d->infer ? "infer"
                          : !d->lower ? "lower" : !d->interp ? "interp"
                          : (d->flags & OP_TEMPORAL) && !d->interp_frame
                              ? "interp_frame (OP_TEMPORAL: its ring fills every frame)"
                          : *d->keys && !d->parse ? "parse (it has keys)"
                          : d->min_inputs < 0 || d->max_inputs < 1 || d->min_inputs > d->max_inputs ||
                                  d->max_inputs > MAX_INPUTS
                              ? "a valid min_inputs..max_inputs"
                              : NULL;
    if (missing) {
      diag_error((Loc){"reelc", 0, 0}, "internal error: op #%d '%s' has no %s", i,
                 d->name ? d->name : "?", missing);
      ok = false;
    }
    for (int j = 0; j < i; j++)
      if (d->name && op_table[j]->name && strcmp(d->name, op_table[j]->name) == 0) {
        diag_error((Loc){"reelc", 0, 0}, "internal error: two ops are named '%s'", d->name);
        ok = false;
      }
  }
  return ok;
}
