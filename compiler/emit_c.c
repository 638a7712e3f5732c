/* The C99 backend: a Program into <model>.h and <model>.c (the data goes
 * to <model>_weights.c, emit_weights.c) plus copies of the runtime files
 * the model calls, so the output folder builds on its own.  The code is
 * meant to read as if written by hand: transient buffers have names,
 * sizes are the model's macros, every call says which spec line it
 * implements, comments say only what is true of this model, and no line
 * passes column 100.  Output depends only on the inputs: no dates, no
 * paths but the spec's. */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "ops.h"

enum { COLUMNS = 100 }; /* the widest line the generated files have */

typedef struct {
  Arena *a;
  const Program *p;
  const Graph *g;
  Target target;
  const char *up;     /* model name upper-cased: macro prefix */
  const char **desc;  /* per call: the name of its static geometry, or NULL */
  const char *parity; /* C expression that alternates 0/1 from step to step where
                         the calls being emitted run: dense cells reverse their
                         block order on odd steps to reuse what L2 still holds */
  bool float_literals; /* the weights as float literals (a struct, not a union of bytes) */
  const char *st;      /* where the calls being emitted find the stream's state, as a prefix of
                          a member's name: "ctx->state.", "st->", or a stream's "st[i]->" */
  const char *arena;   /* the C expression of their arena: ctx->arena, arena, or in a batch of
                          streams the shared region's arena[0] */
  const char *carried; /* in a batch, a stream's own arena for its carried transients (plan.c):
                          arena[i]; else NULL (they are in `arena`) */
  const char *in;      /* the frame: in, or in[i] */
  int max_streams;     /* M_MAX_STREAMS */
} Emitter;

/* The context's frame counter, where the calls being emitted run. */
static const char *frames(Emitter *e) { return arena_printf(e->a, "%sframes", e->st); }

static const char *isa(const Call *c) { return c->avx2 ? "avx2" : "generic"; }

/* A kernel's name for the weights it reads (kernels.h, K_TYPED), by WeightType. */
static const char *const wtype_suffix[WT_COUNT] = {"", "_bf16", "_i8"};

static char *upper(Arena *a, const char *s) {
  char *u = arena_strdup(a, s);
  for (char *c = u; *c; c++)
    *c = (char)toupper((unsigned char)*c);
  return u;
}

/* A float literal C99 reads back exactly. */
static const char *float_lit(Arena *a, float f) {
  char *s = arena_printf(a, "%.9g", (double)f);
  return strpbrk(s, ".en") ? arena_printf(a, "%sf", s) : arena_printf(a, "%s.0f", s);
}

static void wrap(Buf *b, const char *indent, const char *text, const char *cont) {
  buf_wrap(b, indent, text, cont, COLUMNS);
}

/* A statement at indent, continued 4 columns further in if need be. */
__attribute__((format(printf, 4, 5))) static void stmt(Emitter *e, Buf *b, const char *indent,
                                                       const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  Buf text = {0};
  char small[512];
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n >= (int)sizeof small) { /* long: format again into a buffer of its size */
    va_start(ap, fmt);
    char *big = arena_alloc(e->a, (size_t)n + 1);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf_printf(&text, "%s", big);
  } else {
    buf_printf(&text, "%s", small);
  }
  wrap(b, indent, text.s, arena_printf(e->a, "%s    ", indent));
  buf_free(&text);
}

/* A declaration, its parameters on continuation lines if need be. */
static void decl(Emitter *e, Buf *b, const char *text) {
  (void)e;
  wrap(b, "", text, "    ");
}

/* A comment on its own lines at indent. */
static void comment(Emitter *e, Buf *b, const char *indent, const char *text) {
  wrap(b, indent, arena_printf(e->a, "/* %s */", text), arena_printf(e->a, "%s * ", indent));
}

/* A line of code with a comment after it, or above it when both do not fit. */
static void commented(Emitter *e, Buf *b, const char *indent, const char *code, const char *text) {
  const char *line = arena_printf(e->a, "%s%s /* %s */", indent, code, text);
  if (strlen(line) <= COLUMNS) {
    buf_printf(b, "%s\n", line);
    return;
  }
  comment(e, b, indent, text);
  buf_printf(b, "%s%s\n", indent, code);
}

/* The spec place a comment names: the file's name (the header names its
 * path), line and column. */
static const char *spec_at(Emitter *e, Loc at) {
  const char *base = strrchr(at.file, '/');
  return arena_printf(e->a, "%s:%d:%d", base ? base + 1 : at.file, at.line, at.col);
}

/* The C expression for a value, plus an offset in floats: a transient is
 * its named buffer in the arena, state is in the context, weights are
 * their W_ macros. */
static const char *ref_at(Emitter *e, int v, int64_t offset) {
  if (v < 0)
    return "NULL";
  const Value *val = &e->p->v[v];
  const char *base;
  switch (val->kind) {
  case V_INPUT:
    base = e->in;
    break;
  case V_TRANSIENT:
    base = val->name;
    break;
  case V_STATE:
    base = arena_printf(e->a, "%s%s", e->st, val->name);
    break;
  default:
    base = arena_printf(e->a, "W_%s", upper(e->a, val->name));
    break;
  }
  return offset ? arena_printf(e->a, "%s + %lld", base, (long long)offset) : base;
}

static const char *ref(Emitter *e, int v) { return ref_at(e, v, 0); }


/* The element type of the frame m_step takes. */
static const char *in_type(const Graph *g) { return g->in_fmt.u8 ? "uint8_t" : "float"; }

/* What a frame is, for the header: its elements, layout and normalisation. */
static const char *input_doc(Emitter *e) {
  const Graph *g = e->g;
  const InputFormat *f = &g->in_fmt;
  const char *s = f->u8 ? "bytes" : "floats";
  const int *d = g->input.dim;
  if (g->input.rank == 3 && f->hwc)
    s = arena_printf(e->a, "%s, [%d, %d, %d] channel-last (HWC)", s, d[1], d[2], d[0]);
  else if (g->input.rank == 3)
    s = arena_printf(e->a, "%s, [%d, %d, %d] channel-first (CHW, PyTorch's order)", s, d[0], d[1],
                     d[2]);
  const char *scale = f->u8 && f->scale == 1.0 / 255.0 ? "/ 255"
                                                       : arena_printf(e->a, "* %.9g", f->scale);
  if (f->scale != 1.0 || f->mean || f->std)
    s = arena_printf(e->a, "%s, which the model normalises per channel as (x %s - mean) / std%s", s,
                     scale, f->folded ? " (folded into its first conv)" : "");
  return s;
}

/* What m_reset zeroes, as a phrase: the kinds of state this model keeps. */
static const char *state_kinds(Emitter *e) {
  const Program *p = e->p;
  static const char *const kinds[][2] = {{"hidden state", "the recurrent state"},
                                         {"window of past frames", "the windows of past frames"},
                                         {"clip pool", "the clip pools"},
                                         {"attention weights", "the attention weights"},
                                         {"the last frame", "the last frame"}};
  const char *list[8];
  int n = 0;
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
    for (int i = 0; i < p->nv; i++)
      if (p->v[i].kind == V_STATE && p->v[i].role && strcmp(p->v[i].role, kinds[k][0]) == 0) {
        list[n++] = kinds[k][1];
        break;
      }
  if (e->g->clip)
    list[n++] = "the clip aggregate";
  list[n++] = "the frame count";
  const char *text = list[0];
  for (int i = 1; i < n; i++)
    text = arena_printf(e->a, "%s%s%s", text, i + 1 < n ? ", " : " and ", list[i]);
  return text;
}

