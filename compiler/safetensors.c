/* safetensors: an 8-byte little-endian header length N, N bytes of JSON
 * naming each tensor's dtype, shape and byte range, then the raw data.
 * Every field and offset is checked against the file before it is used;
 * F16 and BF16 are widened to F32 on reading. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reel.h"

enum { MAX_HEADER = 100 * 1024 * 1024 };

/* Every dtype safetensors defines, so any valid file reads; only the float
 * ones can be weights (checked when a layer binds a tensor). */
static const char *const dtype_name[] = {"F32", "F16", "BF16", "F64", "I64", "I32", "I16",
                                         "I8", "U8", "U16", "U32", "U64", "BOOL"};
static const int dtype_size[] = {4, 2, 2, 8, 8, 4, 2, 1, 1, 2, 4, 8, 1};
enum { N_DTYPES = sizeof dtype_size / sizeof dtype_size[0] };

static float f16_to_f32(uint16_t h) {
  int sign = h >> 15, exp = (h >> 10) & 31, frac = h & 1023;
  float mag;
  if (exp == 0)
    mag = ldexpf((float)frac, -24); /* subnormal */
  else if (exp == 31)
    mag = frac ? NAN : INFINITY;
  else
    mag = ldexpf((float)(frac | 1024), exp - 25);
  return sign ? -mag : mag;
}

