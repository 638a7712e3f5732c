/* Whole-file reads, and writes that never leave a partial file behind. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reel.h"

char *read_file(Arena *a, const char *path, size_t *len, Loc at) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    diag_error(at, "cannot open '%s': %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (!buf) {
      (void)fclose(f); /* read only: nothing a failed close could lose */
      diag_error(at, "'%s' is too large to read into memory", path);
      return NULL;
    }
    n += fread(buf + n, 1, cap - n - 1, f);
    if (n < cap - 1)
      break;
    cap *= 2;
    char *grown = realloc(buf, cap);
    if (!grown)
      free(buf);
    buf = grown;
  }
  bool failed = ferror(f);
  (void)fclose(f); /* read only: ferror above caught any read error */
  if (failed) {
    free(buf);
    diag_error(at, "cannot read '%s'", path);
    return NULL;
  }
  char *out = arena_alloc(a, n + 1);
  memcpy(out, buf, n);
  free(buf);
  *len = n;
  return out;
}

/* Writes to PATH.tmp, then renames: readers see the old file or the new. */
bool write_file(const char *path, const void *data, size_t len) {
  size_t n = strlen(path);
  char *tmp = malloc(n + 5);
  if (!tmp) {
    diag_error((Loc){path, 0, 0}, "out of memory");
    return false;
  }
  memcpy(tmp, path, n);
  memcpy(tmp + n, ".tmp", 5);
  FILE *f = fopen(tmp, "wb");
  bool ok = f && fwrite(data, 1, len, f) == len;
  if (f && fclose(f) != 0)
    ok = false;
  if (ok && rename(tmp, path) != 0)
    ok = false;
  if (!ok) {
    diag_error((Loc){path, 0, 0}, "cannot write: %s", strerror(errno));
    (void)remove(tmp); /* best effort: the error above is the one to report */
  }
  free(tmp);
  return ok;
}