/* The header's API for streams kept as states alone, with one scratch per thread. */
static void emit_states_api(Emitter *e, Buf *b, const char *const each[2], bool attention) {
  const Program *p = e->p;
  const char *m = e->g->model, *M = e->up;
  int64_t carry = p->arena_floats - p->local_floats;
  buf_printf(b, "\n");
  comment(e, b, "", arena_printf(e->a, "Many streams, each kept as its state alone: a server holds "
                                 "one %s_state per stream and one %s_scratch per thread that steps "
                                 "them, where %s_ctx would hold an arena per stream.  The scratch has "
                                 "the transients the streams of a batch use in turn (%lld floats) and, "
                                 "for each of %s_MAX_STREAMS streams, those a stream carries from one "
                                 "layer to the next (%lld floats).  What it holds between calls does "
                                 "not matter.", m, m, m, (long long)p->local_floats, M,
                                 (long long)carry));
  buf_printf(b, "typedef struct %s_scratch {\n", m);
  if (carry)
    stmt(e, b, "  ", "float arena[%lld + %s_MAX_STREAMS * %lld];", (long long)p->local_floats, M,
         (long long)carry);
  else
    buf_printf(b, "  float arena[%lld];\n", (long long)(p->local_floats ? p->local_floats : 1));
  buf_printf(b, "} %s_scratch;\n\n", m);
  comment(e, b, "", arena_printf(e->a, "Forget the stream: as %s_reset, on its state.", m));
  decl(e, b, arena_printf(e->a, "void %s_reset_state(%s_state *st);", m, m));
  buf_printf(b, "\n");
  comment(e, b, "", arena_printf(e->a, "As %s_step_many, on states: stream i's state is st[i]; the "
                                 "same outputs.", m));
  decl(e, b, arena_printf(e->a, "void %s_step_states(%s_scratch *scratch, %s_state *const st[], int n, "
                          "const %s *const in[], float *const out[]);", m, m, m, in_type(e->g)));
  for (int k = 0; k < 2; k++)
    if (each[k]) {
      buf_printf(b, "\n");
      comment(e, b, "", arena_printf(e->a, "As %s_%s_many, on states.", m, each[k]));
      decl(e, b, arena_printf(e->a, "void %s_%s_states(%s_scratch *scratch, %s_state *const st[], "
                              "int n, float *const out[]);", m, each[k], m, m));
    }
  if (attention) {
    buf_printf(b, "\n");
    comment(e, b, "", arena_printf(e->a, "As %s_attention, of a stream's state.", m));
    decl(e, b, arena_printf(e->a, "void %s_attention_state(const %s_state *st, float *out);", m, m));
  }
}

