/* The spec front end: a YAML tree into a Graph of layers, every field
 * checked for type and range, every layer keeping its file:line:col.
 * The accepted form is written above each parser. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

const char *const clip_name[] = {"none", "mean", "max", "last", "weighted"};
const char *const peephole_name[] = {"none", "diagonal", "channel", "spatial"};
const char *const score_name[] = {"dot", "general", "additive", "location", "linear"};
const char *const tpool_name[REEL_TPOOL_COUNT] = {"max", "mean", "concat"}; /* as in a spec */

/* ---- typed field readers: each reports the field, what it expected and
 * what it found ---- */

const char *describe(const YNode *n) {
  static char text[80];
  if (n->kind != Y_SCALAR)
    return yaml_kind_name(n);
  snprintf(text, sizeof text, "%s '%.40s'", n->plain ? "value" : "string", n->str);
  return text;
}

bool read_int(const YNode *n, const char *field, long min, long max, int *out) {
  if (n->kind == Y_SCALAR && n->plain && n->str[0]) {
    char *end;
    errno = 0;
    long v = strtol(n->str, &end, 10);
    if (*end == '\0' && errno == 0 && !isspace((unsigned char)n->str[0])) {
      if (v < min || v > max) {
        diag_error(n->loc, "'%s' is %ld: expected an integer from %ld to %ld", field, v, min, max);
        return false;
      }
      *out = (int)v;
      return true;
    }
  }
  diag_error(n->loc, "'%s' must be an integer, got %s", field, describe(n));
  return false;
}

bool read_bool(const YNode *n, const char *field, bool *out) {
  if (n->kind == Y_SCALAR && n->plain) {
    if (strcmp(n->str, "true") == 0)
      return *out = true, true;
    if (strcmp(n->str, "false") == 0)
      return *out = false, true;
  }
  diag_error(n->loc, "'%s' must be true or false, got %s", field, describe(n));
  return false;
}

bool read_number(const YNode *n, const char *field, double min, double max, double *out) {
  if (n->kind == Y_SCALAR && n->plain && n->str[0]) {
    char *end;
    double v = strtod(n->str, &end);
    if (*end == '\0' && v >= min && v < max)
      return *out = v, true;
  }
  diag_error(n->loc, "'%s' must be a number in [%g, %g), got %s", field, min, max, describe(n));
  return false;
}

bool read_choice(const YNode *n, const char *field, const char *const *names, int count,
                        int *out) {
  if (n->kind == Y_SCALAR)
    for (int i = 0; i < count; i++)
      if (strcmp(n->str, names[i]) == 0)
        return *out = i, true;
  char expected[256] = "";
  for (int i = 0; i < count; i++)
    snprintf(expected + strlen(expected), sizeof expected - strlen(expected), "%s%s",
             i ? (i == count - 1 ? " or " : ", ") : "", names[i]);
  diag_error(n->loc, "'%s' must be %s, got %s", field, expected, describe(n));
  return false;
}

static bool expect_kind(const YNode *n, YKind kind, const char *what) {
  if (n->kind == kind)
    return true;
  diag_error(n->loc, "%s must be a %s, got %s", what, kind == Y_MAP ? "mapping" : "list",
             describe(n));
  return false;
}

/* PyTorch's argument names a spec written from a module may carry: reel's
 * key for it, or why a spec has none ("=..."). */
static const char *const torch_keys[][2] = {
    {"out_channels", "out"},
    {"out_features", "out"},
    {"kernel_size", "kernel"},
    {"hidden_size", "hidden"},
    {"num_layers", "layers"},
    {"upscale_factor", "factor"},
    {"downscale_factor", "factor"},
    {"in_channels", "=reel infers it from the input shape; remove it"},
    {"in_features", "=reel infers it from the input shape; remove it"},
    {"input_size", "=reel infers it from the input shape; remove it"},
    {"num_features", "=reel infers it from the input shape; remove it"},
    {"batch_first", "=reel steps one frame at a time, with no batch or time axis; remove it"},
    {"momentum", "=it only matters in training: reel reads running_mean and running_var"},
    {"inplace", "=it has no effect on the result; remove it"},
    {"dropout", "=inference has no dropout; remove it"},
};