static float bf16_to_f32(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

static uint64_t load_le(const unsigned char *p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

/* A JSON integer in [0, max]. */
static bool read_u64(const YNode *n, uint64_t max, uint64_t *out) {
  if (n->kind != Y_SCALAR || !n->plain || n->str[0] < '0' || n->str[0] > '9')
    return false;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(n->str, &end, 10);
  if (*end || errno || v > max)
    return false;
  *out = v;
  return true;
}

typedef struct {
  Tensor *t;
  int dtype; /* index into dtype_name */
  uint64_t begin, end;
} Entry;

static int by_begin(const void *a, const void *b) {
  const Entry *x = a, *y = b;
  return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static bool read_entry(Arena *a, const char *path, const YNode *key, const YNode *v,
                       uint64_t data_len, Entry *e) {
  Loc at = {path, 0, 0};
  const char *name = key->str;
  if (v->kind != Y_MAP || v->n != 3 || !yaml_get(v, "dtype") || !yaml_get(v, "shape") ||
      !yaml_get(v, "data_offsets")) {
    diag_error(at, "tensor '%s': expected {\"dtype\", \"shape\", \"data_offsets\"}", name);
    return false;
  }
  const YNode *dt = yaml_get(v, "dtype"), *shape = yaml_get(v, "shape"),
              *offs = yaml_get(v, "data_offsets");
  int d = -1;
  for (int i = 0; i < N_DTYPES && dt->kind == Y_SCALAR; i++)
    if (strcmp(dt->str, dtype_name[i]) == 0)
      d = i;
  if (d < 0) {
    diag_error(at, "tensor '%s': unknown dtype '%s': expected a safetensors dtype such as F32", name,
               dt->kind == Y_SCALAR ? dt->str : "?");
    return false;
  }
  if (shape->kind != Y_SEQ || shape->n > MAX_RANK) {
    diag_error(at, "tensor '%s': shape must be a list of at most %d sizes", name, MAX_RANK);
    return false;
  }
  Tensor *t = arena_alloc(a, sizeof *t);
  t->name = t->saved = name;
  t->loc = at;
  t->shape.rank = shape->n;
  uint64_t numel = 1;
  for (int i = 0; i < shape->n; i++) {
    uint64_t dim;
    if (!read_u64(shape->item[i], MAX_DIM, &dim)) {
      diag_error(at, "tensor '%s': shape[%d] is not a size from 0 to %d", name, i, MAX_DIM);
      return false;
    }
    t->shape.dim[i] = (int)dim;
    numel *= dim;
    if (numel > (uint64_t)MAX_ELEMS) {
      diag_error(at, "tensor '%s' has more than %lld elements", name, (long long)MAX_ELEMS);
      return false;
    }
  }
  uint64_t begin, end;
  if (offs->kind != Y_SEQ || offs->n != 2 || !read_u64(offs->item[0], UINT64_MAX / 2, &begin) ||
      !read_u64(offs->item[1], UINT64_MAX / 2, &end) || begin > end) {
    diag_error(at, "tensor '%s': data_offsets must be [begin, end], integers with begin <= end",
               name);
    return false;
  }
  if (end > data_len) {
    diag_error(at, "tensor '%s' ends at byte %llu of the data, but the file holds %llu: "
               "truncated file", name, (unsigned long long)end, (unsigned long long)data_len);
    return false;
  }
  if (end - begin != numel * (uint64_t)dtype_size[d]) {
    diag_error(at, "tensor '%s': data_offsets span %llu bytes, but %s of %llu elements needs %llu",
               name, (unsigned long long)(end - begin), dtype_name[d], (unsigned long long)numel,
               (unsigned long long)(numel * (uint64_t)dtype_size[d]));
    return false;
  }
  t->dtype = dtype_name[d];
  *e = (Entry){t, d, begin, end};
  return true;
}

/* F32, F16, BF16 and F64 become F32 data, and for inputs (camera frames) U8 too; other
 * dtypes keep data NULL.  Weights must be finite; inputs may hold NaN and infinities. */
static bool convert(Arena *a, const char *path, const unsigned char *data, Entry *e,
                    bool finite) {
  enum { U8 = 8 };
  size_t numel = (size_t)shape_elems(e->t->shape);
  if (e->dtype > 3 && (e->dtype != U8 || finite))
    return true;
  float *out = arena_alloc(a, (numel ? numel : 1) * sizeof *out);
  const unsigned char *p = data + e->begin;
  for (size_t i = 0; i < numel; i++) {
    if (e->dtype == U8) {
      out[i] = p[i];
    } else if (e->dtype == 0) {
      uint32_t bits = (uint32_t)load_le(p + 4 * i, 4);
      memcpy(&out[i], &bits, 4);
    } else if (e->dtype == 3) {
      uint64_t bits = load_le(p + 8 * i, 8);
      double v;
      memcpy(&v, &bits, 8);
      out[i] = (float)v;
    } else {
      uint16_t h = (uint16_t)load_le(p + 2 * i, 2);
      out[i] = e->dtype == 1 ? f16_to_f32(h) : bf16_to_f32(h);
    }
    if (finite && !isfinite(out[i])) {
      diag_error((Loc){path, 0, 0}, "tensor '%s': element %zu is %s: weights must be finite",
                 e->t->name, i, isnan(out[i]) ? "NaN" : "infinite");
      return false;
    }
  }
  e->t->data = out;
  return true;
}

TensorFile *safetensors_read(Arena *a, const char *path, bool finite) {
  Loc at = {path, 0, 0};
  size_t len;
  const unsigned char *bytes = (const unsigned char *)read_file(a, path, &len, at);
  if (!bytes)
    return NULL;
  if (len < 8) {
    diag_error(at, "file of %zu bytes is too short for a safetensors header", len);
    return NULL;
  }
  uint64_t header_len = load_le(bytes, 8);
  if (header_len > MAX_HEADER || header_len > len - 8) {
    diag_error(at, "header length %llu does not fit the file of %zu bytes (limit %d MiB)",
               (unsigned long long)header_len, len, MAX_HEADER >> 20);
    return NULL;
  }
  const char *json = (const char *)bytes + 8;
  size_t skip = 0;
  while (skip < header_len && (json[skip] == ' ' || json[skip] == '\t' || json[skip] == '\n' ||
                               json[skip] == '\r'))
    skip++;
  if (skip == header_len || json[skip] != '{') {
    diag_error(at, "header is not a JSON object");
    return NULL;
  }
  const char *header_file = arena_printf(a, "%s(header)", path);
  YNode *root = yaml_load(a, header_file, json, (size_t)header_len);
  if (!root)
    return NULL;
  if (root->kind != Y_MAP) {
    diag_error(at, "header is not a JSON object");
    return NULL;
  }
  const unsigned char *data = bytes + 8 + header_len;
  uint64_t data_len = len - 8 - header_len;

  TensorFile *f = arena_alloc(a, sizeof *f);
  f->path = path;
  f->t = arena_alloc(a, (size_t)(root->n + 1) * sizeof *f->t);
  Entry *entry = arena_alloc(a, (size_t)(root->n + 1) * sizeof *entry);
  for (int i = 0; i < root->n; i++) {
    const YNode *key = root->item[2 * (size_t)i], *v = root->item[2 * (size_t)i + 1];
    if (strcmp(key->str, "__metadata__") == 0)
      continue;
    if (strlen(key->str) == 0 || strlen(key->str) > MAX_NAME) {
      diag_error(at, "tensor name of %zu bytes: expected 1 to %d", strlen(key->str), MAX_NAME);
      return NULL;
    }
    if (!read_entry(a, path, key, v, data_len, &entry[f->n]))
      return NULL;
    f->n++;
  }
  /* Tensors must tile the data section exactly: no gaps, no overlaps. */
  qsort(entry, (size_t)f->n, sizeof *entry, by_begin);
  uint64_t pos = 0;
  for (int i = 0; i < f->n; i++) {
    if (entry[i].begin != pos) {
      diag_error(at, "tensor '%s' starts at byte %llu of the data, expected %llu: tensors must "
                 "be contiguous and must not overlap", entry[i].t->name,
                 (unsigned long long)entry[i].begin, (unsigned long long)pos);
      return NULL;
    }
    pos = entry[i].end;
  }
  if (pos != data_len) {
    diag_error(at, "the tensors cover %llu bytes of data, but the file holds %llu: truncated or "
               "padded file", (unsigned long long)pos, (unsigned long long)data_len);
    return NULL;
  }
  for (int i = 0; i < f->n; i++) {
    if (!convert(a, path, data, &entry[i], finite))
      return NULL;
    f->t[i] = *entry[i].t;
  }
  return f;
}

Tensor *tensors_find(TensorFile *f, const char *name) {
  for (int i = 0; f && i < f->n; i++)
    if (strcmp(f->t[i].name, name) == 0)
      return &f->t[i];
  return NULL;
}

/* F32 only, tensors in the order given, header padded to 8 bytes as the
 * reference writer does. */
bool safetensors_write(const char *path, const Tensor *t, int n) {
  Buf h = {0};
  uint64_t pos = 0;
  buf_printf(&h, "{");
  for (int i = 0; i < n; i++) {
    uint64_t bytes = (uint64_t)shape_elems(t[i].shape) * 4;
    buf_printf(&h, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[", i ? "," : "", t[i].name);
    for (int d = 0; d < t[i].shape.rank; d++)
      buf_printf(&h, "%s%d", d ? "," : "", t[i].shape.dim[d]);
    buf_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)pos,
               (unsigned long long)pos + (unsigned long long)bytes);
    pos += bytes;
  }
  buf_printf(&h, "}");
  while (h.len % 8)
    buf_printf(&h, " ");
  size_t total = 8 + h.len + (size_t)pos;
  unsigned char *out = malloc(total);
  if (!out) {
    buf_free(&h);
    diag_error((Loc){path, 0, 0}, "out of memory");
    return false;
  }
  for (int i = 0; i < 8; i++)
    out[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
  memcpy(out + 8, h.s, h.len);
  unsigned char *p = out + 8 + h.len;
  for (int i = 0; i < n; i++)
    for (int64_t j = 0; j < shape_elems(t[i].shape); j++) {
      uint32_t bits;
      memcpy(&bits, &t[i].data[j], 4);
      for (int b = 0; b < 4; b++)
        *p++ = (unsigned char)(bits >> (8 * b));
    }
  bool ok = write_file(path, out, total);
  free(out);
  buf_free(&h);
  return ok;
}