static void emit_header(Emitter *e, Buf *b) {
  const Graph *g = e->g;
  const Program *p = e->p;
  const char *m = g->model, *M = e->up;
  const Layer *fc = forecast_output(g);
  int out = graph_out_size(g);
  bool clip = g->clip || g->clip_head;
  int64_t attention = 0;
  for (int i = 0; i < p->nv; i++)
    attention += p->v[i].attention ? p->v[i].size : 0;
  const char *what = arena_printf(e->a, "one frame of %lld floats in", (long long)shape_elems(g->input));
  if (g->per_frame)
    what = arena_printf(e->a, "%s, %d out per frame", what, out);
  if (g->clip)
    what = arena_printf(e->a, "%s, their %s over the clip", what, clip_name[g->clip]);
  if (g->clip_head)
    what = arena_printf(e->a, "%s, %d out per clip", what, out);
  if (fc)
    what = arena_printf(e->a, "%s, forecasts of %d frames of %lld floats", what, g->forecast_steps,
                        (long long)shape_elems(fc->out_shape));
  comment(e, b, "", arena_printf(e->a, "Generated by reelc from %s; do not edit.  Model %s: %s.",
                                 g->file, m, what));
  buf_printf(b, "#ifndef %s_H\n#define %s_H\n\n", M, M);
  if (g->in_fmt.u8 || p->weight_halves || p->weight_int8s)
    buf_printf(b, "#include <stdint.h>\n\n");
  buf_printf(b, "#ifdef __cplusplus\nextern \"C\" { /* the model is C: C++ code links it as C */\n"
                "#endif\n\n");
  buf_printf(b, "#define %s_IN_SIZE %lld\n", M, (long long)shape_elems(g->input));
  commented(e, b, "", arena_printf(e->a, "#define %s_IN_TYPE %s", M, in_type(g)),
            "the element type of a frame");
  if (g->per_frame || clip)
    buf_printf(b, "#define %s_OUT_SIZE %d\n", M, out);
  else
    commented(e, b, "", arena_printf(e->a, "#define %s_OUT_SIZE %d", M, out),
              "the last per-frame layer's size: step() writes no output");
  if (clip)
    buf_printf(b, "#define %s_CLIP_SIZE %d\n", M, out);
  if (attention)
    commented(e, b, "", arena_printf(e->a, "#define %s_ATTENTION_SIZE %lld", M, (long long)attention),
              "attention weights, all layers");
  if (fc) {
    buf_printf(b, "#define %s_FORECAST_STEPS %d\n", M, g->forecast_steps);
    commented(e, b, "", arena_printf(e->a, "#define %s_FORECAST_SIZE %lld", M,
                                     (long long)shape_elems(fc->out_shape)),
              "floats per forecast frame");
  }
  commented(e, b, "", arena_printf(e->a, "#define %s_WEIGHTS_BYTES %lld", M, (long long)weight_bytes(p)),
            "bytes of packed weights (flash)");
  commented(e, b, "", arena_printf(e->a, "#define %s_MAX_STREAMS %d", M, e->max_streams),
            "streams per batch of step_many (reelc --max-streams)");
  commented(e, b, "", arena_printf(e->a, "#define %s_MANY_STACK_BYTES %d", M,
                                   many_stack_bytes(e->a, p, e->max_streams)),
            "the stack step_many needs at most");
  buf_printf(b, "\n");
  comment(e, b, "", arena_printf(e->a, "A stream's state: what it remembers from frame to frame, "
                                 "zeroed by %s_reset.", m));
  buf_printf(b, "typedef struct %s_state {\n", m);
  for (int i = 0; i < p->nv; i++) {
    const Value *v = &p->v[i];
    if (v->kind != V_STATE)
      continue;
    const char *code = arena_printf(e->a, "float %s[%lld];", v->name, (long long)v->size);
    if (v->layer < 0) {
      commented(e, b, "  ", code, "the last frame: a forecast feeds back from it");
      continue;
    }
    const Layer *l = &g->layer[v->layer];
    commented(e, b, "  ", code, arena_printf(e->a, "%s '%s' (%s): %s", l->op->name, l->name,
                                              spec_at(e, l->loc), v->role));
  }
  if (g->clip)
    commented(e, b, "  ", arena_printf(e->a, "float clip_acc[%s_CLIP_SIZE];", M),
              arena_printf(e->a, "the clip's %s so far", clip_name[g->clip]));
  if (g->clip == CLIP_MEAN || g->clip == CLIP_WEIGHTED)
    commented(e, b, "  ", arena_printf(e->a, "float clip_comp[%s_CLIP_SIZE];", M),
              "what the clip's sum has rounded off (a compensated sum)");
  buf_printf(b, "  unsigned long long frames; /* frames seen since reset: 64 bits never wrap */\n");
  buf_printf(b, "} %s_state;\n\n", m);
  comment(e, b, "", "Everything one stream needs between calls: sizeof is all the RAM the model "
                    "uses.  Caller-owned (static, stack or heap); one per stream.");
  buf_printf(b, "typedef struct %s_ctx {\n", m);
  stmt(e, b, "  ", "%s_state state;", m);
  if (p->arena_floats)
    commented(e, b, "  ", arena_printf(e->a, "float arena[%lld];", (long long)p->arena_floats),
              "transient buffers, at offsets planned at compile time");
  else
    buf_printf(b, "  float arena[1]; /* unused: the model has no transient buffers */\n");
  buf_printf(b, "} %s_ctx;\n\n", m);
  comment(e, b, "", arena_printf(e->a, "Forget the stream: zero %s.", state_kinds(e)));
  decl(e, b, arena_printf(e->a, "void %s_reset(%s_ctx *ctx);", m, m));
  buf_printf(b, "\n");
  comment(e, b, "", arena_printf(e->a, "One frame: in has %s_IN_SIZE %s%s.", M, input_doc(e),
                                 g->per_frame ? arena_printf(e->a, ", out gets %s_OUT_SIZE", M)
                                              : "; out is not written (per_frame: false) and may be NULL"));
  decl(e, b, arena_printf(e->a, "void %s_step(%s_ctx *ctx, const %s *in, float *out);", m, m,
                          in_type(g)));
  buf_printf(b, "\n");
  comment(e, b, "", arena_printf(e->a, "Many streams, one frame each: as %s_step(ctx[i], in[i], out[i]) "
                                 "for i < n, the contexts distinct and anywhere in memory; out, or any "
                                 "out[i], may be NULL (no output for it).  In batches of %s_MAX_STREAMS, "
                                 "each of which reads the weights of its dense LSTM, GRU and linear "
                                 "layers once for all its streams; the outputs are m_step's up to the "
                                 "order a float sum is rounded in (docs/spec.md).", m, M));
  decl(e, b, arena_printf(e->a, "void %s_step_many(%s_ctx *const ctx[], int n, const %s *const in[], "
                          "float *const out[]);", m, m, in_type(g)));
  if (g->clip) {
    buf_printf(b, "\n");
    comment(e, b, "", arena_printf(e->a, "The %s over the clip of the per-frame outputs since reset: "
                                   "%s_CLIP_SIZE floats (zeros before the first frame).",
                                   clip_name[g->clip], M));
    decl(e, b, arena_printf(e->a, "void %s_clip(%s_ctx *ctx, float *out);", m, m));
  }
  if (g->clip_head) {
    buf_printf(b, "\n");
    comment(e, b, "", arena_printf(e->a, "The model's output for the frames since reset: %s_CLIP_SIZE "
                                   "floats (zeros before the first frame).  Any time; the stream's "
                                   "state is kept.", M));
    decl(e, b, arena_printf(e->a, "void %s_clip(%s_ctx *ctx, float *out);", m, m));
  }
  if (attention) {
    const char *list = "";
    for (int i = 0; i < p->nv; i++)
      if (p->v[i].attention)
        list = arena_printf(e->a, "%s%s %lld for '%s' (%s)", list, *list ? ";" : "",
                            (long long)p->v[i].size, g->layer[p->v[i].layer].name, p->v[i].about);
    buf_printf(b, "\n");
    comment(e, b, "", arena_printf(e->a, "Where the model looked in the last frame: the weights of "
                                   "each attention layer of the per-frame chain, in spec order:%s; "
                                   "%s_ATTENTION_SIZE floats in all.", list, M));
    decl(e, b, arena_printf(e->a, "void %s_attention(const %s_ctx *ctx, float *out);", m, m));
  }
  if (fc) {
    buf_printf(b, "\n");
    comment(e, b, "", arena_printf(e->a, "Predict %s_FORECAST_STEPS frames from the frames seen so "
                                   "far: out gets %s_FORECAST_STEPS x %s_FORECAST_SIZE floats.  The "
                                   "observed state is kept, so stepping on and forecasting again "
                                   "works.", M, M, M));
    decl(e, b, arena_printf(e->a, "void %s_forecast(%s_ctx *ctx, float *out);", m, m));
  }
  const char *each[2] = {clip ? "clip" : NULL, fc ? "forecast" : NULL};
  for (int k = 0; k < 2; k++)
    if (each[k]) {
      buf_printf(b, "\n");
      comment(e, b, "", arena_printf(e->a, "%s_%s for each of n streams: out[i] gets stream i's.", m,
                                     each[k]));
      decl(e, b, arena_printf(e->a, "void %s_%s_many(%s_ctx *const ctx[], int n, float *const out[]);", m,
                              each[k], m));
    }
  emit_states_api(e, b, each, attention > 0);
  buf_printf(b, "\n");
  comment(e, b, "", arena_printf(e->a, "The packed weights (%s_weights.c): read-only, can live in "
                                 "flash.", m));
  int64_t bytes = weight_chunks(p) * WEIGHT_CHUNK;
  if (e->float_literals) { /* a literal per weight: no union, no string */
    buf_printf(b, "typedef struct {\n  float f[%lld];\n", (long long)(p->weight_floats ? p->weight_floats : 1));
    if (p->weight_halves)
      buf_printf(b, "  uint16_t h[%lld]; /* bfloat16: a float's upper half */\n", (long long)p->weight_halves);
    if (p->weight_int8s)
      buf_printf(b, "  int8_t q[%lld]; /* int8, times a float scale per row */\n", (long long)p->weight_int8s);
    buf_printf(b, "} %s_weights_t;\n", m);
  } else {
    buf_printf(b, "typedef union {\n  unsigned char bytes[%lld][%d];\n  float f[%lld];\n",
               (long long)weight_chunks(p), WEIGHT_CHUNK, (long long)bytes / 4);
    if (p->weight_halves)
      buf_printf(b, "  uint16_t h[%lld]; /* bfloat16: a float's upper half */\n", (long long)bytes / 2);
    if (p->weight_int8s)
      buf_printf(b, "  int8_t q[%lld]; /* int8, times a float scale per row */\n", (long long)bytes);
    buf_printf(b, "} %s_weights_t;\n", m);
  }
  decl(e, b, arena_printf(e->a, "extern const %s_weights_t %s_weights;", m, m));
  buf_printf(b, "\n#ifdef __cplusplus\n}\n#endif\n\n#endif\n");
}

/* The runtime's names of the activation codes. */
static const char *const act_name[REEL_ACT_COUNT] = {
#define X(name) "REEL_ACT_" #name,
    REEL_ACTIVATIONS(X)
#undef X
};

/* The static geometry a conv or pool call passes, named after its output. */
static void emit_desc(Emitter *e, Buf *b, int c) {
  const Call *call = &e->p->call[c];
  const Geom *g = &call->geom;
  const Window *w = &g->win;
  const char *name = arena_printf(e->a, "%s_geom", e->p->v[call->arg[0]].name);
  for (int k = 0, n = 2; k < c; k++)
    if (e->desc[k] && strcmp(e->desc[k], name) == 0)
      name = arena_printf(e->a, "%s_geom%d", e->p->v[call->arg[0]].name, n++), k = -1;
  e->desc[c] = name;
  if (strstr(kernel_info[call->op].signature, "&conv")) {
    buf_printf(b, "static const reel_conv2d_desc %s = {\n", name);
    wrap(b, "    ", arena_printf(e->a, ".in_c0 = %d, .in_c1 = %d, .in_h = %d, .in_w = %d, .out_c = %d, "
                                ".out_h = %d, .out_w = %d, .k_h = %d, .k_w = %d, .stride_h = %d, "
                                ".stride_w = %d, .pad_top = %d, .pad_left = %d, .dil_h = %d, "
                                ".dil_w = %d, .groups = %d, .act = %s, .alpha = %s, .accumulate = %d};",
                                g->in_c0, g->in_c1, g->in_h, g->in_w, g->out_c, g->out_h, g->out_w,
                                w->kh, w->kw, w->sh, w->sw, w->pad_top, w->pad_left, w->dh, w->dw,
                                g->groups ? g->groups : 1, act_name[g->act],
                                float_lit(e->a, g->alpha), g->accumulate), "    ");
  } else {
    buf_printf(b, "static const reel_pool2d_desc %s = {\n", name);
    wrap(b, "    ", arena_printf(e->a, ".c = %d, .in_h = %d, .in_w = %d, .out_h = %d, .out_w = %d, "
                                ".k_h = %d, .k_w = %d, .stride_h = %d, .stride_w = %d, .pad_top = %d, "
                                ".pad_left = %d, .count_include_pad = %d};",
                                g->in_c0, g->in_h, g->in_w, g->out_h, g->out_w, w->kh, w->kw, w->sh,
                                w->sw, w->pad_top, w->pad_left, w->count_include_pad), "    ");
  }
}