/* A hint for a PyTorch argument name, if `key` is one this op can use. */
static const char *torch_hint(const char *key, const char *const *allowed, int n) {
  for (size_t i = 0; i < sizeof torch_keys / sizeof *torch_keys; i++) {
    if (strcmp(key, torch_keys[i][0]) != 0)
      continue;
    if (torch_keys[i][1][0] == '=')
      return torch_keys[i][1] + 1;
    for (int j = 0; j < n; j++)
      if (strcmp(allowed[j], torch_keys[i][1]) == 0)
        return torch_keys[i][1];
  }
  return NULL;
}

/* Every key of map must be in the space-separated list `allowed`. */
static bool check_keys(const YNode *map, const char *allowed, const char *where) {
  const char *words[32];
  char copy[256];
  int n = 0;
  snprintf(copy, sizeof copy, "%s", allowed);
  for (char *w = strtok(copy, " "); w && n < 32; w = strtok(NULL, " "))
    words[n++] = w;
  bool ok = true;
  for (int i = 0; i < map->n; i++) {
    const YNode *key = map->item[2 * (size_t)i];
    bool known = false;
    for (int j = 0; j < n; j++)
      known |= strcmp(key->str, words[j]) == 0;
    if (known)
      continue;
    const char *near = nearest_word(key->str, words, n), *torch = torch_hint(key->str, words, n);
    if (torch && strchr(torch, ' '))
      diag_error(key->loc, "unknown key '%s' in %s: PyTorch's argument, but %s", key->str, where,
                 torch);
    else if (torch)
      diag_error(key->loc, "unknown key '%s' in %s: PyTorch's name; reel calls it '%s'", key->str,
                 where, torch);
    else if (near)
      diag_error(key->loc, "unknown key '%s' in %s; did you mean '%s'?", key->str, where, near);
    else
      diag_error(key->loc, "unknown key '%s' in %s; expected one of: %s", key->str, where, allowed);
    ok = false;
  }
  return ok;
}

const YNode *require(const YNode *map, const char *key, const char *where) {
  const YNode *v = yaml_get(map, key);
  if (!v)
    diag_error(map->loc, "%s has no '%s'", where, key);
  return v;
}

/* Names: letters, digits, '_' and, for a layer (PyTorch module paths such
 * as cnn.0, or nn.Sequential's own indices 0 and 3.1), '.'; a model name
 * is a C identifier. */
static bool valid_name(const char *s, bool module_path) {
  size_t n = strlen(s);
  if (n == 0 || n > MAX_NAME ||
      !(isalpha((unsigned char)s[0]) || s[0] == '_' || (module_path && isdigit((unsigned char)s[0]))))
    return false;
  for (size_t i = 0; i < n; i++)
    if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || (module_path && s[i] == '.')))
      return false;
  return s[n - 1] != '.';
}

/* mean / std: one number for every channel, or one per channel; NULL when absent */
static bool read_channels(Arena *a, const YNode *map, const char *field, int channels,
                          bool positive, double def, double **out) {
  const YNode *v = yaml_get(map, field);
  if (!v)
    return true;
  double *d = arena_alloc(a, (size_t)channels * sizeof *d);
  bool list = v->kind == Y_SEQ;
  if (list && v->n != channels && v->n != 1) {
    diag_error(v->loc, "'%s' has %d values: expected one, or one per channel (%d)", field, v->n,
               channels);
    return false;
  }
  for (int c = 0; c < channels; c++) {
    d[c] = def;
    const YNode *item = list ? v->item[v->n == 1 ? 0 : c] : v;
    if (!read_number(item, field, -1e30, 1e30, &d[c]))
      return false;
    if (positive && d[c] <= 0) {
      diag_error(item->loc, "'%s' is %g: expected a positive number", field, d[c]);
      return false;
    }
  }
  *out = d;
  return true;
}

bool input_converted(const Graph *g) {
  const InputFormat *f = &g->in_fmt;
  return f->u8 || f->hwc || f->scale != 1.0 || f->mean || f->std;
}

