/* <model>_weights.c: the packed weights as one read-only blob that any C99
 * compiler reads quickly at any size.  A float initializer per weight does
 * not scale (ResNet-18's 11.7M weights would take minutes and gigabytes in
 * cc), but string literals do: the blob is a union of 1024-byte chunks,
 * each a string literal of the floats' bytes in the target's order
 * (printable bytes as themselves, the rest as 3-digit octal escapes), and
 * of the floats the code reads.  Compressed weights (quantize.c) follow the floats: the
 * bfloat16 section (each weight's upper 16 bits), then the int8 section. */
#include <stdlib.h>
#include <string.h>

#include "reel.h"

int64_t weight_chunks(const Program *p) {
  int64_t bytes = weight_bytes(p);
  return bytes ? (bytes + WEIGHT_CHUNK - 1) / WEIGHT_CHUNK : 1;
}

/* Where weight value v starts in the blob, in bytes. */
static int64_t blob_at(const Program *p, const Value *v) {
  int64_t section = v->wtype == WT_BF16 ? 4 * p->weight_floats
                    : v->wtype == WT_I8 ? 4 * p->weight_floats + 2 * p->weight_halves : 0;
  return section + v->offset * weight_type_bytes(v->wtype);
}

/* The stored bits of element k of weight value v: a float's, a bfloat16's (the upper half of
 * the rounded float), or an int8's (two's complement). */
static uint32_t stored_bits(const Value *v, int64_t k) {
  uint32_t bits;
  if (v->wtype == WT_I8)
    return (uint32_t)(int32_t)v->data[k] & 0xffu;
  memcpy(&bits, &v->data[k], 4);
  return v->wtype == WT_BF16 ? bits >> 16 : bits;
}

/* The blob's bytes: each weight value at its offset, zeros between. */
static void fill_blob(const Program *p, bool big_endian, unsigned char *blob) {
  for (int i = 0; i < p->nv; i++) {
    const Value *v = &p->v[i];
    if (v->kind != V_WEIGHT || !v->data)
      continue;
    int n = weight_type_bytes(v->wtype);
    for (int64_t k = 0; k < v->size; k++) {
      uint32_t bits = stored_bits(v, k);
      unsigned char *at = blob + blob_at(p, v) + k * n;
      for (int b = 0; b < n; b++)
        at[big_endian ? n - 1 - b : b] = (unsigned char)(bits >> (8 * b));
    }
  }
}

/* One chunk as string literal lines of at most 100 columns: printable
 * bytes as themselves, the rest as 3-digit octal escapes. */
static void emit_chunk(Buf *b, const unsigned char *bytes, int n) {
  char line[104];
  int len = 0;
  for (int i = 0; i < n; i++) {
    unsigned char c = bytes[i];
    if (len == 0) {
      line[len++] = ' ';
      line[len++] = '"';
    }
    /* '?' could start a trigraph; '"' and '\\' need escapes */
    if (c >= 32 && c < 127 && c != '"' && c != '\\' && c != '?') {
      line[len++] = (char)c;
    } else {
      line[len++] = '\\';
      line[len++] = (char)('0' + (c >> 6));
      line[len++] = (char)('0' + ((c >> 3) & 7));
      line[len++] = (char)('0' + (c & 7));
    }
    if (len > 100 - 6 || i + 1 == n) { /* room for one more escape and the closing quote */
      line[len++] = '"';
      line[len++] = '\n';
      buf_append(b, line, (size_t)len);
      len = 0;
    }
  }
}

/* The floats' bytes are in one byte order: a target of the other stops the build, and so does
 * a compiler that does not say its order (__BYTE_ORDER__) unless the build states it. */
static void byte_order_guard(Buf *b, bool big_endian) {
  const char *is = big_endian ? "big" : "little", *other = big_endian ? "little" : "big";
  const char *IS = big_endian ? "BIG" : "LITTLE";
  buf_printf(b, "#if defined(__BYTE_ORDER__) && defined(__ORDER_%s_ENDIAN__)\n"
                "#if __BYTE_ORDER__ != __ORDER_%s_ENDIAN__\n"
                "#error \"these weights are %s-endian: regenerate them: reelc compile --endian %s\"\n"
                "#endif\n"
                "#elif !defined(REEL_%s_ENDIAN)\n"
                "#error \"no __BYTE_ORDER__: build with -DREEL_%s_ENDIAN if the target is %s-endian\"\n"
                "#endif\n\n",
             IS, IS, is, other, IS, IS, is);
}

/* One literal of weight value v's element k (NULL: unbound, 0): a hexadecimal float, exact; a
 * bfloat16 as its 16 bits in hex; an int8 in decimal. */
static void literal(Buf *b, const Value *v, int64_t k) {
  if (v && v->data && v->wtype == WT_BF16)
    buf_printf(b, " 0x%04x", (unsigned)stored_bits(v, k));
  else if (v && v->data && v->wtype == WT_I8)
    buf_printf(b, " %d", (int)v->data[k]);
  else
    buf_printf(b, " %af", v && v->data ? (double)v->data[k] : 0.0);
}

/* The member of one type: each tensor under a comment naming it, 5 literals a line; the
 * alignment gaps are zeros.  A section's values come in offset order (lower.c's
 * layout_weights). */