/* An attention layer's keys and values, one descriptor per layer. */
static void emit_attention_desc(Emitter *e, Buf *b, int c) {
  const Call *call = &e->p->call[c];
  const AttnGeom *g = &call->attn;
  const char *name = arena_printf(e->a, "%s_keys", e->g->layer[call->layer].cname);
  for (int k = 0; k < c; k++)
    if (e->desc[k] && strcmp(e->desc[k], name) == 0) {
      e->desc[c] = e->desc[k];
      return;
    }
  e->desc[c] = name;
  buf_printf(b, "static const reel_attention_desc %s = {\n", name);
  wrap(b, "    ", arena_printf(e->a, ".n = %d, .key_dim = %d, .value_dim = %d, .key_step = %d, "
                              ".key_stride = %d, .value_step = %d, .value_stride = %d, .window = %d, "
                              ".scale = %s};", g->n, g->key_dim, g->value_dim, g->key_step,
                              g->key_stride, g->value_step, g->value_stride, g->window,
                              float_lit(e->a, g->scale)), "    ");
}

/* How many values a clip pool has folded in: one per frame, or one per
 * closed window of temporal layer `gate`. */
static const char *values_seen(Emitter *e, int gate) {
  if (gate < 0)
    return frames(e);
  const Layer *t = &e->g->layer[gate];
  return arena_printf(e->a, "(%s >= %dULL ? (%s - %dULL) / %dULL + 1ULL : 0ULL)", frames(e),
                      t->frames, frames(e), t->frames, t->tstride);
}

static const char *const tpool_mode[REEL_TPOOL_COUNT] = {
#define X(name) "REEL_TPOOL_" #name,
    REEL_TPOOL_MODES(X)
#undef X
};

/* Whether value v is one stream's (not a weight) in a batched call. */
static bool per_stream(const Emitter *e, int v) { return v >= 0 && e->p->v[v].kind != V_WEIGHT; }

/* The array of the streams' pointers m_step_many passes for signature token tok. */
static const char *stream_array(Emitter *e, const char *tok) {
  return arena_printf(e->a, "%.*ss", (int)strcspn(tok, "]"), tok + (tok[0] == '['));
}

/* One C argument of call c for signature token tok; *value and *dim count
 * the call's values and dimensions taken so far; `many`: of the call's
 * batched form.  NULL: leave it out. */
static const char *argument(Emitter *e, int ci, const char *tok, int *value, int *dim, bool many) {
  const Call *c = &e->p->call[ci];
  switch (signature_kind(tok)) {
  case SIG_VALUE: {
    int v = c->arg[(*value)++];
    if (many && per_stream(e, v))
      return stream_array(e, tok);
    if (v >= 0 && e->p->v[v].scale >= 0) /* int8 weights, then their scales */
      return arena_printf(e->a, "%s, %s", ref(e, v), ref(e, e->p->v[v].scale));
    return tok[0] == '[' && v < 0 ? NULL : ref(e, v);
  }
  case SIG_DIM: {
    int d = c->dim[(*dim)++];
    return strcmp(tok, "mode") == 0 ? tpool_mode[d] : arena_printf(e->a, "%d", d);
  }
  default:
    break;
  }
  if (tok[0] == '&')
    return arena_printf(e->a, "&%s", e->desc[ci]);
  if (strcmp(tok, "act") == 0)
    return act_name[c->act];
  if (strcmp(tok, "alpha") == 0)
    return float_lit(e->a, c->alpha);
  if (strcmp(tok, "eps") == 0)
    return float_lit(e->a, c->eps);
  if (strcmp(tok, "frames") == 0)
    return frames(e);
  if (strcmp(tok, "seen") == 0)
    return values_seen(e, c->gate);
  return e->parity; /* parity */
}

/* The bytes a copy of n floats into y from x moves, as a person would
 * write it: the size of a whole state array, the frame size, or a count. */
static const char *copy_bytes(Emitter *e, int y, int x, int n) {
  const Value *vy = &e->p->v[y], *vx = &e->p->v[x];
  if (vx->kind == V_STATE && vx->size == n)
    return arena_printf(e->a, "sizeof %s%s", e->st, vx->name);
  if (vy->kind == V_STATE && vy->size == n)
    return arena_printf(e->a, "sizeof %s%s", e->st, vy->name);
  if (n == shape_elems(e->g->input))
    return arena_printf(e->a, "sizeof(float) * %s_IN_SIZE", e->up);
  return arena_printf(e->a, "sizeof(float) * %d", n);
}

/* Call ci from its kernel's row: the comment naming the spec layer it
 * implements, then SYMBOL_<isa>(args), or with `many` its batched form
 * SYMBOL_many_<isa>(n, args) over the streams' pointer arrays. */
static void emit_kernel_call(Emitter *e, Buf *b, int ci, const char *indent, bool many) {
  const Call *c = &e->p->call[ci];
  const KernelInfo *k = &kernel_info[c->op];
  const Layer *l = &e->g->layer[c->layer < 0 ? 0 : c->layer];
  if (c->layer < 0 && c->op == K_COPY)
    comment(e, b, indent, arena_printf(e->a, "%s: %s", spec_at(e, e->g->loc_forecast), c->note));
  else if (c->layer < 0) /* the conversion of the frame m_step takes */
    comment(e, b, indent, arena_printf(e->a, "%s: input 'frame': %s", spec_at(e, e->g->loc_input),
                                       c->note));
  else if (c->sublayer >= 0)
    comment(e, b, indent, arena_printf(e->a, "%s: %s '%s' layer %d of %d: %s", spec_at(e, l->loc),
                                       l->op->name, l->name, c->sublayer, l->stack,
                                       c->note ? c->note : k->name));
  else
    comment(e, b, indent, arena_printf(e->a, "%s: %s '%s'%s%s", spec_at(e, l->loc), l->op->name,
                                       l->name, c->note ? ": " : "", c->note ? c->note : ""));
  const char *args = many ? "n" : "";
  int value = 0, dim = 0;
  char tok[32];
  for (const char *s = k->signature; signature_next(&s, tok, sizeof tok);) {
    const char *arg = argument(e, ci, tok, &value, &dim, many);
    if (arg)
      args = *args ? arena_printf(e->a, "%s, %s", args, arg) : arg;
  }
  const char *cont = arena_printf(e->a, "%s    ", indent);
  if (!k->symbol) /* copy */
    wrap(b, indent, arena_printf(e->a, "memcpy(%s, %s, %s);", ref_at(e, c->arg[0], c->dim[1]),
                                 ref(e, c->arg[1]), copy_bytes(e, c->arg[0], c->arg[1], c->dim[0])),
         cont);
  else
    wrap(b, indent, arena_printf(e->a, "%s%s%s_%s(%s);", k->symbol, many ? "_many" : "",
                                 wtype_suffix[c->wtype], isa(c), args), cont);
}

static void emit_call(Emitter *e, Buf *b, int ci, const char *indent) {
  emit_kernel_call(e, b, ci, indent, false);
}

