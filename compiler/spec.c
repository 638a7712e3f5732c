/* The spec front end: a YAML tree into a Graph of layers, every field
 * checked for type and range, every layer keeping its file:line:col.
 * The accepted form is written above each parser. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reel.h"

const char *const op_name[OP_COUNT] = {
#define X(e, s, k) s,
    REEL_OPS(X)
#undef X
};

static const char *const op_keys[OP_COUNT] = {
#define X(e, s, k) k,
    REEL_OPS(X)
#undef X
};

const char *const clip_name[] = {"none", "mean", "max", "last", "weighted"};
const char *const peephole_name[] = {"none", "diagonal", "channel", "spatial"};
const char *const score_name[] = {"dot", "general", "additive", "location"};
const char *const tpool_name[] = {"max", "mean", "concat"};

/* ---- typed field readers: each reports the field, what it expected and
 * what it found ---- */

static const char *describe(const YNode *n) {
  static char text[80];
  if (n->kind != Y_SCALAR)
    return yaml_kind_name(n);
  snprintf(text, sizeof text, "%s '%.40s'", n->plain ? "value" : "string", n->str);
  return text;
}

static bool read_int(const YNode *n, const char *field, long min, long max, int *out) {
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

static bool read_bool(const YNode *n, const char *field, bool *out) {
  if (n->kind == Y_SCALAR && n->plain) {
    if (strcmp(n->str, "true") == 0)
      return *out = true, true;
    if (strcmp(n->str, "false") == 0)
      return *out = false, true;
  }
  diag_error(n->loc, "'%s' must be true or false, got %s", field, describe(n));
  return false;
}

static bool read_number(const YNode *n, const char *field, double min, double max, double *out) {
  if (n->kind == Y_SCALAR && n->plain && n->str[0]) {
    char *end;
    double v = strtod(n->str, &end);
    if (*end == '\0' && v >= min && v < max)
      return *out = v, true;
  }
  diag_error(n->loc, "'%s' must be a number in [%g, %g), got %s", field, min, max, describe(n));
  return false;
}

static bool read_choice(const YNode *n, const char *field, const char *const *names, int count,
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
    const char *near = nearest_word(key->str, words, n);
    if (near)
      diag_error(key->loc, "unknown key '%s' in %s; did you mean '%s'?", key->str, where, near);
    else
      diag_error(key->loc, "unknown key '%s' in %s; expected one of: %s", key->str, where, allowed);
    ok = false;
  }
  return ok;
}

static const YNode *require(const YNode *map, const char *key, const char *where) {
  const YNode *v = yaml_get(map, key);
  if (!v)
    diag_error(map->loc, "%s has no '%s'", where, key);
  return v;
}

/* Names: a C-identifier-like start, then letters, digits, '_' or '.'
 * (PyTorch module paths such as cnn.0). */
static bool valid_name(const char *s, bool dots) {
  size_t n = strlen(s);
  if (n == 0 || n > MAX_NAME || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
    return false;
  for (size_t i = 0; i < n; i++)
    if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || (dots && s[i] == '.')))
      return false;
  return s[n - 1] != '.';
}

