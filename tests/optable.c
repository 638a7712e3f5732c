/* The op table's startup check, ops_verify(), on the real table and on
 * broken copies of real descriptors: each gap must be reported (on stderr,
 * naming the op and what it lacks) and make the check fail.  Prints
 * "NAME 0|1" lines (1: the check passed) for optable.test. */
#include "ops.h"

static void check(const char *what, const OpDesc *d) {
  const OpDesc *table[1] = {d};
  printf("%s %d\n", what, ops_verify_table(table, 1));
  fflush(stdout);
}

int main(void) {
  printf("real %d\n", ops_verify());
  OpDesc d = op_relu;
  d.lower = NULL;
  check("no_lower", &d);
  d = op_conv2d;
  d.interp = NULL;
  check("no_interp", &d);
  d = op_linear;
  d.infer = NULL;
  check("no_infer", &d);
  d = op_leaky_relu;
  d.parse = NULL;
  check("keys_without_parse", &d);
  d = op_temporal_conv;
  d.interp_frame = NULL;
  check("temporal_without_interp_frame", &d);
  d = op_add;
  d.min_inputs = 3, d.max_inputs = 2;
  check("inputs_min_over_max", &d);
  const OpDesc *twice[2] = {&op_relu, &op_relu};
  printf("same_name_twice %d\n", ops_verify_table(twice, 2));
  return 0;
}