/* The condition a guarded call runs under. */
static const char *guard_cond(Emitter *e, const Call *c) {
  const Layer *t = c->gate >= 0 ? &e->g->layer[c->gate] : NULL;
  switch (c->guard) {
  case G_FIRST_FRAME:
    return arena_printf(e->a, "%s == 1ULL", frames(e));
  case G_CLOSE:
    return t->tstride == 1 ? arena_printf(e->a, "%s >= %dULL", frames(e), t->frames)
                           : arena_printf(e->a, "%s >= %dULL && (%s - %dULL) %% %dULL == 0ULL",
                                          frames(e), t->frames, frames(e), t->frames, t->tstride);
  case G_PARTIAL:
    return arena_printf(e->a, "%s < %dULL", frames(e), t->frames);
  default:
    return NULL;
  }
}

static const char *guard_why(Emitter *e, const Call *c) {
  const Layer *t = c->gate >= 0 ? &e->g->layer[c->gate] : NULL;
  switch (c->guard) {
  case G_FIRST_FRAME:
    return "the first frame after reset";
  case G_CLOSE:
    return arena_printf(e->a, "a window of %s '%s' closes (%d frames, every %d)", t->op->name,
                        t->name, t->frames, t->tstride);
  default:
    return arena_printf(e->a, "no window of '%s' has closed: the frames so far stand in for it", t->name);
  }
}

/* Calls [from, to), consecutive calls under one guard in one block. */
static void emit_calls(Emitter *e, Buf *b, int from, int to, const char *indent) {
  for (int c = from; c < to;) {
    const Call *first = &e->p->call[c];
    const char *cond = guard_cond(e, first);
    if (!cond) {
      emit_call(e, b, c++, indent);
      continue;
    }
    comment(e, b, indent, arena_printf(e->a, "when %s", guard_why(e, first)));
    wrap(b, indent, arena_printf(e->a, "if (%s) {", cond), arena_printf(e->a, "%s    ", indent));
    const char *inner = arena_printf(e->a, "%s  ", indent);
    for (; c < to && e->p->call[c].guard == first->guard && e->p->call[c].gate == first->gate; c++)
      emit_call(e, b, c, inner);
    buf_printf(b, "%s}\n", indent);
  }
}

/* Whether calls [from, to) read value v. */
static bool uses(const Program *p, int from, int to, int v) {
  for (int c = from; c < to; c++)
    for (int i = 0; i < MAX_ARGS; i++)
      if (p->call[c].arg[i] == v)
        return true;
  return false;
}

/* The named arena buffers calls [from, to) use (and `also`, read after
 * them), one `float *const` each, in arena order, at indent `ind`. */
static bool declare_buffers(Emitter *e, Buf *b, int from, int to, int also, const char *ind) {
  const Program *p = e->p;
  int n = 0;
  for (int i = 0; i < p->nv; i++)
    n += p->v[i].kind == V_TRANSIENT && (i == also || uses(p, from, to, i));
  if (!n)
    return false;
  comment(e, b, ind, n > 1 ? "transient buffers in the arena (those never alive at once share memory)"
                            : "the transient buffer in the arena");
  int64_t last = -1;
  for (;;) { /* by offset, then by value index: deterministic */
    int next = -1;
    for (int i = 0; i < p->nv; i++) {
      const Value *v = &p->v[i];
      if (v->kind != V_TRANSIENT || !(i == also || uses(p, from, to, i)))
        continue;
      int64_t key = v->offset * p->nv + i;
      if (key > last && (next < 0 || key < p->v[next].offset * p->nv + next))
        next = i;
    }
    if (next < 0)
      break;
    last = p->v[next].offset * p->nv + next;
    const char *base = p->v[next].carried && e->carried ? e->carried : e->arena;
    wrap(b, ind, arena_printf(e->a, "float *const %s = %s + %lld;", p->v[next].name, base,
                              (long long)p->v[next].offset), arena_printf(e->a, "%s    ", ind));
  }
  buf_printf(b, "\n");
  return true;
}

/* The clip aggregate, folded after each frame (at indent `ind`). */
static void emit_clip_fold(Emitter *e, Buf *b, const char *y, const char *ind) {
  const Graph *g = e->g;
  const char *acc = arena_printf(e->a, "%sclip_acc", e->st);
  const char *n = arena_printf(e->a, "%s_CLIP_SIZE", e->up), *cont = arena_printf(e->a, "%s    ", ind);
  comment(e, b, ind, arena_printf(e->a, "%s: clip '%s': fold this frame in", spec_at(e, g->loc_output),
                                  clip_name[g->clip]));
  switch (g->clip) {
  case CLIP_MEAN:
  case CLIP_WEIGHTED: /* sum_t p_t or sum_t t p_t */
    wrap(b, ind, arena_printf(e->a, "reel_f32_sum_fold_generic(%s, %sclip_comp, %s, %s, %s);",
                              acc, e->st, g->clip == CLIP_MEAN ? "1.0f"
                              : arena_printf(e->a, "(float)%s", frames(e)), y, n), cont);
    break;
  case CLIP_MAX: /* the first frame is copied, the next ones folded in */
    wrap(b, ind, arena_printf(e->a, "reel_tpool_fold_generic(%s, %s, %s, REEL_TPOOL_MAX, 0, %s);", acc,
                              y, n, frames(e)), cont);
    break;
  default:
    wrap(b, ind, arena_printf(e->a, "memcpy(%s, %s, sizeof(float) * %s);", acc, y, n), cont);
    break;
  }
}

/* m_clip's answer before the first frame: zeros. */
static void zero_before_first_frame(Emitter *e, Buf *b) {
  buf_printf(b, "  if (%s == 0) {\n", frames(e));
  stmt(e, b, "    ", "memset(out, 0, sizeof(float) * %s_CLIP_SIZE);", e->up);
  buf_printf(b, "    return;\n  }\n");
}

/* clip_of(st, arena, out), m_clip's body for one stream's state and an arena: the value of
 * a clip aggregate, or the layers after a clip pool; then m_clip itself. */
static void emit_clip(Emitter *e, Buf *b) {
  const Graph *g = e->g;
  const Program *p = e->p;
  const char *m = g->model, *M = e->up, *acc = "st->clip_acc", *at = spec_at(e, g->loc_output);
  e->st = "st->", e->arena = "arena";
  buf_printf(b, "\n");
  decl(e, b, arena_printf(e->a, "static void clip_of(%s_state *st, float *arena, float *out) {", m));
  if (g->clip_head) { /* the layers after a clip pool */
    if (!declare_buffers(e, b, p->forecast_end, p->nc, p->clip_value, "  "))
      buf_printf(b, "  (void)arena;\n");
    zero_before_first_frame(e, b);
    emit_calls(e, b, p->forecast_end, p->nc, "  ");
    stmt(e, b, "  ", "memcpy(out, %s, sizeof(float) * %s_CLIP_SIZE);", ref(e, p->clip_value), M);
  } else {
    buf_printf(b, "  (void)arena;\n");
    if (g->clip == CLIP_MEAN || g->clip == CLIP_WEIGHTED)
      buf_printf(b, "  float n = (float)st->frames;\n\n");
    zero_before_first_frame(e, b);
    if (g->clip == CLIP_MEAN) {
      comment(e, b, "  ", arena_printf(e->a, "%s: clip 'mean': sum_t p_t / n", at));
      wrap(b, "  ", arena_printf(e->a, "reel_f32_sum_read_generic(out, %s, st->clip_comp, 1.0f / n, "
                                 "%s_CLIP_SIZE);", acc, M), "      ");
    } else if (g->clip == CLIP_WEIGHTED) {
      comment(e, b, "  ", arena_printf(e->a, "%s: clip 'weighted': sum_t t p_t / sum_t t, sum_t t = "
                                       "n (n + 1) / 2", at));
      wrap(b, "  ", arena_printf(e->a, "reel_f32_sum_read_generic(out, %s, st->clip_comp, "
                                 "2.0f / n / (n + 1.0f), %s_CLIP_SIZE);", acc, M), "      ");
    } else {
      comment(e, b, "  ", arena_printf(e->a, "%s: clip '%s'", at, clip_name[g->clip]));
      stmt(e, b, "  ", "memcpy(out, %s, sizeof(float) * %s_CLIP_SIZE);", acc, M);
    }
  }
  buf_printf(b, "}\n\n");
  decl(e, b, arena_printf(e->a, "void %s_clip(%s_ctx *ctx, float *out) {", m, m));
  buf_printf(b, "  clip_of(&ctx->state, ctx->arena, out);\n}\n");
  e->st = "ctx->state.", e->arena = "ctx->arena";
}