/* ---- input: {frame: [N] | [C, H, W]} ---- */
static bool parse_input(const YNode *n, Graph *g) {
  if (!expect_kind(n, Y_MAP, "'input'") || !check_keys(n, "frame", "'input'"))
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
  return true;
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
static bool read_pair(const YNode *n, const char *field, int min, int *a, int *b) {
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
static bool read_padding(const YNode *n, Layer *l) {
  Window *w = &l->win;
  if (n->kind == Y_SCALAR && strcmp(n->str, "same") == 0)
    return l->same_pad = true;
  if (n->kind == Y_SCALAR && strcmp(n->str, "valid") == 0)
    return true;
  if (n->kind == Y_SCALAR && !(n->plain && isdigit((unsigned char)n->str[0]))) {
    diag_error(n->loc, "'padding' must be an integer, [rows, cols], same or valid, got %s",
               describe(n));
    return false;
  }
  if (!read_pair(n, "padding", 0, &w->pad_top, &w->pad_left))
    return false;
  w->pad_bottom = w->pad_top;
  w->pad_right = w->pad_left;
  return true;
}

/* Kernel, stride (default: kernel for pools, 1 for conv), padding, dilation. */
static bool read_window(const YNode *n, Layer *l, bool pool) {
  Window *w = &l->win;
  const YNode *v;
  *w = (Window){.sh = 1, .sw = 1, .dh = 1, .dw = 1, .count_include_pad = true};
  if (!(v = require(n, "kernel", pool ? "a pooling layer" : "a conv2d layer")) ||
      !read_pair(v, "kernel", 1, &w->kh, &w->kw))
    return false;
  if (pool) {
    w->sh = w->kh;
    w->sw = w->kw;
  }
  if ((v = yaml_get(n, "stride")) && !read_pair(v, "stride", 1, &w->sh, &w->sw))
    return false;
  if ((v = yaml_get(n, "padding")) && !read_padding(v, l))
    return false;
  if (l->same_pad && pool) {
    diag_error(v->loc, "'padding: same' is for conv2d; a pool takes an integer or [rows, cols], as "
               "nn.MaxPool2d and nn.AvgPool2d do");
    return false;
  }
  if (l->same_pad && (w->sh != 1 || w->sw != 1)) {
    diag_error(v->loc, "'padding: same' needs stride 1, as in PyTorch");
    return false;
  }
  if ((v = yaml_get(n, "dilation")) && !read_pair(v, "dilation", 1, &w->dh, &w->dw))
    return false;
  if ((v = yaml_get(n, "ceil_mode")) && !read_bool(v, "ceil_mode", &w->ceil_mode))
    return false;
  if ((v = yaml_get(n, "count_include_pad")) && !read_bool(v, "count_include_pad", &w->count_include_pad))
    return false;
  return true;
}

/* hidden: H | [H_0, ..., H_{L-1}] with layers: L (default 1, or the list's length). */
static bool read_hidden(const YNode *n, Layer *l, const char *what) {
  const YNode *v = require(n, "hidden", what), *layers = yaml_get(n, "layers");
  if (!v)
    return false;
  l->stack = 1;
  if (layers && !read_int(layers, "layers", 1, MAX_STACK, &l->stack))
    return false;
  if (v->kind == Y_SEQ) {
    if (v->n < 1 || v->n > MAX_STACK || (layers && v->n != l->stack)) {
      diag_error(v->loc, "'hidden' lists %d sizes: expected one per stacked layer (%d)", v->n,
                 layers ? l->stack : v->n);
      return false;
    }
    l->stack = v->n;
    for (int k = 0; k < v->n; k++)
      if (!read_int(v->item[k], "hidden", 1, MAX_DIM, &l->hidden[k]))
        return false;
    return true;
  }
  if (!read_int(v, "hidden", 1, MAX_DIM, &l->hidden[0]))
    return false;
  for (int k = 1; k < l->stack; k++)
    l->hidden[k] = l->hidden[0];
  return true;
}

/* A reference to another layer by name, resolved once all layers are read. */
static bool read_ref(const YNode *n, const char *field, const char **name, Loc *at) {
  if (n->kind != Y_SCALAR || !n->str[0]) {
    diag_error(n->loc, "'%s' must name a layer, got %s", field, describe(n));
    return false;
  }
  *name = n->str;
  *at = n->loc;
  return true;
}

/* attention: keys from its input; the query and values named. */
static bool parse_attention(const YNode *n, Layer *l) {
  const YNode *v;
  int choice = SCORE_DOT;
  if (!(v = require(n, "query", "an attention layer")) || !read_ref(v, "query", &l->query_name, &l->query_loc))
    return false;
  if ((v = yaml_get(n, "values")) && !read_ref(v, "values", &l->values_name, &l->values_loc))
    return false;
  if ((v = yaml_get(n, "score")) && !read_choice(v, "score", score_name, 4, &choice))
    return false;
  l->score = (Score)choice;
  if ((v = yaml_get(n, "scale")) && !read_bool(v, "scale", &l->scale))
    return false;
  if (v && l->scale && l->score != SCORE_DOT && l->score != SCORE_GENERAL) {
    diag_error(v->loc, "'scale' divides dot-product scores by sqrt(key size): it is for score dot "
               "or general, not %s", score_name[l->score]);
    return false;
  }
  v = yaml_get(n, "hidden");
  if (l->score == SCORE_ADDITIVE && !v) {
    diag_error(n->loc, "attention '%s' with score additive needs 'hidden': the width of its "
               "tanh layer", l->name);
    return false;
  }
  if (v && l->score != SCORE_ADDITIVE) {
    diag_error(v->loc, "'hidden' is the width of additive attention; score %s has none",
               score_name[l->score]);
    return false;
  }
  return !v || read_int(v, "hidden", 1, MAX_DIM, &l->hidden[0]);
}

/* temporal_pool and temporal_conv: windows of frames. */
static bool parse_temporal(const YNode *n, Layer *l) {
  const YNode *v, *frames = yaml_get(n, "frames"), *stride = yaml_get(n, "stride");
  bool conv = l->op == OP_TEMPORAL_CONV;
  int mode = TPOOL_MAX;
  if ((v = yaml_get(n, "mode")) && !read_choice(v, "mode", tpool_name, 3, &mode))
    return false;
  l->tmode = (TPoolMode)mode;
  if (conv && !frames) {
    diag_error(n->loc, "temporal_conv '%s' has no 'frames': its temporal kernel size", l->name);
    return false;
  }
  if (frames && !read_int(frames, "frames", 1, MAX_WINDOW, &l->frames))
    return false;
  l->tstride = conv ? 1 : l->frames;
  if (stride && !frames) {
    diag_error(stride->loc, "'stride' steps a window of frames: give 'frames' too");
    return false;
  }
  if (stride && !read_int(stride, "stride", 1, MAX_WINDOW, &l->tstride))
    return false;
  v = yaml_get(n, "count");
  if (l->tmode == TPOOL_CONCAT) {
    if (frames) {
      diag_error(frames->loc, "mode concat keeps whole values, one per frame or window: it has "
                 "no 'frames'");
      return false;
    }
    if (!v) {
      diag_error(n->loc, "temporal_pool with mode concat needs 'count': how many values it keeps");
      return false;
    }
    return read_int(v, "count", 1, MAX_WINDOW, &l->count);
  }
  if (v) {
    diag_error(v->loc, "'count' is for mode concat");
    return false;
  }
  if (!conv)
    return true;
  l->bias = true;
  l->groups = 1;
  l->win = (Window){.kh = 1, .kw = 1, .sh = 1, .sw = 1, .dh = 1, .dw = 1};
  if (!(v = require(n, "out", "a temporal_conv layer")) || !read_int(v, "out", 1, MAX_DIM, &l->out))
    return false;
  if ((v = yaml_get(n, "bias")) && !read_bool(v, "bias", &l->bias))
    return false;
  if ((v = yaml_get(n, "kernel")) && !read_pair(v, "kernel", 1, &l->win.kh, &l->win.kw))
    return false;
  return !(v = yaml_get(n, "padding")) || read_padding(v, l);
}

/* ---- layers ----
 * linear:  {name, op: linear, out: N, bias: true|false}
 * relu | relu6 | sigmoid | tanh | softmax | flatten | global_avgpool:  {op}
 * leaky_relu: {op, negative_slope: 0.01}
 * dropout: {op: dropout, p: 0.5}          identity at inference
 * lstm:    {name, op: lstm, hidden: H, layers: L = 1, peephole: none|diagonal}
 * gru:     {name, op: gru, hidden: H, layers: L = 1}
 * conv2d:  {name, op: conv2d, out: N, kernel: K|[kh,kw], stride: 1, padding: 0|[ph,pw]|same|valid,
 *           dilation: 1, groups: 1, bias: true}
 * batchnorm: {name, op: batchnorm, eps: 1e-5}
 * maxpool | avgpool: {op, kernel, stride: kernel, padding: 0, ceil_mode: false,
 *           count_include_pad: true (avgpool)}
 * add | concat: {op, from: [a, b, ...]}
 * pixel_shuffle | pixel_unshuffle: {op, factor: R}
 * convlstm: {name, op: convlstm, hidden: H|[H0, ...], kernel: K (odd), layers: L,
 *           peephole: none|channel|spatial, output: last|concat, init_state: LAYER}
 * convgru: {name, op: convgru, hidden: H|[H0, ...], kernel: K (odd), layers: L,
 *           from: LAYER | [LAYER_0, ..., LAYER_{L-1}]}
 * lstm, gru: also init_state: LAYER (first forecast layer); lstm: init_from: LAYER
 * attention: {name, op: attention, query: LAYER, values: LAYER, score: dot|general|additive|location,
 *           scale: false, hidden: A (additive)}
 * temporal_pool: {op, mode: max|mean|concat, frames: W, stride: W, count: K (concat)}
 * temporal_conv: {name, op: temporal_conv, out: N, frames: W, stride: 1, kernel: 1, padding: 0|same,
 *           bias: true}
 * Any layer may say `from: LAYER` (or `input`) to read another than the previous, and
 * `window: N` to keep its last N outputs in the context.
 */
static bool parse_layer_fields(const YNode *n, Layer *l) {
  const YNode *v;
  int choice;
  switch (l->op) {
  case OP_LINEAR:
  case OP_CONV2D:
    l->bias = true;
    l->groups = 1;
    if (!(v = require(n, "out", l->op == OP_LINEAR ? "a linear layer" : "a conv2d layer")) ||
        !read_int(v, "out", 1, MAX_DIM, &l->out))
      return false;
    if ((v = yaml_get(n, "bias")) && !read_bool(v, "bias", &l->bias))
      return false;
    if (l->op == OP_LINEAR)
      return true;
    if ((v = yaml_get(n, "groups")) && !read_int(v, "groups", 1, MAX_DIM, &l->groups))
      return false;
    return read_window(n, l, false);
  case OP_MAXPOOL:
  case OP_AVGPOOL:
    return read_window(n, l, true);
  case OP_DROPOUT:
    return !(v = yaml_get(n, "p")) || read_number(v, "p", 0, 1, &l->p);
  case OP_LEAKY_RELU:
    l->slope = 0.01;
    return !(v = yaml_get(n, "negative_slope")) || read_number(v, "negative_slope", -1e6, 1e6, &l->slope);
  case OP_BATCHNORM:
    l->eps = 1e-5;
    return !(v = yaml_get(n, "eps")) || read_number(v, "eps", 1e-12, 1, &l->eps);
  case OP_PIXEL_SHUFFLE:
  case OP_PIXEL_UNSHUFFLE:
    return (v = require(n, "factor", "a pixel shuffle layer")) && read_int(v, "factor", 1, 64, &l->factor);
  case OP_ATTENTION:
    return parse_attention(n, l);
  case OP_TEMPORAL_POOL:
  case OP_TEMPORAL_CONV:
    return parse_temporal(n, l);
  case OP_LSTM:
  case OP_GRU:
  case OP_CONVLSTM:
  case OP_CONVGRU: {
    char what[32];
    snprintf(what, sizeof what, "%s layer", op_name[l->op]);
    if (!read_hidden(n, l, what))
      return false;
    if ((l->op == OP_LSTM || l->op == OP_GRU))
      for (int k = 1; k < l->stack; k++)
        if (l->hidden[k] != l->hidden[0]) {
          diag_error(yaml_get(n, "hidden")->loc, "%s needs one hidden size for all its layers, as "
                     "nn.%s has", op_name[l->op], l->op == OP_LSTM ? "LSTM" : "GRU");
          return false;
        }
    if (l->op == OP_CONVLSTM || l->op == OP_CONVGRU) {
      if (!(v = require(n, "kernel", what)) || !read_int(v, "kernel", 1, 63, &l->kernel))
        return false;
      if (l->kernel % 2 == 0) {
        diag_error(v->loc, "'kernel' is %d: %s needs an odd kernel (padding kernel/2 keeps the "
                   "frame size)", l->kernel, op_name[l->op]);
        return false;
      }
    }
    choice = PEEPHOLE_NONE;
    if ((v = yaml_get(n, "peephole"))) {
      bool conv = l->op == OP_CONVLSTM;
      const char *const conv_names[] = {"none", "channel", "spatial"};
      if (!read_choice(v, "peephole", conv ? conv_names : peephole_name, conv ? 3 : 2, &choice))
        return false;
      if (conv && choice)
        choice += 1; /* channel, spatial */
    }
    l->peephole = (Peephole)choice;
    if ((v = yaml_get(n, "init_from"))) {
      if (!read_ref(v, "init_from", &l->init_from_name, &l->init_from_loc))
        return false;
      if (l->stack != 1) {
        diag_error(v->loc, "'init_from' sets the first state of a single-layer lstm; '%s' has %d "
                   "layers", l->name, l->stack);
        return false;
      }
    }
    if ((v = yaml_get(n, "output"))) {
      const char *const modes[] = {"last", "concat"};
      if (!read_choice(v, "output", modes, 2, &choice))
        return false;
      l->concat_output = choice == 1;
    }
    return true;
  }
  default:
    return true;
  }
}

static bool has_weights(Op op) {
  return op == OP_LINEAR || op == OP_LSTM || op == OP_GRU || op == OP_CONV2D ||
         op == OP_BATCHNORM || op == OP_CONVLSTM || op == OP_CONVGRU || op == OP_ATTENTION ||
         op == OP_TEMPORAL_CONV;
}

static bool parse_layer(Arena *a, const YNode *n, int index, Layer *l) {
  if (!expect_kind(n, Y_MAP, "a layer"))
    return false;
  l->loc = n->loc;
  l->init_state = l->init_from = l->query = l->values = l->gate = -1;
  l->fused_into = l->fused_bn = l->fused_act = -1;
  const YNode *op = require(n, "op", "the layer");
  if (!op)
    return false;
  int found = -1;
  for (int i = 0; i < OP_COUNT && op->kind == Y_SCALAR; i++)
    if (strcmp(op->str, op_name[i]) == 0)
      found = i;
  if (found < 0) {
    const char *near = op->kind == Y_SCALAR ? nearest_word(op->str, op_name, OP_COUNT) : NULL;
    if (near) {
      diag_error(op->loc, "unknown op '%s'; did you mean '%s'?", op->str, near);
    } else {
      char all[512] = "";
      for (int i = 0; i < OP_COUNT; i++)
        snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", i ? ", " : "", op_name[i]);
      diag_error(op->loc, "unknown op %s; expected one of: %s", describe(op), all);
    }
    return false;
  }
  l->op = (Op)found;
  char allowed[160];
  snprintf(allowed, sizeof allowed, "op name from window%s%s", *op_keys[l->op] ? " " : "",
           op_keys[l->op]);
  char where[64];
  snprintf(where, sizeof where, "a %s layer", op_name[l->op]);
  if (!check_keys(n, allowed, where))
    return false;

  const YNode *name = yaml_get(n, "name");
  if (name) {
    if (name->kind != Y_SCALAR || !valid_name(name->str, true) || strlen(name->str) > MAX_LAYER_NAME) {
      diag_error(name->loc, "layer name %s is not valid: expected letters, digits, '_' and '.', "
                 "starting with a letter or '_', at most %d bytes", describe(name), MAX_LAYER_NAME);
      return false;
    }
    l->name = name->str;
    l->named = true;
  } else if (has_weights(l->op)) {
    diag_error(n->loc, "%s layer needs a 'name': it is the prefix of its weights", op_name[l->op]);
    return false;
  } else {
    l->name = arena_printf(a, "%s%d", op_name[l->op], index);
  }
  char *cname = arena_strdup(a, l->name);
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
  return parse_layer_fields(n, l);
}

static int find_layer(const Graph *g, const char *name, int before) {
  for (int i = 0; i < before; i++)
    if (strcmp(g->layer[i].name, name) == 0)
      return i;
  return -2;
}

/* Inputs: `from:` names earlier layers of the same chain (or `input`);
 * without it, the previous layer.  Checked per op: add and concat take two
 * or more, a convgru one or one per stacked layer, the rest exactly one. */
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
      bool window_read = l->op == OP_ATTENTION && src >= 0 && g->layer[src].window;
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
  int want_min = 1, want_max = 1;
  if (l->op == OP_ADD || l->op == OP_CONCAT)
    want_min = 2, want_max = MAX_INPUTS;
  if (l->op == OP_CONVGRU)
    want_max = l->stack;
  if (l->n_input == 0 && l->op == OP_CONVLSTM && init) {
    /* the forecaster's bottom layer: no external input */
  } else if (l->n_input < want_min || l->n_input > want_max ||
             (l->op == OP_CONVGRU && l->n_input != 1 && l->n_input != l->stack)) {
    Loc at = from ? from->loc : l->loc;
    if (l->n_input == 0)
      diag_error(at, "%s '%s' is first in the forecast chain, which has no input: only a "
                 "convlstm with init_state can start it, or say 'feedback: true' in 'forecast'",
                 op_name[l->op], l->name);
    else if (l->op == OP_CONVGRU)
      diag_error(at, "convgru '%s' reads %d layers: expected 1, or one per stacked layer (%d)",
                 l->name, l->n_input, l->stack);
    else if (want_min == 2)
      diag_error(at, "%s '%s' needs 'from' with at least two layers", op_name[l->op], l->name);
    else
      diag_error(at, "%s '%s' reads one layer, 'from' names %d", op_name[l->op], l->name, l->n_input);
    return false;
  }
  l->rcn = l->op == OP_CONVGRU && l->n_input > 1;
  if (init) {
    int src = init->kind == Y_SCALAR ? find_layer(g, init->str, g->n_step_layers) : -2;
    if (l->phase != PHASE_FORECAST || i != g->n_step_layers || src < 0) {
      diag_error(init->loc, l->phase != PHASE_FORECAST || i != g->n_step_layers
                 ? "'init_state' belongs to the first layer of the forecast chain"
                 : "'init_state' must name %s %s of the per-frame chain",
                 l->op == OP_LSTM ? "an" : "a", op_name[l->op]);
      return false;
    }
    const Layer *e = &g->layer[src];
    bool same = e->op == l->op && e->stack == l->stack;
    for (int k = 0; same && k < l->stack; k++)
      same = e->hidden[k] == l->hidden[k];
    if (!same) {
      diag_error(init->loc, "'init_state: %s' needs %s %s with the same hidden sizes and layers "
                 "as '%s'", init->str, l->op == OP_LSTM ? "an" : "a", op_name[l->op], l->name);
      return false;
    }
    l->init_state = src;
  }
  return true;
}

static bool parse_chain(Arena *a, const YNode *n, Graph *g, Phase phase, const char *what) {
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
  for (int i = 0; i < n->n; i++) {
    Layer *l = &g->layer[base + i];
    l->phase = phase;
    if (!parse_layer(a, n->item[i], base + i, l))
      return false;
    g->n_layer++;
    for (int j = 0; j < base + i; j++)
      if (strcmp(l->cname, g->layer[j].cname) == 0) {
        diag_error(l->loc, "layer name '%s' is already used", l->name);
        diag_note(g->layer[j].loc, "by this layer '%s'", g->layer[j].name);
        return false;
      }
    if (phase == PHASE_STEP)
      g->n_step_layers = g->n_layer;
    if (!resolve_inputs(g, base + i, yaml_get(n->item[i], "from"), yaml_get(n->item[i], "init_state")))
      return false;
  }
  return true;
}

/* forecast: {steps: K, feedback: false, layers: [...]} */
static bool parse_forecast(Arena *a, const YNode *n, Graph *g) {
  if (!expect_kind(n, Y_MAP, "'forecast'") || !check_keys(n, "steps feedback layers", "'forecast'"))
    return false;
  const YNode *v;
  g->loc_forecast = n->loc;
  if (!(v = require(n, "steps", "'forecast'")) || !read_int(v, "steps", 1, 10000, &g->forecast_steps))
    return false;
  if ((v = yaml_get(n, "feedback")) && !read_bool(v, "feedback", &g->feedback))
    return false;
  return (v = require(n, "layers", "'forecast'")) && parse_chain(a, v, g, PHASE_FORECAST, "'forecast.layers'");
}

static int find_named(const Graph *g, const char *name) {
  for (int i = 0; i < g->n_layer; i++)
    if (strcmp(g->layer[i].name, name) == 0)
      return i;
  return -1;
}

/* Names that may point forward (an attention's query is often the
 * recurrent layer after it), resolved once every layer is known. */
static bool resolve_refs(Graph *g) {
  for (int i = 0; i < g->n_layer; i++) {
    Layer *l = &g->layer[i];
    if (l->init_from_name) {
      int src = find_layer(g, l->init_from_name, i);
      if (src < 0 || g->layer[src].phase != l->phase) {
        diag_error(l->init_from_loc, "'init_from' names '%s', which is not an earlier layer of "
                   "the same chain", l->init_from_name);
        return false;
      }
      l->init_from = src;
    }
    if (l->op != OP_ATTENTION)
      continue;
    int q = find_named(g, l->query_name);
    if (q < 0 || q == i || g->layer[q].phase != l->phase) {
      diag_error(l->query_loc, q == i ? "attention '%s' cannot be its own query"
                 : "'query' names '%s', which is not a layer of the same chain", 
                 q == i ? l->name : l->query_name);
      return false;
    }
    if (q > i && g->layer[q].op != OP_LSTM && g->layer[q].op != OP_GRU) {
      diag_error(l->query_loc, "'query: %s' comes after the attention, so it must be an lstm or gru "
                 "whose hidden state of the previous step is the query; it is a %s",
                 l->query_name, op_name[g->layer[q].op]);
      return false;
    }
    l->query = q;
    l->query_prev = q > i;
    if (l->values_name) {
      int v = find_layer(g, l->values_name, i);
      if (v < 0 || (g->layer[v].phase != l->phase && !g->layer[v].window)) {
        diag_error(l->values_loc, "'values' names '%s', which is not an earlier layer of the same "
                   "chain (or one with a 'window')", l->values_name);
        return false;
      }
      l->values = v;
    }
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
  if (!(v = require(root, "input", "the spec")) || !parse_input(v, g))
    return NULL;
  g->loc_input = v->loc;
  if (!(v = require(root, "layers", "the spec")) || !parse_chain(a, v, g, PHASE_STEP, "'layers'"))
    return NULL;
  if ((v = yaml_get(root, "forecast")) && !parse_forecast(a, v, g))
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
