/* libFuzzer harness for the spec front end: the input is a spec file's
 * text.  A spec that parses goes on through everything `reelc info` and
 * `--dump` run (shapes, fusion, lowering for both targets, the memory
 * plan, the printers), with random weights bound, since those passes trust
 * what the front end accepted.  Built and run by tests/fuzz/run.sh. */
#include <stdlib.h>
#include <string.h>

#include "reel.h"

/* Weights bound and packed for lowering; above this the model is only
 * checked, so one input cannot take gigabytes (the limits in reel.h allow
 * tensors of 2^31 floats, which is fine for reelc but not for a fuzzer). */
enum { MAX_FUZZ_FLOATS = 1 << 22 };

static FILE *devnull; /* the printers' output: run, not kept */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  devnull = fopen("/dev/null", "w");
  if (!devnull)
    abort();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* read_file() hands spec_parse a NUL-terminated buffer: do the same */
  char *text = malloc(size + 1);
  if (!text)
    return 0;
  if (size)
    memcpy(text, data, size);
  text[size] = '\0';
  Arena a = {0};
  Graph *g = spec_parse(&a, "fuzz.yaml", text, size);
  if (g)
    dump_graph(devnull, g); /* --dump=spec prints the graph before shapes */
  if (g && infer_shapes(&a, g) && graph_param_floats(g) <= MAX_FUZZ_FLOATS) {
    bind_random_weights(&a, g, 1);
    fuse_layers(g);
    dump_graph(devnull, g);
    for (int t = TARGET_GENERIC; t <= TARGET_AVX2; t++) {
      Program *p = lower(&a, g, (Target)t);
      /* the planner checks its own result: failing here is a reelc bug */
      if (!plan_memory(p, true))
        abort();
      dump_program(devnull, p);
      print_info(devnull, &a, g, p);
    }
  }
  arena_free(&a);
  free(text);
  return 0;
}