/* ---- m_step_many: a batch of streams, each batched kernel reading its weights once ---- */

/* The pointer arrays the batched calls in [0, step_end) fill, one per signature token that
 * takes a stream's tensor: their tokens into names[] (MAX_ARGS * K_COUNT at most). */
static int stream_tokens(const Program *p, const char **names, Arena *a) {
  int n = 0;
  for (int ci = 0; ci < p->step_end; ci++) {
    const Call *c = &p->call[ci];
    if (!call_batched(p, c))
      continue;
    char tok[32];
    int value = 0;
    for (const char *s = kernel_info[c->op].signature; signature_next(&s, tok, sizeof tok);) {
      if (signature_kind(tok) != SIG_VALUE)
        continue;
      int v = c->arg[value++];
      if (v < 0 || p->v[v].kind == V_WEIGHT)
        continue;
      int k = 0;
      while (k < n && strcmp(names[k], tok) != 0)
        k++;
      if (k == n)
        names[n++] = arena_printf(a, "%s", tok);
    }
  }
  return n;
}

int many_stack_bytes(Arena *a, const Program *p, int max_streams) {
  const char *names[MAX_ARGS * K_COUNT];
  int arrays = stream_tokens(p, names, a) + 2; /* + the states' and the arenas' */
  return STACK_BOUND + 2 * MANY_FRAME_SLACK + arrays * max_streams * (int)sizeof(float *);
}

/* What m_step does after its calls, for stream i: fold the output into the clip aggregate and
 * copy it out. */
static void emit_step_tail(Emitter *e, Buf *b) {
  const char *y = ref(e, e->p->out_value);
  if (e->g->clip)
    emit_clip_fold(e, b, y, "    ");
  if (e->g->per_frame) {
    buf_printf(b, "    if (out && out[i])\n");
    stmt(e, b, "      ", "memcpy(out[i], %s, sizeof(float) * %s_OUT_SIZE);", y, e->up);
  }
}

/* Stream by stream, calls [from, to), and with `tail` the step's tail. */
static void emit_stream_loop(Emitter *e, Buf *b, int from, int to, bool tail) {
  buf_printf(b, "  for (i = 0; i < n; i++) {\n");
  e->parity = arena_printf(e->a, "(int)(%s & 1ULL)", frames(e));
  declare_buffers(e, b, from, to, tail ? e->p->out_value : -1, "    ");
  emit_calls(e, b, from, to, "    ");
  if (tail) {
    buf_printf(b, "\n");
    emit_step_tail(e, b);
  }
  buf_printf(b, "  }\n");
}

/* Batched call ci: each stream's tensors into the pointer arrays, then one call. */
static void emit_batched_call(Emitter *e, Buf *b, int ci) {
  const Call *c = &e->p->call[ci];
  buf_printf(b, "  for (i = 0; i < n; i++) {\n");
  declare_buffers(e, b, ci, ci + 1, -1, "    ");
  char tok[32];
  int value = 0;
  for (const char *s = kernel_info[c->op].signature; signature_next(&s, tok, sizeof tok);)
    if (signature_kind(tok) == SIG_VALUE && per_stream(e, c->arg[value++]))
      stmt(e, b, "    ", "%s[i] = %s;", stream_array(e, tok), ref(e, c->arg[value - 1]));
  buf_printf(b, "  }\n");
  e->parity = "(int)(st[0]->frames & 1ULL)"; /* it only orders the pass */
  emit_kernel_call(e, b, ci, "  ", true);
}

/* step_batch(): m_step for n <= M_MAX_STREAMS streams, call by call: a batched call once
 * for all of them, a run of other calls in one loop over the streams (a pass).  Stream i's
 * state is st[i]; the transients of one pass are in arena[0], which the streams use in turn,
 * those carried from pass to pass in arena[i] (plan.c). */
static void emit_step_batch(Emitter *e, Buf *b) {
  const Graph *g = e->g;
  const Program *p = e->p;
  const char *m = g->model, *M = e->up;
  decl(e, b, arena_printf(e->a, "static void step_batch(%s_state *const st[], int n, float *const arena[], "
                          "const %s *const in[], float *const out[]) {", m, in_type(g)));
  const char *names[MAX_ARGS * K_COUNT];
  int arrays = stream_tokens(p, names, e->a);
  if (arrays)
    comment(e, b, "  ", "the streams' tensors, for the batched calls (zeroed: gcc cannot see that "
                        "calls read only the n filled)");
  for (int k = 0; k < arrays; k++)
    stmt(e, b, "  ", "%sfloat *%s[%s_MAX_STREAMS] = {0};", names[k][0] == 'x' ? "const " : "",
         stream_array(e, names[k]), M);
  buf_printf(b, "  int i;\n\n");
  if (!uses(p, 0, p->step_end, 0) && p->out_value != 0)
    buf_printf(b, "  (void)in;\n");
  bool transients = p->out_value >= 0 && p->v[p->out_value].kind == V_TRANSIENT;
  for (int i = 0; i < p->nv; i++)
    transients |= p->v[i].kind == V_TRANSIENT && uses(p, 0, p->step_end, i);
  if (!transients)
    buf_printf(b, "  (void)arena;\n");
  e->st = "st[i]->", e->arena = "arena[0]", e->carried = "arena[i]", e->in = "in[i]";
  buf_printf(b, "  for (i = 0; i < n; i++)\n    st[i]->frames++; /* this frame included */\n");
  bool tail = g->clip || g->per_frame, tail_done = false;
  for (int c = 0; c < p->step_end;) {
    if (call_batched(p, &p->call[c])) {
      emit_batched_call(e, b, c++);
      continue;
    }
    int end = c;
    while (end < p->step_end && !call_batched(p, &p->call[end]))
      end++;
    /* the last pass takes the tail: its output is in the shared region (plan.c) */
    tail_done = tail && end == p->step_end;
    emit_stream_loop(e, b, c, end, tail_done);
    c = end;
  }
  if (tail && !tail_done) { /* after a batched call: a pass of its own */
    buf_printf(b, "  for (i = 0; i < n; i++) {\n");
    declare_buffers(e, b, p->step_end, p->step_end, p->out_value, "    ");
    emit_step_tail(e, b);
    buf_printf(b, "  }\n");
  }
  if (!g->per_frame)
    buf_printf(b, "  (void)out;\n");
  buf_printf(b, "}\n");
  e->st = "ctx->state.", e->arena = "ctx->arena", e->carried = NULL, e->in = "in";
}

