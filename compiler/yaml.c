/* YAML (and JSON, which libyaml reads too) into a small tree of YNodes
 * that keep their source marks, built from libyaml's event stream.
 * Built with an explicit stack, so nesting depth is checked, not recursed;
 * aliases are refused, so no document can expand exponentially. */
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "reel.h"

typedef struct {
  YNode *node;
  int cap; /* capacity of node->item */
} Open;

static Loc mark_loc(const char *file, yaml_mark_t m) {
  return (Loc){file, (int)m.line + 1, (int)m.column + 1};
}

/* Children are stored flat (a map's keys and values alternate) in an array
 * that doubles; close_map() turns a map's count into pairs. */
static void append(Arena *a, Open *o, YNode *child) {
  YNode *n = o->node;
  if (n->n == o->cap) {
    int cap = o->cap ? o->cap * 2 : 8;
    YNode **item = arena_alloc(a, (size_t)cap * sizeof(YNode *));
    if (n->n)
      memcpy(item, n->item, (size_t)n->n * sizeof(YNode *));
    n->item = item;
    o->cap = cap;
  }
  n->item[n->n++] = child;
}

static YNode *new_node(Arena *a, YKind kind, Loc loc) {
  YNode *n = arena_alloc(a, sizeof *n);
  n->kind = kind;
  n->loc = loc;
  return n;
}

typedef struct {
  const char *key;
  int pos; /* the pair's index in its map */
} KeyPos;

static int by_key(const void *x, const void *y) {
  const KeyPos *a = x, *b = y;
  int c = strcmp(a->key, b->key);
  return c ? c : (a->pos > b->pos) - (a->pos < b->pos);
}

/* Maps were filled flat (key, value, ...): turn the count into pairs and
 * refuse non-scalar or repeated keys, reporting the earliest offender.
 * Repeats are found by sorting the keys, not by comparing every pair: a
 * mapping of a million keys (a 100 MiB safetensors header may hold more)
 * must not take hours. */
static bool close_map(Arena *a, YNode *m) {
  if (m->n % 2) /* cannot happen with a well-formed event stream */
    return false;
  m->n /= 2;
  int bad = m->n, first = -1; /* the offending pair; a repeat's first use */
  for (int i = 0; i < m->n && bad == m->n; i++)
    if (m->item[(size_t)2 * i]->kind != Y_SCALAR)
      bad = i;
  KeyPos *k = arena_alloc(a, (size_t)bad * sizeof *k + 1);
  for (int i = 0; i < bad; i++)
    k[i] = (KeyPos){m->item[(size_t)2 * i]->str, i};
  qsort(k, (size_t)bad, sizeof *k, by_key);
  int n = bad;
  for (int i = 1, start = 0; i < n; i++) {
    if (strcmp(k[i].key, k[start].key) != 0)
      start = i; /* a new key; sorted by position within equal keys */
    else if (k[i].pos < bad)
      bad = k[i].pos, first = k[start].pos;
  }
  if (bad == m->n)
    return true;
  YNode *key = m->item[(size_t)2 * bad];
  if (first < 0) {
    diag_error(key->loc, "a mapping key must be a plain string, not a %s", yaml_kind_name(key));
  } else {
    diag_error(key->loc, "duplicate key '%s'", key->str);
    diag_note(m->item[(size_t)2 * first]->loc, "'%s' was first given here", key->str);
  }
  return false;
}

YNode *yaml_load(Arena *a, const char *file, const char *text, size_t len) {
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) {
    diag_error((Loc){file, 0, 0}, "out of memory starting the YAML parser");
    return NULL;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);

  Open stack[MAX_DEPTH + 1];
  int depth = 0;
  YNode *root = NULL;
  int documents = 0;
  bool ok = true, done = false;

  while (ok && !done) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) {
      Loc at = mark_loc(file, parser.problem_mark);
      if (parser.error == YAML_MEMORY_ERROR)
        diag_error((Loc){file, 0, 0}, "out of memory reading the YAML");
      else if (parser.context)
        diag_error(at, "YAML syntax: %s %s", parser.problem, parser.context);
      else
        diag_error(at, "YAML syntax: %s", parser.problem ? parser.problem : "unreadable input");
      ok = false;
      break;
    }
    Loc at = mark_loc(file, ev.start_mark);
    YNode *node = NULL;
    switch (ev.type) {
    case YAML_STREAM_END_EVENT:
      done = true;
      break;
    case YAML_DOCUMENT_START_EVENT:
      if (++documents > 1) {
        diag_error(at, "expected one YAML document, found a second");
        ok = false;
      }
      break;
    case YAML_ALIAS_EVENT:
      diag_error(at, "YAML aliases (*%s) are not supported: write the value out", ev.data.alias.anchor);
      ok = false;
      break;
    case YAML_SCALAR_EVENT:
      node = new_node(a, Y_SCALAR, at);
      if (ev.data.scalar.length > 4096) {
        diag_error(at, "scalar of %zu bytes is too long (at most 4096)", ev.data.scalar.length);
        ok = false;
        break;
      }
      node->str = arena_strdup(a, (const char *)ev.data.scalar.value);
      if (strlen(node->str) != ev.data.scalar.length) {
        diag_error(at, "string contains a NUL character");
        ok = false;
        break;
      }
      node->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
      break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
      node = new_node(a, ev.type == YAML_MAPPING_START_EVENT ? Y_MAP : Y_SEQ, at);
      break;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: {
      YNode *closed = stack[--depth].node;
      if (closed->kind == Y_MAP && !close_map(a, closed))
        ok = false;
      break;
    }
    default:
      break;
    }
    if (node && ok) {
      if (depth > 0)
        append(a, &stack[depth - 1], node);
      else
        root = node;
      if (node->kind != Y_SCALAR) {
        if (depth == MAX_DEPTH) {
          diag_error(at, "nesting deeper than %d levels", MAX_DEPTH);
          ok = false;
        } else {
          stack[depth++] = (Open){node, 0};
        }
      }
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);
  if (ok && !root) {
    diag_error((Loc){file, 1, 1}, "the file is empty: expected a mapping");
    ok = false;
  }
  return ok ? root : NULL;
}

YNode *yaml_get(const YNode *map, const char *key) {
  for (int i = 0; map && map->kind == Y_MAP && i < map->n; i++)
    if (strcmp(map->item[2 * (size_t)i]->str, key) == 0)
      return map->item[2 * i + 1];
  return NULL;
}

const char *yaml_kind_name(const YNode *n) {
  switch (n->kind) {
  case Y_MAP:
    return "mapping";
  case Y_SEQ:
    return "list";
  default:
    return n->plain ? "plain scalar" : "quoted string";
  }
}
