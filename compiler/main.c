/* reelc: the command line.  Reads like the pipeline:
 * spec -> shapes -> weights -> lower -> plan -> emit (or interpret). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

#define REEL_VERSION "0.1.0"

static const char usage[] =
    "usage: reelc compile SPEC.yaml (-w WEIGHTS.safetensors | --random-weights SEED)\n"
    "                     [-o DIR] [--target avx2|generic] [--endian little|big]\n"
    "                     [--weights-format strings|floats] [--weight-type f32|bf16|int8]\n"
    "                     [--max-streams N]\n"
    "       reelc check SPEC.yaml [-w WEIGHTS.safetensors]\n"
    "       reelc info SPEC.yaml [--target avx2|generic] [--weight-type T] [--max-streams N]\n"
    "                  [--json]\n"
    "                  [-w WEIGHTS.safetensors --input CLIP.safetensors]\n"
    "       reelc run SPEC.yaml (-w WEIGHTS.safetensors | --random-weights SEED)\n"
    "                 --input IN.safetensors -o OUT.safetensors\n"
    "\n"
    "  compile   write DIR/<model>.h, <model>.c, <model>_weights.c and the runtime files\n"
    "            the model uses (DIR defaults to '.');\n"
    "            build with cc -std=c99 -O2 -mavx2 -mfma -IDIR DIR/*.c app.c -lm\n"
    "            (no -mavx2 -mfma for --target generic)\n"
    "  check     parse, validate and infer shapes (and check weights with -w); silent on success\n"
    "  info      per-layer table (shapes, parameters, MACs, state), flash and RAM for the\n"
    "            target (--json: the same figures as one JSON object); with -w and --input,\n"
    "            how far --weight-type moves each output from float32's on that clip\n"
    "  run       run the reference interpreter: 'input' [T, ...frame] -> 'output' [T, OUT]\n"
    "            'clip' [OUT], 'clip_steps' [T, OUT], 'attention' [T, A], 'forecast'\n"
    "\n"
    "options:\n"
    "  -w FILE              trained weights, PyTorch state_dict names (F32, F16, BF16)\n"
    "  --strip-prefix P     read the weights' names without the prefix P (e.g. 'module.');\n"
    "                       repeatable, applied in order, each at most once per name\n"
    "  --allow-unused       tensors no layer reads are a warning, not an error\n"
    "  --random-weights N   deterministic random weights from seed N (for benchmarks)\n"
    "  -o PATH              output directory (compile) or file (run)\n"
    "  --target T           kernels: avx2 (AVX2 + FMA; the default where this machine has\n"
    "                       them) or generic (portable C99)\n"
    "  --endian E           the weights' byte order: little (the default) or big (s390x,\n"
    "                       PowerPC and other big-endian targets)\n"
    "  --weights-format F   strings (the default: bytes in string literals, fast to compile)\n"
    "                       or floats (a hexadecimal float literal per weight: no union, no\n"
    "                       string, as MISRA reviews want; slow to compile for large models)\n"
    "  --weight-type T      how weight matrices and filters are stored: f32 (the default), bf16\n"
    "                       (rounded to nearest even) or int8 (one float scale per row);\n"
    "                       a layer's 'weight_type:' overrides it.  Activations, state and\n"
    "                       sums stay float32; run computes with the same rounded weights\n"
    "  --max-streams N      the most streams one m_step_many batch takes (1 to 1024, default\n"
    "                       16): more take several batches; each costs 5 pointers on the stack\n"
    "  --dump=PASS          print the IR after PASS (spec, shapes, fuse, lower, plan) to stdout\n"
    "  --no-reuse           give every transient its own arena slot (A/B checks)\n"
    "  -h, --help           this text;  --version  the version\n";

enum { MAX_STRIP = 8 };

typedef struct {
  const char *command, *spec, *weights, *input, *output, *dump;
  const char *strip[MAX_STRIP];
  int n_strip;
  bool random, no_reuse, allow_unused;
  uint64_t seed;
  Target target;
  bool big_endian; /* --endian big */
  bool float_literals; /* --weights-format floats */
  bool json;       /* info --json */
  WeightType weight_type; /* --weight-type */
  int max_streams;        /* --max-streams */
} Options;

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "reelc: error: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n(run 'reelc --help' for usage)\n");
  va_end(ap);
  return 2;
}