/* ---- input: {frame: [N] | [C, H, W], dtype: float32 | uint8, layout: chw | hwc,
 *              scale: S, mean: M | [M_c...], std: S | [S_c...]} ---- */
static bool parse_input(Arena *a, const YNode *n, Graph *g) {
  if (!expect_kind(n, Y_MAP, "'input'") ||
      !check_keys(n, "frame dtype layout scale mean std", "'input'"))
    return false;
  const YNode *frame = require(n, "frame", "'input'");
  if (!frame || !expect_kind(frame, Y_SEQ, "'frame'"))
    return false;
  if (frame->n != 1 && frame->n != 3) {
    diag_error(frame->loc, "'frame' has %d dimensions: expected [N] or [C, H, W]", frame->n);
    return false;
  }
  g->input.rank = frame->n;
  for (int i = 0; i < frame->n; i++)
    if (!read_int(frame->item[i], "frame", 1, MAX_DIM, &g->input.dim[i]))
      return false;
  if (shape_elems(g->input) > MAX_ELEMS / 4) {
    diag_error(frame->loc, "a frame of %lld elements is too large", (long long)shape_elems(g->input));
    return false;
  }
  static const char *const dtypes[] = {"float32", "uint8"}, *const layouts[] = {"chw", "hwc"};
  InputFormat *f = &g->in_fmt;
  const YNode *v;
  int choice = 0;
  if ((v = yaml_get(n, "dtype")) && !read_choice(v, "dtype", dtypes, 2, &choice))
    return false;
  f->u8 = choice == 1;
  choice = 0;
  if ((v = yaml_get(n, "layout")) && !read_choice(v, "layout", layouts, 2, &choice))
    return false;
  f->hwc = choice == 1;
  if (f->hwc && g->input.rank != 3) {
    diag_error(v->loc, "'layout: hwc' stores a [C, H, W] frame channel-last, but this frame is "
               "[%d]", g->input.dim[0]);
    return false;
  }
  f->scale = f->u8 ? 1.0 / 255.0 : 1.0;
  if ((v = yaml_get(n, "scale")) && !read_number(v, "scale", -1e30, 1e30, &f->scale))
    return false;
  if (v && f->scale == 0) {
    diag_error(v->loc, "'scale' is 0: it would make every frame the same");
    return false;
  }
  int channels = g->input.dim[0];
  return read_channels(a, n, "mean", channels, false, 0.0, &f->mean) &&
         read_channels(a, n, "std", channels, true, 1.0, &f->std);
}

/* ---- output: {per_frame: true|false, clip: mean|max|last|weighted} ---- */
static bool parse_output(const YNode *n, Graph *g) {
  if (!expect_kind(n, Y_MAP, "'output'") || !check_keys(n, "per_frame clip", "'output'"))
    return false;
  const YNode *v;
  if ((v = yaml_get(n, "per_frame")) && !read_bool(v, "per_frame", &g->per_frame))
    return false;
  g->per_frame_set = v != NULL;
  int clip = CLIP_NONE;
  if ((v = yaml_get(n, "clip")) && !read_choice(v, "clip", clip_name + 1, 4, &clip))
    return false;
  g->clip = v ? (Clip)(clip + 1) : CLIP_NONE;
  return true; /* whether the model has an output at all needs the rates (shape.c) */
}

/* `key: N` or `key: [A, B]` (rows, columns), each in [min, max]. */
bool read_pair(const YNode *n, const char *field, int min, int *a, int *b) {
  if (n->kind == Y_SEQ) {
    if (n->n != 2) {
      diag_error(n->loc, "'%s' must be an integer or a list of two, got a list of %d", field, n->n);
      return false;
    }
    return read_int(n->item[0], field, min, MAX_DIM, a) && read_int(n->item[1], field, min, MAX_DIM, b);
  }
  if (!read_int(n, field, min, MAX_DIM, a))
    return false;
  *b = *a;
  return true;
}