/* m_step_many, and m_clip_many and m_forecast_many where the model has them. */
static void emit_many(Emitter *e, Buf *b) {
  const Graph *g = e->g;
  const Program *p = e->p;
  const char *m = g->model, *M = e->up;
  const char *each[2] = {g->clip || g->clip_head ? "clip" : NULL, forecast_output(g) ? "forecast" : NULL};
  buf_printf(b, "\n");
  emit_step_batch(e, b);
  buf_printf(b, "\n");
  decl(e, b, arena_printf(e->a, "void %s_step_many(%s_ctx *const ctx[], int n, const %s *const in[], "
                          "float *const out[]) {", m, m, in_type(g)));
  comment(e, b, "  ", "a batch's states and arenas: the shared transients in its first stream's "
                      "context, each stream's carried ones in its own (zeroed: gcc cannot see that "
                      "step_batch reads only the n filled)");
  stmt(e, b, "  ", "%s_state *st[%s_MAX_STREAMS] = {0};", m, M);
  stmt(e, b, "  ", "float *arena[%s_MAX_STREAMS] = {0};", M);
  buf_printf(b, "  int first, k, i;\n\n");
  stmt(e, b, "  ", "for (first = 0; first < n; first += k) {");
  stmt(e, b, "    ", "k = n - first < %s_MAX_STREAMS ? n - first : %s_MAX_STREAMS;", M, M);
  buf_printf(b, "    for (i = 0; i < k; i++) {\n      st[i] = &ctx[first + i]->state;\n"
                "      arena[i] = ctx[first + i]->arena;\n    }\n");
  buf_printf(b, "    step_batch(st, k, arena, in + first, out ? out + first : NULL);\n  }\n}\n");
  for (int k = 0; k < 2; k++)
    if (each[k]) {
      buf_printf(b, "\n");
      decl(e, b, arena_printf(e->a, "void %s_%s_many(%s_ctx *const ctx[], int n, float *const out[]) {",
                              m, each[k], m));
      buf_printf(b, "  int i;\n\n  for (i = 0; i < n; i++)\n");
      stmt(e, b, "    ", "%s_%s(ctx[i], out[i]);", m, each[k]);
      buf_printf(b, "}\n");
    }

  int64_t carry = p->arena_floats - p->local_floats;
  buf_printf(b, "\n");
  decl(e, b, arena_printf(e->a, "void %s_step_states(%s_scratch *scratch, %s_state *const st[], int n, "
                          "const %s *const in[], float *const out[]) {", m, m, m, in_type(g)));
  comment(e, b, "  ", carry ? arena_printf(e->a, "stream i of a batch keeps its carried transients "
                                           "%lld floats further into the scratch than stream i - 1",
                                           (long long)carry)
                            : "the model carries no transient from pass to pass: one arena for all");
  stmt(e, b, "  ", "float *arena[%s_MAX_STREAMS];", M);
  buf_printf(b, "  int first, i;\n\n");
  stmt(e, b, "  ", "for (i = 0; i < %s_MAX_STREAMS; i++)", M);
  if (carry)
    stmt(e, b, "    ", "arena[i] = scratch->arena + (long)i * %lld;", (long long)carry);
  else
    buf_printf(b, "    arena[i] = scratch->arena;\n");
  stmt(e, b, "  ", "for (first = 0; first < n; first += %s_MAX_STREAMS)", M);
  wrap(b, "    ", arena_printf(e->a, "step_batch(st + first, n - first < %s_MAX_STREAMS ? n - first : "
                               "%s_MAX_STREAMS, arena, in + first, out ? out + first : NULL);", M, M),
       "        ");
  buf_printf(b, "}\n");
  for (int k = 0; k < 2; k++)
    if (each[k]) {
      buf_printf(b, "\n");
      decl(e, b, arena_printf(e->a, "void %s_%s_states(%s_scratch *scratch, %s_state *const st[], int n, "
                              "float *const out[]) {", m, each[k], m, m));
      buf_printf(b, "  int i;\n\n  for (i = 0; i < n; i++)\n");
      stmt(e, b, "    ", "%s_of(st[i], scratch->arena, out[i]);", each[k]);
      buf_printf(b, "}\n");
    }
}

/* Where weight value v is: its type's member of m_weights, at its place in its section; in the
 * union, the sections follow each other (float32, then bfloat16, then int8). */
static const char *weight_at(Emitter *e, const Value *v) {
  static const char member[WT_COUNT] = {'f', 'h', 'q'};
  int64_t at = v->offset, floats = e->p->weight_floats;
  if (!e->float_literals)
    at += v->wtype == WT_BF16 ? 2 * floats : v->wtype == WT_I8 ? 4 * floats + 2 * e->p->weight_halves : 0;
  return arena_printf(e->a, "(%s_weights.%c + %lld)", e->g->model, member[v->wtype], (long long)at);
}

