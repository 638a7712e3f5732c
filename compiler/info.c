/* reelc info: the layer table and the figures a firmware or server build plans with, for the
 * target asked: flash (the weights, exactly sizeof <model>_weights; the code, estimated from
 * the runtime files as this reelc's C compiler builds them) and RAM per stream (exactly
 * sizeof <model>_ctx, plus the stack bound).  As text, or with --json as one object. */
#include <string.h>

#include "ops.h"

/* sizeof(<model>_state): floats, then an unsigned long long, 8-byte aligned on LP64 and on
 * the Arm EABI. */
static int64_t state_struct_bytes(const Program *p) {
  int compensated = p->g->clip == CLIP_MEAN || p->g->clip == CLIP_WEIGHTED;
  int64_t clip = p->g->clip ? graph_out_size(p->g) * (compensated ? 2 : 1) : 0;
  return ((p->state_floats + clip) * 4 + 7) / 8 * 8 + 8;
}

/* sizeof(<model>_ctx): the state struct, then the arena. */
static int64_t context_bytes(const Program *p) {
  int64_t arena = (p->arena_floats ? p->arena_floats : 1) * 4;
  return (state_struct_bytes(p) + arena + 7) / 8 * 8;
}

/* sizeof(<model>_scratch): the shared transients' region, then each stream's carried ones. */
static int64_t scratch_bytes(const Program *p, int max_streams) {
  int64_t floats = p->local_floats + max_streams * (p->arena_floats - p->local_floats);
  return (floats ? floats : 1) * 4;
}

/* The code bytes of the runtime files the model needs, and of its own step code (about 48
 * bytes a call and 256 more, as gcc -O2 builds them). */
static int64_t code_estimate(Arena *a, const Program *p) {
  const char *files[MAX_RUNTIME_FILES];
  int n = runtime_files_needed(a, p, files);
  int64_t bytes = 256 + 48LL * p->nc;
  for (int i = 0; i < n; i++)
    for (const RuntimeSize *r = runtime_sizes; r->name; r++)
      if (strcmp(r->name, files[i]) == 0)
        bytes += r->text;
  return bytes;
}

static int64_t layer_state(const Program *p, int i) { /* state, windows, pools, weights */
  int64_t sb = 0;
  for (int v = 0; v < p->nv; v++)
    sb += p->v[v].kind == V_STATE && p->v[v].layer == i ? p->v[v].size * 4 : 0;
  return sb;
}

static int64_t layer_params(const Layer *l) {
  int64_t n = 0;
  for (int j = 0; j < l->n_param; j++)
    n += l->param[j].zero ? 0 : shape_elems(l->param[j].shape);
  return n;
}

typedef struct {
  int64_t params, macs, state, weights, weights_packed, context, arena, code;
  int64_t flash, ram; /* weights + code; the context + the stack bound */
  int many_stack, max_streams; /* step_many's stack bound, for batches of max_streams */
  int64_t state_struct, scratch, shared, carried; /* m_step_states: per stream, per thread */
} Figures;

static Figures figures(Arena *a, const Graph *g, const Program *p, const EmitOptions *opt) {
  Figures fg = {0};
  for (int i = 0; i < g->n_layer; i++) {
    fg.params += layer_params(&g->layer[i]);
    fg.macs += g->layer[i].macs;
  }
  for (int v = 0; v < p->nv; v++)
    fg.state += p->v[v].kind == V_STATE ? p->v[v].size * 4 : 0;
  fg.weights_packed = weight_bytes(p);
  fg.weights = opt->float_literals ? fg.weights_packed + (p->weight_floats ? 0 : 4) /* a struct */
                                    : weight_chunks(p) * WEIGHT_CHUNK; /* 1024-byte chunks */
  fg.context = context_bytes(p);
  fg.arena = p->arena_floats * 4;
  fg.code = code_estimate(a, p);
  fg.flash = fg.weights + fg.code;
  fg.ram = fg.context + STACK_BOUND;
  fg.max_streams = opt->max_streams;
  fg.many_stack = many_stack_bytes(a, p, opt->max_streams);
  fg.state_struct = state_struct_bytes(p);
  fg.scratch = scratch_bytes(p, opt->max_streams);
  fg.shared = p->local_floats * 4;
  fg.carried = (p->arena_floats - p->local_floats) * 4;
  return fg;
}