/* padding: N | [rows, cols] | same | valid */
bool read_padding(const YNode *n, Layer *l, bool sides) {
  Window *w = &l->win;
  if (n->kind == Y_SCALAR && strcmp(n->str, "same") == 0)
    return l->same_pad = true;
  if (n->kind == Y_SCALAR && strcmp(n->str, "valid") == 0)
    return true;
  const char *forms = sides ? "an integer, [rows, cols], [top, bottom, left, right], same or valid"
                            : "an integer, [rows, cols], same or valid";
  if ((n->kind == Y_SCALAR && !(n->plain && isdigit((unsigned char)n->str[0]))) ||
      (n->kind == Y_SEQ && n->n != 2 && (n->n != 4 || !sides)) || n->kind == Y_MAP) {
    if (n->kind == Y_SEQ)
      diag_error(n->loc, "'padding' must be %s, got a list of %d", forms, n->n);
    else
      diag_error(n->loc, "'padding' must be %s, got %s", forms, describe(n));
    return false;
  }
  if (n->kind == Y_SEQ && n->n == 4) { /* explicit sides: asymmetric or causal padding */
    int *side[4] = {&w->pad_top, &w->pad_bottom, &w->pad_left, &w->pad_right};
    for (int i = 0; i < 4; i++)
      if (!read_int(n->item[i], "padding", 0, MAX_DIM, side[i]))
        return false;
    return true;
  }
  if (!read_pair(n, "padding", 0, &w->pad_top, &w->pad_left))
    return false;
  w->pad_bottom = w->pad_top;
  w->pad_right = w->pad_left;
  return true;
}

/* A reference to another layer by name, resolved once all layers are read. */
bool read_ref(const YNode *n, const char *field, const char **name, Loc *at) {
  if (n->kind != Y_SCALAR || !n->str[0]) {
    diag_error(n->loc, "'%s' must name a layer, got %s", field, describe(n));
    return false;
  }
  *name = n->str;
  *at = n->loc;
  return true;
}

/* An unknown op: what it may have meant, else the list of ops. */
static void unknown_op(const YNode *op) {
  const char *near = NULL;
  OpHint hint = op->kind == Y_SCALAR ? op_hint(op->str, &near) : HINT_NONE;
  if (hint == HINT_ALIAS) {
    diag_error(op->loc, "unknown op '%s'; reel calls it '%s'", op->str, near);
    return;
  }
  if (hint == HINT_CASE || hint == HINT_TYPO) {
    diag_error(op->loc, "unknown op '%s'; did you mean '%s'?", op->str, near);
    return;
  }
  char all[1024] = "";
  for (int i = 0; i < op_count; i++)
    snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", i ? ", " : "", op_table[i]->name);
  if (hint == HINT_OTHER)
    diag_error(op->loc, "unknown op '%s': reel does not have it; its ops are: %s", op->str, all);
  else
    diag_error(op->loc, "unknown op %s; expected one of: %s", describe(op), all);
}

/* "an lstm" (said letter by letter), "a gru", "a convlstm" */
static const char *article(const char *op) {
  return strchr("aeiou", op[0]) || strcmp(op, "lstm") == 0 ? "an" : "a";
}

