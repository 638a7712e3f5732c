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
static const char *const peephole_name[] = {"none", "diagonal"};

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
    const YNode *key = map->item[2 * i];
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
  int clip = CLIP_NONE;
  if ((v = yaml_get(n, "clip")) && !read_choice(v, "clip", clip_name + 1, 4, &clip))
    return false;
  g->clip = v ? (Clip)(clip + 1) : CLIP_NONE;
  if (!g->per_frame && g->clip == CLIP_NONE) {
    diag_error(n->loc, "'per_frame: false' needs a 'clip' aggregate, or the model has no output");
    return false;
  }
  return true;
}

/* ---- layers ----
 * linear:  {name, op: linear, out: N, bias: true|false}
 * relu | sigmoid | tanh | softmax:  {op}
 * dropout: {op: dropout, p: 0.5}          identity at inference
 * lstm:    {name, op: lstm, hidden: H, layers: L = 1, peephole: none|diagonal}
 * gru:     {name, op: gru, hidden: H, layers: L = 1}
 */
static bool parse_layer_fields(const YNode *n, Layer *l) {
  const YNode *v;
  switch (l->op) {
  case OP_LINEAR:
    l->bias = true;
    if (!(v = require(n, "out", "linear layer")) || !read_int(v, "out", 1, MAX_DIM, &l->out))
      return false;
    if ((v = yaml_get(n, "bias")) && !read_bool(v, "bias", &l->bias))
      return false;
    return true;
  case OP_DROPOUT:
    return !(v = yaml_get(n, "p")) || read_number(v, "p", 0, 1, &l->p);
  case OP_LSTM:
  case OP_GRU: {
    l->stack = 1;
    const char *what = l->op == OP_LSTM ? "lstm layer" : "gru layer";
    if (!(v = require(n, "hidden", what)) || !read_int(v, "hidden", 1, MAX_DIM, &l->hidden))
      return false;
    if ((v = yaml_get(n, "layers")) && !read_int(v, "layers", 1, MAX_STACK, &l->stack))
      return false;
    int peephole = PEEPHOLE_NONE;
    if ((v = yaml_get(n, "peephole")) && !read_choice(v, "peephole", peephole_name, 2, &peephole))
      return false;
    l->peephole = (Peephole)peephole;
    return true;
  }
  default:
    return true;
  }
}

static bool has_weights(Op op) { return op == OP_LINEAR || op == OP_LSTM || op == OP_GRU; }

static bool parse_layer(Arena *a, const YNode *n, int index, Layer *l) {
  if (!expect_kind(n, Y_MAP, "a layer"))
    return false;
  l->loc = n->loc;
  l->input = index - 1;
  const YNode *op = require(n, "op", "the layer");
  if (!op)
    return false;
  int found = -1;
  for (int i = 0; i < OP_COUNT && op->kind == Y_SCALAR; i++)
    if (strcmp(op->str, op_name[i]) == 0)
      found = i;
  if (found < 0) {
    const char *near = op->kind == Y_SCALAR ? nearest_word(op->str, op_name, OP_COUNT) : NULL;
    if (near)
      diag_error(op->loc, "unknown op '%s'; did you mean '%s'?", op->str, near);
    else
      diag_error(op->loc, "unknown op %s; expected one of: linear, relu, sigmoid, tanh, softmax, "
                 "dropout, lstm, gru", describe(op));
    return false;
  }
  l->op = (Op)found;
  char allowed[128];
  snprintf(allowed, sizeof allowed, "op name%s%s", *op_keys[l->op] ? " " : "", op_keys[l->op]);
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
  return parse_layer_fields(n, l);
}

static bool parse_layers(Arena *a, const YNode *n, Graph *g) {
  if (!expect_kind(n, Y_SEQ, "'layers'"))
    return false;
  if (n->n == 0 || n->n > MAX_LAYERS) {
    diag_error(n->loc, "'layers' has %d entries: expected 1 to %d", n->n, MAX_LAYERS);
    return false;
  }
  g->layer = arena_alloc(a, (size_t)n->n * sizeof *g->layer);
  g->n_layer = n->n;
  bool ok = true;
  for (int i = 0; i < n->n && ok; i++)
    ok = parse_layer(a, n->item[i], i, &g->layer[i]);
  for (int i = 0; i < g->n_layer && ok; i++)
    for (int j = 0; j < i && ok; j++)
      if (strcmp(g->layer[i].cname, g->layer[j].cname) == 0) {
        diag_error(g->layer[i].loc, "layer name '%s' is already used", g->layer[i].name);
        diag_note(g->layer[j].loc, "by this layer '%s'", g->layer[j].name);
        ok = false;
      }
  return ok;
}

/* ---- the document:
 * reel: 1
 * model: NAME                 (a C identifier: the prefix of the generated API)
 * input: {...}  layers: [...]  output: {...}
 */
Graph *spec_parse(Arena *a, const char *file, const char *text, size_t len) {
  YNode *root = yaml_load(a, file, text, len);
  if (!root || !expect_kind(root, Y_MAP, "the spec") ||
      !check_keys(root, "reel model input layers output", "the spec"))
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
  if (!(v = require(root, "layers", "the spec")) || !parse_layers(a, v, g))
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