static void emit_source(Emitter *e, Buf *b) {
  const Graph *g = e->g;
  const Program *p = e->p;
  const char *m = g->model, *M = e->up;
  comment(e, b, "", arena_printf(e->a, "Generated by reelc from %s; do not edit.", g->file));
  buf_printf(b, "#include <string.h>\n\n#include \"reel_runtime.h\"\n#include \"%s.h\"\n\n", m);
  if (e->target == TARGET_AVX2)
    buf_printf(b, "#if !defined(__AVX2__) || !defined(__FMA__)\n"
                  "#error \"reelc --target avx2 code: build it with -mavx2 -mfma, or regenerate it "
                  "for generic\"\n#endif\n\n");
  bool weights = false;
  for (int i = 0; i < p->nv; i++)
    if (p->v[i].kind == V_WEIGHT) {
      if (!weights)
        comment(e, b, "", arena_printf(e->a, "Packed weights by tensor, offsets into %s_weights.", m));
      weights = true;
      const char *at = weight_at(e, &p->v[i]);
      const char *def = arena_printf(e->a, "#define W_%s %s", upper(e->a, p->v[i].name), at);
      if (strlen(def) > COLUMNS) /* the expression on a continuation line */
        def = arena_printf(e->a, "#define W_%s \\\n    %s", upper(e->a, p->v[i].name), at);
      buf_printf(b, "%s\n", def);
    }
  bool any = false;
  for (int c = 0; c < p->nc; c++)
    if (strstr(kernel_info[p->call[c].op].signature, "&conv") ||
        strstr(kernel_info[p->call[c].op].signature, "&pool")) {
      if (!any)
        buf_printf(b, "\n/* Convolution and pooling geometry. */\n");
      any = true;
      emit_desc(e, b, c);
    }
  any = false;
  for (int c = 0; c < p->nc; c++)
    if (strstr(kernel_info[p->call[c].op].signature, "&attn")) {
      if (!any)
        buf_printf(b, "\n/* Attention keys and values. */\n");
      any = true;
      emit_attention_desc(e, b, c);
    }
  buf_printf(b, "\n");
  decl(e, b, arena_printf(e->a, "void %s_reset(%s_ctx *ctx) {", m, m));
  buf_printf(b, "  memset(&ctx->state, 0, sizeof ctx->state);\n}\n\n");
  decl(e, b, arena_printf(e->a, "void %s_reset_state(%s_state *st) {", m, m));
  buf_printf(b, "  memset(st, 0, sizeof *st);\n}\n\n");

  /* step(): the frame through the per-frame chain */
  const char *y = ref(e, p->out_value);
  decl(e, b, arena_printf(e->a, "void %s_step(%s_ctx *ctx, const %s *in, float *out) {", m, m,
                          in_type(g)));
  declare_buffers(e, b, 0, p->step_end, p->out_value, "  ");
  if (!uses(p, 0, p->step_end, 0) && p->out_value != 0)
    buf_printf(b, "  (void)in;\n");
  buf_printf(b, "  ctx->state.frames++; /* this frame included */\n");
  e->parity = "(int)(ctx->state.frames & 1ULL)";
  emit_calls(e, b, 0, p->step_end, "  ");
  buf_printf(b, "\n");
  if (g->clip)
    emit_clip_fold(e, b, y, "  ");
  if (g->per_frame)
    stmt(e, b, "  ", "memcpy(out, %s, sizeof(float) * %s_OUT_SIZE);", y, M), buf_printf(b, "}\n");
  else
    buf_printf(b, "  (void)out;\n}\n");

  if (g->clip || g->clip_head)
    emit_clip(e, b);
  bool attention = false;
  for (int i = 0; i < p->nv; i++)
    attention |= p->v[i].attention;
  if (attention) {
    buf_printf(b, "\n");
    decl(e, b, arena_printf(e->a, "void %s_attention_state(const %s_state *st, float *out) {", m, m));
    int64_t offset = 0;
    for (int i = 0; i < p->nv; i++)
      if (p->v[i].attention) {
        wrap(b, "  ", arena_printf(e->a, "memcpy(out + %lld, st->%s, sizeof st->%s);",
                                   (long long)offset, p->v[i].name, p->v[i].name), "      ");
        offset += p->v[i].size;
      }
    buf_printf(b, "}\n\n");
    decl(e, b, arena_printf(e->a, "void %s_attention(const %s_ctx *ctx, float *out) {", m, m));
    stmt(e, b, "  ", "%s_attention_state(&ctx->state, out);", m);
    buf_printf(b, "}\n");
  }

  const Layer *fc = forecast_output(g);
  if (fc) {
    buf_printf(b, "\n");
    comment(e, b, "", arena_printf(e->a, "%s: the forecast: %d steps", spec_at(e, g->loc_forecast),
                                   g->forecast_steps));
    e->st = "st->", e->arena = "arena";
    decl(e, b, arena_printf(e->a, "static void forecast_of(%s_state *st, float *arena, float *out) {", m));
    buf_printf(b, "  int k;\n");
    if (!declare_buffers(e, b, p->step_end, p->forecast_end, p->forecast_value, "  "))
      buf_printf(b, "\n  (void)arena;\n");
    /* every forecast starts afresh: the first layer from the encoder's
     * state (the prologue's copies), any other recurrent layer from zero */
    for (int i = 0; i < p->nv; i++) {
      const Value *v = &p->v[i];
      if (v->kind == V_STATE && v->layer >= 0 && g->layer[v->layer].phase == PHASE_FORECAST &&
          g->layer[v->layer].init_state < 0)
        stmt(e, b, "  ", "memset(st->%s, 0, sizeof st->%s);", v->name, v->name);
    }
    e->parity = "0";
    emit_calls(e, b, p->step_end, p->prologue_end, "  ");
    stmt(e, b, "  ", "for (k = 0; k < %s_FORECAST_STEPS; k++) {", M);
    e->parity = "(k & 1)";
    emit_calls(e, b, p->prologue_end, p->forecast_end, "    ");
    wrap(b, "    ", arena_printf(e->a, "memcpy(out + (long)k * %s_FORECAST_SIZE, %s, sizeof(float) * "
                                 "%s_FORECAST_SIZE);", M, ref(e, p->forecast_value), M), "        ");
    buf_printf(b, "  }\n}\n\n");
    decl(e, b, arena_printf(e->a, "void %s_forecast(%s_ctx *ctx, float *out) {", m, m));
    buf_printf(b, "  forecast_of(&ctx->state, ctx->arena, out);\n}\n");
    e->st = "ctx->state.", e->arena = "ctx->arena";
  }
  emit_many(e, b);
}

static bool write_buf(Arena *a, const char *dir, const char *name, Buf *b) {
  bool ok = write_file(arena_printf(a, "%s/%s", dir, name), b->s, b->len);
  buf_free(b);
  return ok;
}

static bool copy_runtime(Arena *a, const char *dir, const char *name) {
  for (int i = 0; i < runtime_file_count; i++)
    if (strcmp(runtime_files[i].name, name) == 0)
      return write_file(arena_printf(a, "%s/%s", dir, name), runtime_files[i].text,
                        strlen(runtime_files[i].text));
  diag_error((Loc){name, 0, 0}, "internal error: runtime file missing from reelc");
  return false;
}

/* Runtime files that call into others: the generic conv and gemv apply
 * fused activations with reel_f32_activate_generic, the temporal kernels
 * use the pointwise ones, the bidirectional sequences the gemv and the
 * cells, every AVX2 file includes the vector math. */
static const char *const runtime_needs[][2] = {
    {"reel_conv_generic.c", "reel_pointwise_generic.c"},
    {"reel_gemv_generic.c", "reel_pointwise_generic.c"},
    {"reel_temporal_generic.c", "reel_pointwise_generic.c"},
    {"reel_rnn_seq_generic.c", "reel_gemv_generic.c"},
    {"reel_rnn_seq_generic.c", "reel_cells_generic.c"},
    {"reel_rnn_seq_avx2.c", "reel_gemv_avx2.c"},
    {"reel_rnn_seq_avx2.c", "reel_cells_avx2.c"},
    {"reel_rnn_seq_avx2.c", "reel_cells_generic.c"},
};

static int add_file(const char **files, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (strcmp(files[i], name) == 0)
      return n;
  files[n++] = name;
  for (size_t k = 0; k < sizeof runtime_needs / sizeof runtime_needs[0]; k++)
    if (strcmp(runtime_needs[k][0], name) == 0)
      n = add_file(files, n, runtime_needs[k][1]);
  if (strstr(name, "_avx2.c"))
    n = add_file(files, n, "reel_vmath_avx2.h");
  return n;
}

bool emit_c(Arena *a, const Program *p, const EmitOptions *opt, const char *dir) {
  Emitter e = {a, p, p->g, opt->target, upper(a, p->g->model),
               arena_alloc(a, (size_t)(p->nc + 1) * sizeof(char *)), "0", opt->float_literals,
               "ctx->state.", "ctx->arena", NULL, "in", opt->max_streams};
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
    diag_error((Loc){dir, 0, 0}, "cannot create the output directory: %s", strerror(errno));
    return false;
  }
  /* Everything is generated before anything is written, so running out of
   * memory leaves no file behind; each file is then written whole (or not). */
  Buf h = {0}, c = {0}, w = {0};
  emit_header(&e, &h);
  emit_source(&e, &c);
  emit_weights(p, opt, &w);
  const char *m = p->g->model;
  bool ok = write_buf(a, dir, arena_printf(a, "%s.h", m), &h);
  ok = ok && write_buf(a, dir, arena_printf(a, "%s.c", m), &c);
  ok = ok && write_buf(a, dir, arena_printf(a, "%s_weights.c", m), &w);
  buf_free(&h);
  buf_free(&c);
  buf_free(&w);
  if (!ok)
    return false;

  const char *files[MAX_RUNTIME_FILES];
  int n = runtime_files_needed(a, p, files);
  for (int i = 0; i < n; i++)
    if (!copy_runtime(a, dir, files[i]))
      return false;
  return true;
}

/* The runtime: its header, each kernel file some call needs and what those need; the clip
 * aggregate uses the generic pointwise file, and its max folds like a clip pool. */
int runtime_files_needed(Arena *a, const Program *p, const char **files) {
  int n = add_file(files, 0, "reel_runtime.h");
  if (p->g->clip)
    n = add_file(files, n, "reel_pointwise_generic.c");
  if (p->g->clip == CLIP_MAX)
    n = add_file(files, n, "reel_temporal_generic.c");
  for (int k = 0; k < p->nc; k++) {
    const Call *call = &p->call[k];
    if (kernel_info[call->op].file)
      n = add_file(files, n, arena_printf(a, "%s_%s.c", kernel_info[call->op].file, isa(call)));
  }
  return n;
}