static bool parse_layer(Arena *a, const YNode *n, int index, Layer *l) {
  if (!expect_kind(n, Y_MAP, "a layer"))
    return false;
  l->loc = n->loc;
  l->init_state = l->init_from = l->query = l->values = l->gate = -1;
  l->fused_into = l->fused_bn = l->fused_act = l->weight_type = -1;
  const YNode *op = require(n, "op", "the layer");
  if (!op)
    return false;
  l->op = op->kind == Y_SCALAR ? op_find(op->str) : NULL;
  if (!l->op) {
    unknown_op(op);
    return false;
  }
  char allowed[256];
  snprintf(allowed, sizeof allowed, "op name from window%s%s%s", *l->op->keys ? " " : "", l->op->keys,
           l->op->flags & OP_MATRICES ? " weight_type" : "");
  char where[64];
  snprintf(where, sizeof where, "%s %s layer", article(l->op->name), l->op->name);
  const YNode *wt = yaml_get(n, "weight_type");
  if (wt && !(l->op->flags & OP_MATRICES)) {
    diag_error(wt->loc, "'weight_type' stores weight matrices and filters compressed: %s %s layer "
               "has none (linear, lstm, gru, conv2d, conv_transpose2d, convlstm, convgru, "
               "temporal_conv, attention and mha do)", article(l->op->name), l->op->name);
    return false;
  }
  if (!check_keys(n, allowed, where))
    return false;

  const YNode *name = yaml_get(n, "name");
  if (name) {
    if (name->kind != Y_SCALAR || !valid_name(name->str, true) || strlen(name->str) > MAX_LAYER_NAME) {
      diag_error(name->loc, "layer name %s is not valid: expected a PyTorch module path of letters, "
                 "digits, '_' and '.' (cnn.0, 3.1), at most %d bytes", describe(name), MAX_LAYER_NAME);
      return false;
    }
    l->name = name->str;
    l->named = true;
  } else if (l->op->flags & OP_WEIGHTED) {
    diag_error(n->loc, "%s layer needs a 'name': it is the prefix of its weights", l->op->name);
    return false;
  } else {
    l->name = arena_printf(a, "%s%d", l->op->name, index);
  }
  /* its C name: '.' -> '_', and an index (nn.Sequential's "0") made an identifier */
  char *cname = arena_printf(a, "%s%s", isdigit((unsigned char)l->name[0]) ? "layer_" : "", l->name);
  for (char *c = cname; *c; c++)
    if (*c == '.')
      *c = '_';
  l->cname = cname;
  const YNode *window = yaml_get(n, "window");
  if (window) {
    if (!read_int(window, "window", 1, MAX_WINDOW, &l->window))
      return false;
    if (l->phase != PHASE_STEP) {
      diag_error(window->loc, "'window' keeps the last frames' outputs: it belongs to a layer of "
                 "the per-frame chain");
      return false;
    }
  }
  if (wt && !read_choice(wt, "weight_type", weight_type_name, WT_COUNT, &l->weight_type))
    return false;
  return !l->op->parse || l->op->parse(n, l);
}

int find_layer(const Graph *g, const char *name, int before) {
  for (int i = 0; i < before; i++)
    if (strcmp(g->layer[i].name, name) == 0)
      return i;
  return -2;
}

/* Inputs: `from:` names earlier layers of the same chain (or `input`);
 * without it, the previous layer.  Their count is checked against the op's
 * min_inputs and max_inputs (and its check_inputs). */