/* Returns -1 on success, else the exit status. */
static int parse_args(int argc, char **argv, Options *o) {
  if (argc < 2)
    return usage_error("no command given: expected compile, check, info or run");
  o->command = argv[1];
  if (strcmp(o->command, "-h") == 0 || strcmp(o->command, "--help") == 0) {
    fputs(usage, stdout);
    return 0;
  }
  if (strcmp(o->command, "--version") == 0) {
    printf("reelc %s\n", REEL_VERSION);
    return 0;
  }
  if (strcmp(o->command, "compile") != 0 && strcmp(o->command, "check") != 0 &&
      strcmp(o->command, "info") != 0 && strcmp(o->command, "run") != 0)
    return usage_error("unknown command '%s': expected compile, check, info or run", o->command);
  for (int i = 2; i < argc; i++) {
    const char *arg = argv[i];
    const char **slot = NULL;
    if (strcmp(arg, "-w") == 0)
      slot = &o->weights;
    else if (strcmp(arg, "-o") == 0)
      slot = &o->output;
    else if (strcmp(arg, "--input") == 0)
      slot = &o->input;
    if (slot || strcmp(arg, "--random-weights") == 0 || strcmp(arg, "--target") == 0 ||
        strcmp(arg, "--strip-prefix") == 0 || strcmp(arg, "--endian") == 0 ||
        strcmp(arg, "--weights-format") == 0 || strcmp(arg, "--weight-type") == 0 ||
        strcmp(arg, "--max-streams") == 0) {
      if (i + 1 == argc)
        return usage_error("option '%s' needs a value", arg);
      const char *value = argv[++i];
      if (slot) {
        *slot = value;
      } else if (strcmp(arg, "--strip-prefix") == 0) {
        if (!*value)
          return usage_error("%s", "--strip-prefix needs a non-empty prefix, such as 'module.'");
        if (o->n_strip == MAX_STRIP)
          return usage_error("more than %d --strip-prefix options", MAX_STRIP);
        o->strip[o->n_strip++] = value;
      } else if (strcmp(arg, "--target") == 0) {
        if (strcmp(value, "generic") == 0)
          o->target = TARGET_GENERIC;
        else if (strcmp(value, "avx2") == 0)
          o->target = TARGET_AVX2;
        else
          return usage_error("unknown target '%s': expected generic or avx2", value);
      } else if (strcmp(arg, "--endian") == 0) {
        if (strcmp(value, "big") != 0 && strcmp(value, "little") != 0)
          return usage_error("unknown byte order '%s': expected little or big", value);
        o->big_endian = strcmp(value, "big") == 0;
      } else if (strcmp(arg, "--weights-format") == 0) {
        if (strcmp(value, "strings") != 0 && strcmp(value, "floats") != 0)
          return usage_error("unknown weights format '%s': expected strings or floats", value);
        o->float_literals = strcmp(value, "floats") == 0;
      } else if (strcmp(arg, "--weight-type") == 0) {
        int t = 0;
        while (t < WT_COUNT && strcmp(value, weight_type_name[t]) != 0)
          t++;
        if (t == WT_COUNT)
          return usage_error("unknown weight type '%s': expected f32, bf16 or int8", value);
        o->weight_type = (WeightType)t;
      } else if (strcmp(arg, "--max-streams") == 0) {
        char *end;
        long n = strtol(value, &end, 10);
        if (!*value || *end || n < 1 || n > MAX_STREAMS_LIMIT)
          return usage_error("--max-streams needs a whole number from 1 to %d, got '%s'",
                             MAX_STREAMS_LIMIT, value);
        o->max_streams = (int)n;
      } else {
        char *end;
        errno = 0;
        o->seed = strtoull(value, &end, 10);
        if (!*value || *end || errno || value[0] == '-')
          return usage_error("--random-weights needs a non-negative integer seed, got '%s'", value);
        o->random = true;
      }
    } else if (strncmp(arg, "--dump=", 7) == 0) {
      o->dump = arg + 7;
      if (strcmp(o->dump, "spec") != 0 && strcmp(o->dump, "shapes") != 0 &&
          strcmp(o->dump, "fuse") != 0 && strcmp(o->dump, "lower") != 0 && strcmp(o->dump, "plan") != 0)
        return usage_error("unknown pass '%s' for --dump: expected spec, shapes, fuse, lower or plan",
                           o->dump);
    } else if (strcmp(arg, "--no-reuse") == 0) {
      o->no_reuse = true;
    } else if (strcmp(arg, "--allow-unused") == 0) {
      o->allow_unused = true;
    } else if (strcmp(arg, "--json") == 0) {
      o->json = true;
    } else if (arg[0] == '-' && arg[1]) {
      return usage_error("unknown option '%s'", arg);
    } else if (!o->spec) {
      o->spec = arg;
    } else {
      return usage_error("unexpected argument '%s': one spec file per command", arg);
    }
  }
  if (!o->spec)
    return usage_error("%s: no spec file given", o->command);
  bool compile = strcmp(o->command, "compile") == 0, run = strcmp(o->command, "run") == 0;
  if (o->weights && o->random)
    return usage_error("%s", "-w and --random-weights exclude each other");
  if (compile && !o->weights && !o->random)
    return usage_error("%s", "compile needs weights: -w FILE or --random-weights SEED");
  if (run && ((!o->weights && !o->random) || !o->input || !o->output))
    return usage_error("%s", "run needs -w WEIGHTS (or --random-weights SEED), --input IN and -o OUT");
  if (!compile && !run && (o->output || o->random))
    return usage_error("%s takes no -o or --random-weights", o->command);
  if (o->json && strcmp(o->command, "info") != 0)
    return usage_error("--json is for info, not %s", o->command);
  bool info = strcmp(o->command, "info") == 0;
  if (!run && !info && o->input)
    return usage_error("%s takes no --input", o->command);
  if (info && o->input && !o->weights)
    return usage_error("%s", "info --input compares outputs: it needs -w WEIGHTS");
  if (!o->weights && (o->n_strip || o->allow_unused))
    return usage_error("%s applies to a weight file: it needs -w FILE",
                       o->n_strip ? "--strip-prefix" : "--allow-unused");
  return -1;
}