static const char *target_doc(Target t) {
  return t == TARGET_AVX2 ? "avx2 (AVX2 + FMA kernels; --target generic for portable C99, MCUs)"
                          : "generic (portable C99; --target avx2 for AVX2 + FMA kernels)";
}

/* The frame m_step takes: its shape as laid out, its type and what is done to it. */
static const char *input_doc(Arena *a, const Graph *g) {
  const InputFormat *in = &g->in_fmt;
  Shape s = in->hwc ? chw(g->input.dim[1], g->input.dim[2], g->input.dim[0]) : g->input;
  const char *d = arena_printf(a, "%s %s%s", shape_str(a, s), in->u8 ? "uint8" : "float32",
                               in->hwc ? " channel-last (HWC)"
                               : g->input.rank == 3 ? " channel-first (CHW)" : "");
  if (in->scale != 1.0 || in->mean || in->std)
    d = arena_printf(a, "%s, normalised per channel as (x * %.9g - mean) / std%s", d, in->scale,
                     in->folded ? " (folded into the first conv)" : "");
  return d;
}

static double kib(int64_t bytes) { return (double)bytes / 1024.0; }

static void print_text(FILE *f, Arena *a, const Graph *g, const Program *p, Target t,
                       const Figures *fg, const Deviation *dev) {
  fprintf(f, "model %s (%s)\ntarget: %s\ninput: %s\n\n", g->model, g->file, target_doc(t),
          input_doc(a, g));
  int wn = 16, wo = 8, ws = 12; /* column widths: the longest name, op and shape */
  for (int i = 0; i < g->n_layer; i++) {
    const Layer *l = &g->layer[i];
    int n = (int)strlen(l->name), o = (int)strlen(l->op->name);
    int si = (int)strlen(shape_str(a, l->in_shape)), so = (int)strlen(shape_str(a, l->out_shape));
    wn = n > wn ? n : wn, wo = o > wo ? o : wo;
    ws = si > ws ? si : ws, ws = so > ws ? so : ws;
  }
  fprintf(f, "%-3s %-*s %-*s %-*s %-*s %10s %12s %10s\n", "#", wn, "layer", wo, "op", ws, "input",
          ws, "output", "params", "MACs/step", "state B");
  for (int i = 0; i < g->n_layer; i++) {
    const Layer *l = &g->layer[i];
    fprintf(f, "%-3d %-*s %-*s %-*s %-*s %10lld %12lld %10lld\n", i, wn, l->name, wo, l->op->name,
            ws, shape_str(a, l->in_shape), ws, shape_str(a, l->out_shape),
            (long long)layer_params(l), (long long)l->macs, (long long)layer_state(p, i));
  }
  int64_t layers_state = 0;
  for (int i = 0; i < g->n_layer; i++)
    layers_state += layer_state(p, i);
  fprintf(f, "%-3s %-*s %-*s %-*s %-*s %10lld %12lld %10lld\n\n", "", wn, "total", wo, "", ws, "",
          ws, "", (long long)fg->params, (long long)fg->macs, (long long)layers_state);
  fprintf(f, "flash:   %.1f KiB (%lld bytes): weights %lld + code about %lld\n",
          kib(fg->flash), (long long)fg->flash, (long long)fg->weights,
          (long long)fg->code);
  fprintf(f, "RAM:     %.1f KiB (%lld bytes) per stream: the context %lld + at most %d of stack\n",
          kib(fg->ram), (long long)fg->ram,
          (long long)fg->context, STACK_BOUND);
  fprintf(f, "weights: %lld bytes (sizeof %s_weights: %lld parameters, %lld bytes packed with "
             "32-byte alignment%s)\n",
          (long long)fg->weights, g->model, (long long)fg->params, (long long)fg->weights_packed,
          fg->weights > fg->weights_packed ? ", in 1024-byte chunks" : "");
  for (int t = WT_BF16; t < WT_COUNT; t++) { /* compressed layers, by type */
    const char *names = NULL;
    for (int i = 0; i < g->n_layer; i++)
      if (g->layer[i].weight_type == t)
        names = names ? arena_printf(a, "%s, %s", names, g->layer[i].name) : g->layer[i].name;
    if (names)
      fprintf(f, "         %s (%lld bytes%s): the matrices and filters of %s\n", weight_type_name[t],
              (long long)(t == WT_I8 ? p->weight_int8s : 2 * p->weight_halves),
              t == WT_I8 ? ", and a float scale per row" : "", names);
  }
  fprintf(f, "code:    about %lld bytes: the runtime files it needs as %s builds them with -O2, and "
             "its step code\n", (long long)fg->code, runtime_sizes_cc);
  fprintf(f, "context: %lld bytes (sizeof %s_ctx, LP64 and 32-bit Arm alike: state %lld, arena "
             "%lld)\n",
          (long long)fg->context, g->model, (long long)fg->state, (long long)fg->arena);
  fprintf(f, "stack:   at most %d bytes below the caller in any entry point but step_many and "
             "step_states (gcc -O2, x86-64; calls into the C library aside): the frames are static, "
             "the calls at most 3 deep; those two %d (their pointer arrays for %d streams a "
             "batch)\n",
          STACK_BOUND, fg->many_stack, fg->max_streams);
  fprintf(f, "arena:   %lld bytes planned; %lld bytes if every transient had its own; "
             "lower bound %lld bytes\n",
          (long long)fg->arena, (long long)p->transient_sum * 4, (long long)p->lower_bound * 4);
  fprintf(f, "streams: with step_states, %lld bytes per stream (sizeof %s_state) and %lld per thread "
             "(sizeof %s_scratch: %lld shared by a batch + %d x %lld carried per stream); with "
             "step_many, a context per stream\n",
          (long long)fg->state_struct, g->model, (long long)fg->scratch, g->model,
          (long long)fg->shared, fg->max_streams, (long long)fg->carried);
  if (dev) { /* the reference interpreter, with the weights as given and as stored */
    fprintf(f, "deviation: the stored weights move the outputs on %s by at most", dev->clip);
    for (int i = 0; i < dev->n; i++)
      fprintf(f, "%s %s %.3g", i ? "," : "", dev->name[i], dev->max_abs[i]);
    fprintf(f, " (max |output - float32 weights' output|)\n");
  }
}