static bool resolve_inputs(Graph *g, int i, const YNode *from, const YNode *init) {
  Layer *l = &g->layer[i];
  int first = l->phase == PHASE_STEP ? 0 : g->n_step_layers;
  /* `input` is the frame; in a forecast chain with feedback, the frame fed back */
  bool has_input = l->phase == PHASE_STEP || g->feedback;
  if (!from) {
    if (i > first)
      l->input[l->n_input++] = i - 1;
    else if (has_input)
      l->input[l->n_input++] = -1;
  } else {
    l->from_loc = from->loc;
    int count = from->kind == Y_SEQ ? from->n : 1;
    if (from->kind == Y_MAP || count < 1 || count > MAX_INPUTS) {
      diag_error(from->loc, "'from' must be a layer name or a list of 1 to %d names", MAX_INPUTS);
      return false;
    }
    for (int k = 0; k < count; k++) {
      const YNode *item = from->kind == Y_SEQ ? from->item[k] : from;
      if (item->kind != Y_SCALAR) {
        diag_error(item->loc, "'from' must list layer names, got %s", describe(item));
        return false;
      }
      int src = strcmp(item->str, "input") == 0 && has_input ? -1 : find_layer(g, item->str, i);
      /* a window lives in the context, so a forecast's attention may read one */
      bool window_read = (l->op->flags & OP_READS_WINDOWS) && src >= 0 && g->layer[src].window;
      if (src >= 0 && g->layer[src].phase != l->phase && !window_read) {
        diag_error(item->loc, "'%s' is in the %s chain: a layer reads layers of its own chain "
                   "(or, for attention, a layer's 'window')",
                   item->str, g->layer[src].phase == PHASE_STEP ? "per-frame" : "forecast");
        return false;
      }
      if (src == -2) {
        diag_error(item->loc, "'from' names '%s', which is not an earlier layer%s", item->str,
                   has_input ? " (or 'input')" : " of the forecast chain");
        return false;
      }
      l->input[l->n_input++] = src;
    }
  }
  const OpDesc *op = l->op;
  Loc at = from ? from->loc : l->loc;
  /* only an op that may start a forecast from a hand-over state reads nothing */
  bool starts = l->n_input == 0 && op->min_inputs == 0 && init;
  if (l->n_input == 0 && !starts) {
    diag_error(at, "%s '%s' is first in the forecast chain, which has no input: only a "
               "convlstm with init_state can start it, or say 'feedback: true' in 'forecast'",
               op->name, l->name);
    return false;
  }
  if (!starts && (l->n_input < op->min_inputs || l->n_input > op->max_inputs)) {
    if (op->max_inputs == 1)
      diag_error(at, "%s '%s' reads one layer, 'from' names %d", op->name, l->name, l->n_input);
    else if (l->n_input < op->min_inputs)
      diag_error(at, "%s '%s' needs 'from' with at least %d layers", op->name, l->name,
                 op->min_inputs);
    else
      diag_error(at, "%s '%s' reads at most %d layers, 'from' names %d", op->name, l->name,
                 op->max_inputs, l->n_input);
    return false;
  }
  if (op->check_inputs && !op->check_inputs(g, l, at))
    return false;
  if (init) {
    int src = init->kind == Y_SCALAR ? find_layer(g, init->str, g->n_step_layers) : -2;
    if (l->phase != PHASE_FORECAST || i != g->n_step_layers || src < 0) {
      diag_error(init->loc, l->phase != PHASE_FORECAST || i != g->n_step_layers
                 ? "'init_state' belongs to the first layer of the forecast chain"
                 : "'init_state' must name %s %s of the per-frame chain",
                 article(op->name), op->name);
      return false;
    }
    const Layer *e = &g->layer[src];
    bool same = e->op == l->op && e->stack == l->stack && e->proj == l->proj;
    for (int k = 0; same && k < l->stack; k++)
      same = e->hidden[k] == l->hidden[k];
    if (!same) {
      diag_error(init->loc, "'init_state: %s' needs %s %s with the same hidden sizes and layers "
                 "as '%s'", init->str, article(op->name), op->name, l->name);
      return false;
    }
    l->init_state = src;
  }
  return true;
}

/* A chain's layers.  A layer with errors does not stop the reading: the
 * layers after it are still parsed, so one run reports every unknown op,
 * key and value, but no longer resolved (their `from` may name it). */
static bool parse_chain(Arena *a, const YNode *n, Graph *g, Phase phase, const char *what,
                        bool resolve) {
  if (!expect_kind(n, Y_SEQ, what))
    return false;
  if (n->n == 0 || g->n_layer + n->n > MAX_LAYERS) {
    diag_error(n->loc, "%s has %d entries: expected 1 to %d layers in all", what, n->n, MAX_LAYERS);
    return false;
  }
  Layer *grown = arena_alloc(a, (size_t)(g->n_layer + n->n) * sizeof *grown);
  if (g->n_layer)
    memcpy(grown, g->layer, (size_t)g->n_layer * sizeof *grown);
  g->layer = grown;
  int base = g->n_layer;
  bool ok = true;
  for (int i = 0; i < n->n; i++) {
    Layer *l = &g->layer[base + i];
    l->phase = phase;
    bool parsed = parse_layer(a, n->item[i], base + i, l);
    g->n_layer++;
    ok &= parsed;
    if (!ok)
      continue;
    for (int j = 0; j < base + i; j++)
      if (strcmp(l->cname, g->layer[j].cname) == 0) {
        diag_error(l->loc, "layer name '%s' is already used", l->name);
        diag_note(g->layer[j].loc, "by this layer '%s'", g->layer[j].name);
        ok = false;
        break;
      }
    if (phase == PHASE_STEP)
      g->n_step_layers = g->n_layer;
    ok = ok && resolve &&
         resolve_inputs(g, base + i, yaml_get(n->item[i], "from"), yaml_get(n->item[i], "init_state"));
  }
  return ok;
}

