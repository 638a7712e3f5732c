/* libFuzzer harness for the weights front end: the input is a
 * safetensors file.  safetensors_read() takes a path, so the bytes go to
 * a file of this process's own under $TMPDIR (or /tmp); a file that reads is bound to
 * a fixed spec, so the name, shape and dtype checks run too, and bound
 * weights are packed by lowering for AVX2.  Built and run by
 * tests/fuzz/run.sh. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reel.h"

/* tests/fuzz/weights.yaml, which fuzz.test replays the corpus against:
 * keep the two the same (fuzz.test checks). */
static const char spec_text[] =
    "reel: 1\n"
    "model: fuzz\n"
    "input: {frame: [2, 4, 4]}\n"
    "layers:\n"
    "  - {name: conv, op: conv2d, out: 2, kernel: 3, padding: 1}\n"
    "  - {name: bn, op: batchnorm}\n"
    "  - {op: relu}\n"
    "  - {op: flatten}\n"
    "  - {name: fc, op: linear, out: 4}\n"
    "  - {name: rnn, op: lstm, hidden: 3}\n";

static Arena spec_arena;
static Graph *graph;
static char path[4096];

static void remove_file(void) { unlink(path); }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  graph = spec_parse(&spec_arena, "weights.yaml", spec_text, sizeof spec_text - 1);
  if (!graph || !infer_shapes(&spec_arena, graph))
    abort();
  fuse_layers(graph);
  const char *tmp = getenv("TMPDIR"); /* run.sh: build/fuzz/tmp, emptied each run */
  snprintf(path, sizeof path, "%s/reel-fuzz-%ld.safetensors", tmp && *tmp ? tmp : "/tmp",
           (long)getpid());
  if (atexit(remove_file) != 0)
    abort();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
    abort(); /* not the input's fault: stop rather than fuzz nothing */
  Arena a = {0};
  TensorFile *tf = safetensors_read(&a, path, true);
  if (tf && bind_weights(&a, graph, tf, &(WeightOptions){0}) && !plan_memory(lower(&a, graph, TARGET_AVX2), true))
    abort();
  /* the graph outlives this input's arena: forget the weights bound from it */
  for (int i = 0; i < graph->n_layer; i++)
    for (int j = 0; j < graph->layer[i].n_param; j++)
      graph->layer[i].param[j].data = NULL;
  arena_free(&a);
  return 0;
}