/* A JSON string: the names and texts here hold no control characters. */
static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      fputc('\\', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static void print_json(FILE *f, Arena *a, const Graph *g, const Program *p, Target t,
                       const Figures *fg, const Deviation *dev) {
  fprintf(f, "{\"model\": ");
  json_str(f, g->model);
  fprintf(f, ", \"spec\": ");
  json_str(f, g->file);
  fprintf(f, ", \"target\": \"%s\", \"input\": ", t == TARGET_AVX2 ? "avx2" : "generic");
  json_str(f, input_doc(a, g));
  fprintf(f, ",\n \"layers\": [");
  for (int i = 0; i < g->n_layer; i++) {
    const Layer *l = &g->layer[i];
    fprintf(f, "%s\n  {\"name\": ", i ? "," : "");
    json_str(f, l->name);
    fprintf(f, ", \"op\": \"%s\", \"input\": \"%s\", \"output\": \"%s\", \"params\": %lld, "
               "\"macs\": %lld, \"state_bytes\": %lld, \"weight_type\": \"%s\"}",
            l->op->name, shape_str(a, l->in_shape), shape_str(a, l->out_shape),
            (long long)layer_params(l), (long long)l->macs, (long long)layer_state(p, i),
            weight_type_name[l->weight_type]);
  }
  fprintf(f, "],\n \"params\": %lld, \"macs\": %lld, \"flash_bytes\": %lld, \"ram_bytes\": %lld,\n"
             " \"weights_bytes\": %lld, \"weights_packed_bytes\": %lld, \"weights_bf16_bytes\": %lld, "
             "\"weights_int8_bytes\": %lld, \"code_bytes_estimate\": %lld, \"code_compiler\": ",
          (long long)fg->params, (long long)fg->macs, (long long)fg->flash, (long long)fg->ram,
          (long long)fg->weights, (long long)fg->weights_packed, (long long)p->weight_halves * 2,
          (long long)p->weight_int8s, (long long)fg->code);
  json_str(f, runtime_sizes_cc);
  fprintf(f, ",\n \"context_bytes\": %lld, \"state_bytes\": %lld, \"arena_bytes\": %lld, "
             "\"stack_bytes_max\": %d, \"arena_no_reuse_bytes\": %lld, \"arena_lower_bound_bytes\": "
             "%lld,\n \"max_streams\": %d, \"step_many_stack_bytes_max\": %d, "
             "\"state_struct_bytes\": %lld, \"scratch_bytes\": %lld, \"scratch_shared_bytes\": %lld, "
             "\"carried_bytes_per_stream\": %lld",
          (long long)fg->context, (long long)fg->state, (long long)fg->arena, STACK_BOUND,
          (long long)p->transient_sum * 4, (long long)p->lower_bound * 4, fg->max_streams,
          fg->many_stack, (long long)fg->state_struct, (long long)fg->scratch,
          (long long)fg->shared, (long long)fg->carried);
  fprintf(f, ",\n \"convs\": [");
  int n = 0;
  for (int c = 0; c < p->step_end; c++) /* the per-frame chain's convolutions, call by call */
    if (p->call[c].op == K_CONV2D || p->call[c].op == K_CONV2D_WINOGRAD ||
        p->call[c].op == K_CONV2D_IGEMM || p->call[c].op == K_CONV2D_GROUPED) {
      KernelOp op = p->call[c].op;
      const Geom *cg = &p->call[c].geom;
      const Window *w = &cg->win;
      fprintf(f, "%s\n  {\"layer\": ", n++ ? "," : "");
      json_str(f, g->layer[p->call[c].layer].name);
      fprintf(f, ", \"in\": [%d, %d, %d], \"out\": [%d, %d, %d], \"kernel\": [%d, %d], "
                 "\"stride\": [%d, %d], \"dilation\": [%d, %d], \"padding\": [%d, %d, %d, %d], "
                 "\"groups\": %d, \"algorithm\": \"%s\"}",
              cg->in_c0 + cg->in_c1, cg->in_h, cg->in_w, cg->out_c, cg->out_h, cg->out_w, w->kh,
              w->kw, w->sh, w->sw, w->dh, w->dw, w->pad_top, w->pad_bottom, w->pad_left,
              w->pad_right, cg->groups ? cg->groups : 1,
              op == K_CONV2D_WINOGRAD ? "winograd"
              : op == K_CONV2D_IGEMM  ? "igemm"
              : op == K_CONV2D_GROUPED ? "grouped"
              : p->call[c].avx2       ? "direct"
                                      : "generic");
    }
  fprintf(f, "]");
  if (dev) {
    fprintf(f, ",\n \"deviation\": {");
    for (int i = 0; i < dev->n; i++)
      fprintf(f, "%s\"%s\": %.9g", i ? ", " : "", dev->name[i], dev->max_abs[i]);
    fprintf(f, "}");
  }
  fprintf(f, "}\n");
}

void print_info(FILE *f, Arena *a, const Graph *g, const Program *p, const EmitOptions *opt,
                const Deviation *dev, bool json) {
  Figures fg = figures(a, g, p, opt);
  (json ? print_json : print_text)(f, a, g, p, opt->target, &fg, dev);
}