/* forecast: {steps: K, feedback: false, layers: [...]} */
static bool parse_forecast(Arena *a, const YNode *n, Graph *g, bool resolve) {
  if (!expect_kind(n, Y_MAP, "'forecast'") || !check_keys(n, "steps feedback layers", "'forecast'"))
    return false;
  const YNode *v;
  g->loc_forecast = n->loc;
  if (!(v = require(n, "steps", "'forecast'")) || !read_int(v, "steps", 1, 10000, &g->forecast_steps))
    return false;
  if ((v = yaml_get(n, "feedback")) && !read_bool(v, "feedback", &g->feedback))
    return false;
  return (v = require(n, "layers", "'forecast'")) && parse_chain(a, v, g, PHASE_FORECAST, "'forecast.layers'", resolve);
}

void add_ref(Layer *l, int layer) { l->ref[l->n_ref++] = layer; }

/* Names that may point forward (an attention's query is often the
 * recurrent layer after it), resolved by each op once every layer is known. */
static bool resolve_refs(Graph *g) {
  for (int i = 0; i < g->n_layer; i++) {
    Layer *l = &g->layer[i];
    if (l->op->resolve && !l->op->resolve(g, l))
      return false;
  }
  return true;
}

/* ---- the document:
 * reel: 1
 * model: NAME                 (a C identifier: the prefix of the generated API)
 * input: {...}  layers: [...]  output: {...}
 */
Graph *spec_parse(Arena *a, const char *file, const char *text, size_t len) {
  YNode *root = yaml_load(a, file, text, len);
  if (!root || !expect_kind(root, Y_MAP, "the spec") ||
      !check_keys(root, "reel model input layers forecast output", "the spec"))
    return NULL;
  Graph *g = arena_alloc(a, sizeof *g);
  g->file = file;
  g->per_frame = true;
  const YNode *v;
  int version;
  if (!(v = require(root, "reel", "the spec")) || !read_int(v, "reel", 0, 1000, &version))
    return NULL;
  if (version != 1) {
    diag_error(v->loc, "format version %d is not supported: this reelc reads 'reel: 1'", version);
    return NULL;
  }
  if (!(v = require(root, "model", "the spec")))
    return NULL;
  if (v->kind != Y_SCALAR || !valid_name(v->str, false) || strlen(v->str) > 64) {
    diag_error(v->loc, "model name %s is not a C identifier of at most 64 bytes", describe(v));
    return NULL;
  }
  if (strncmp(v->str, "reel_", 5) == 0) {
    diag_error(v->loc, "model name '%s' starts with 'reel_', the runtime's prefix: choose another",
               v->str);
    return NULL;
  }
  g->model = v->str;
  g->loc_model = v->loc;
  if (!(v = require(root, "input", "the spec")) || !parse_input(a, v, g))
    return NULL;
  g->loc_input = v->loc;
  if (!(v = require(root, "layers", "the spec")))
    return NULL;
  bool layers_ok = parse_chain(a, v, g, PHASE_STEP, "'layers'", true);
  /* the forecast chain's own errors too, in the same run */
  if ((v = yaml_get(root, "forecast")) && !parse_forecast(a, v, g, layers_ok))
    return NULL;
  if (!layers_ok)
    return NULL;
  if (!resolve_refs(g))
    return NULL;
  g->loc_output = root->loc;
  if ((v = yaml_get(root, "output"))) {
    g->loc_output = v->loc;
    if (!parse_output(v, g))
      return NULL;
  }
  return g;
}

Graph *spec_load(Arena *a, const char *path) {
  size_t len;
  char *text = read_file(a, path, &len, (Loc){path, 0, 0});
  return text ? spec_parse(a, path, text, len) : NULL;
}