/* max |a - b| over two tensors of one shape; NaN wins. */
static double max_abs_diff(const Tensor *a, const Tensor *b) {
  double m = 0;
  for (int64_t k = 0; k < shape_elems(a->shape); k++) {
    double d = fabs((double)a->data[k] - b->data[k]);
    m = d > m || isnan(d) ? d : m;
  }
  return m;
}

static int pipeline(const Options *o, Arena *a) {
  Graph *g = spec_load(a, o->spec);
  if (!g)
    return 1;
  if (o->dump && strcmp(o->dump, "spec") == 0)
    dump_graph(stdout, g);
  if (!infer_shapes(a, g))
    return 1;
  resolve_weight_types(g, o->weight_type);
  if (o->dump && strcmp(o->dump, "shapes") == 0)
    dump_graph(stdout, g);
  if (o->weights) {
    TensorFile *f = safetensors_read(a, o->weights, true);
    WeightOptions wo = {o->strip, o->n_strip, o->allow_unused};
    if (!f || !bind_weights(a, g, f, &wo))
      return 1;
  } else if (o->random) {
    bind_random_weights(a, g, o->seed);
  }
  Deviation dev = {.clip = o->input};
  TensorFile *clip = NULL;
  Tensor f32[INTERP_OUTPUTS];
  if (strcmp(o->command, "info") == 0 && o->input) { /* the float32 model's outputs first */
    clip = safetensors_read(a, o->input, false);
    if (!clip || (dev.n = interp_outputs(a, g, clip, f32)) < 0)
      return 1;
  }
  dequantize_params(a, g);
  if (clip) { /* ... then the stored weights' */
    Tensor typed[INTERP_OUTPUTS];
    interp_outputs(a, g, clip, typed);
    for (int i = 0; i < dev.n; i++)
      dev.name[i] = f32[i].name, dev.max_abs[i] = max_abs_diff(&typed[i], &f32[i]);
  }
  if (strcmp(o->command, "check") == 0)
    return 0;
  if (strcmp(o->command, "run") == 0) {
    TensorFile *in = safetensors_read(a, o->input, false);
    return in && interp_run(a, g, in, o->output) ? 0 : 1;
  }
  fuse_layers(g);
  if (o->dump && strcmp(o->dump, "fuse") == 0)
    dump_graph(stdout, g);
  Program *p = lower(a, g, o->target);
  if (!p)
    return 1;
  if (o->dump && strcmp(o->dump, "lower") == 0)
    dump_program(stdout, p);
  if (!plan_memory(p, !o->no_reuse))
    return 1;
  if (o->dump && strcmp(o->dump, "plan") == 0)
    dump_program(stdout, p);
  if (strcmp(o->command, "info") == 0) {
    EmitOptions eo = {o->target, o->big_endian, o->float_literals, o->max_streams};
    print_info(stdout, a, g, p, &eo, clip ? &dev : NULL, o->json);
    return 0;
  }
  EmitOptions eo = {o->target, o->big_endian, o->float_literals, o->max_streams};
  return emit_c(a, p, &eo, o->output ? o->output : ".") ? 0 : 1;
}

/* The default target: AVX2 where the machine running reelc has it. */
static Target host_target(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return TARGET_AVX2;
#endif
  return TARGET_GENERIC;
}

int main(int argc, char **argv) {
  if (!ops_verify()) /* a descriptor the passes would trip over: never run with it */
    return 70;
  Options o = {.target = host_target(), .max_streams = DEFAULT_MAX_STREAMS};
  int status = parse_args(argc, argv, &o);
  if (status >= 0)
    return status;
  Arena a = {0};
  status = pipeline(&o, &a);
  arena_free(&a);
  if (status == 0 && diag_error_count() > 0)
    status = 1;
  return status;
}