static void emit_section(const Program *p, WeightType t, int64_t n, Buf *b) {
  int64_t at = 0;
  buf_printf(b, "{\n");
  for (int i = 0; i <= p->nv; i++) {
    const Value *v = i < p->nv ? &p->v[i] : NULL;
    if (v && (v->kind != V_WEIGHT || v->wtype != (int)t))
      continue;
    int64_t end = v ? v->offset : n;
    for (int64_t k = at; k < end; k++) { /* padding before the tensor (or at the end) */
      literal(b, NULL, 0);
      buf_printf(b, "%s%s", k + 1 < n ? "," : "", (k - at) % 5 == 4 || k + 1 == end ? "\n" : "");
    }
    if (!v)
      break;
    buf_printf(b, "/* %s: %lld %s at %lld */\n", v->name, (long long)v->size,
               t == WT_F32 ? "floats" : weight_type_name[t], (long long)v->offset);
    for (int64_t k = 0; k < v->size; k++) {
      literal(b, v, k);
      buf_printf(b, "%s%s", v->offset + k + 1 < n ? "," : "", k % 5 == 4 || k + 1 == v->size ? "\n" : "");
    }
    at = v->offset + v->size;
  }
  buf_printf(b, "}");
}

/* The weights as literals, exact and free of byte order: a form MISRA reviews accept (no
 * union, no string), slow to compile for large models. */
static void emit_literals(const Program *p, Buf *b) {
  const char *m = p->g->model;
  Buf text = {0};
  buf_printf(&text, "/* Generated by reelc from %s; do not edit.  Weights packed in the order the "
             "kernels read them, %lld floats as exact hexadecimal float literals (%s_weights.f)",
             p->g->file, (long long)p->weight_floats, m);
  if (p->weight_halves)
    buf_printf(&text, ", %lld bfloat16 as their bits (%s_weights.h)", (long long)p->weight_halves, m);
  if (p->weight_int8s)
    buf_printf(&text, ", %lld int8 (%s_weights.q)", (long long)p->weight_int8s, m);
  buf_printf(&text, ".  Define REEL_WEIGHTS_ATTR to place them (e.g. "
             "__attribute__((section(\".extflash\")))). */");
  buf_wrap(b, "", text.s, " * ", 100);
  buf_free(&text);
  buf_printf(b, "#include \"%s.h\"\n\n#ifndef REEL_WEIGHTS_ATTR\n#define REEL_WEIGHTS_ATTR\n"
                "#endif\n\nREEL_WEIGHTS_ATTR const %s_weights_t %s_weights = {", m, m, m);
  emit_section(p, WT_F32, p->weight_floats ? p->weight_floats : 1, b);
  if (p->weight_halves) {
    buf_printf(b, ", ");
    emit_section(p, WT_BF16, p->weight_halves, b);
  }
  if (p->weight_int8s) {
    buf_printf(b, ", ");
    emit_section(p, WT_I8, p->weight_int8s, b);
  }
  buf_printf(b, "};\n");
}

void emit_weights(const Program *p, const EmitOptions *opt, Buf *b) {
  if (opt->float_literals) {
    emit_literals(p, b);
    return;
  }
  bool big_endian = opt->big_endian;
  const char *m = p->g->model;
  int64_t chunks = weight_chunks(p), bytes = chunks * WEIGHT_CHUNK;
  Buf text = {0};
  buf_printf(&text, "/* Generated by reelc from %s; do not edit.  Weights packed in the order the "
             "kernels read them, %lld floats", p->g->file, (long long)p->weight_floats);
  if (p->weight_halves)
    buf_printf(&text, ", then %lld bfloat16", (long long)p->weight_halves);
  if (p->weight_int8s)
    buf_printf(&text, ", then %lld int8", (long long)p->weight_int8s);
  buf_printf(&text, ", stored as their %s-endian bytes in string literals of %d bytes (fast to "
             "compile at any size); the code reads them as %s_weights.f%s%s.  Define "
             "REEL_WEIGHTS_ATTR to place them (e.g. __attribute__((section(\".extflash\")))). */",
             big_endian ? "big" : "little", WEIGHT_CHUNK, m, p->weight_halves ? ", .h" : "",
             p->weight_int8s ? ", .q" : "");
  buf_wrap(b, "", text.s, " * ", 100);
  buf_free(&text);
  buf_printf(b, "#include \"%s.h\"\n\n", m);
  byte_order_guard(b, big_endian);
  buf_printf(b, "#ifndef REEL_WEIGHTS_ATTR\n#define REEL_WEIGHTS_ATTR\n#endif\n\n");
  /* The blob is bytes, not text: a NUL then "x12" in it is data, not the
   * mistyped escape that clang-tidy's embedded-NUL check looks for. */
  buf_printf(b, "/* NOLINTBEGIN(bugprone-string-literal-with-embedded-nul): bytes, not text */\n");
  buf_printf(b, "REEL_WEIGHTS_ATTR const %s_weights_t %s_weights = {{\n", m, m);
  unsigned char *blob = calloc((size_t)bytes, 1);
  if (!blob) {
    fprintf(stderr, "reelc: error: out of memory\n");
    exit(1);
  }
  fill_blob(p, big_endian, blob);
  for (int64_t c = 0; c < chunks; c++) {
    for (int i = 0; i < p->nv; i++) { /* the values that start in this chunk */
      const Value *v = &p->v[i];
      if (v->kind != V_WEIGHT || blob_at(p, v) / WEIGHT_CHUNK != c)
        continue;
      char note[2 * MAX_NAME + 64];
      snprintf(note, sizeof note, "/* %s: %lld %s at %lld */", v->name, (long long)v->size,
               v->wtype == WT_F32 ? "floats" : weight_type_name[v->wtype], (long long)v->offset);
      buf_wrap(b, "", note, " * ", 100);
    }
    emit_chunk(b, blob + c * WEIGHT_CHUNK, WEIGHT_CHUNK);
    buf_printf(b, "%s", c + 1 < chunks ? ",\n" : "");
  }
  buf_printf(b, "}};\n/* NOLINTEND(bugprone-string-literal-with-embedded-nul) */\n");
  free(blob);
}
