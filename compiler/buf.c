/* Growable text buffer: emitters build a whole file, then write it once. */
#include <stdlib.h>
#include <string.h>

#include "reel.h"

static void reserve(Buf *b, size_t more) {
  if (b->len + more + 1 <= b->cap)
    return;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + more + 1)
    cap *= 2;
  char *s = realloc(b->s, cap);
  if (!s) {
    fprintf(stderr, "reelc: error: out of memory\n");
    exit(1);
  }
  b->s = s;
  b->cap = cap;
}

void buf_append(Buf *b, const char *s, size_t n) {
  reserve(b, n);
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = '\0';
}

void buf_printf(Buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  reserve(b, (size_t)n);
  va_start(ap, fmt);
  vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void buf_free(Buf *b) {
  free(b->s);
  *b = (Buf){0};
}

/* text, starting with indent, broken at spaces into lines of at most
 * `columns` (a word longer than a line stays whole); continuation lines
 * start with cont.  A break after a comma or before "&&" is preferred
 * when it keeps at least half the line. */
void buf_wrap(Buf *b, const char *indent, const char *text, const char *cont, size_t columns) {
  const char *prefix = indent;
  for (;;) {
    size_t room = columns > strlen(prefix) ? columns - strlen(prefix) : 1, len = strlen(text);
    if (len <= room) {
      buf_printf(b, "%s%s\n", prefix, text);
      return;
    }
    size_t cut = 0, good = 0; /* the last space that fits; the last good one */
    for (size_t i = 1; i <= room && i < len; i++)
      if (text[i] == ' ') {
        cut = i;
        if (text[i - 1] == ',' || strncmp(text + i + 1, "&&", 2) == 0)
          good = i;
      }
    if (good > room / 2)
      cut = good;
    if (!cut) { /* no space fits: break at the first one */
      const char *sp = strchr(text, ' ');
      if (!sp) {
        buf_printf(b, "%s%s\n", prefix, text);
        return;
      }
      cut = (size_t)(sp - text);
    }
    buf_printf(b, "%s%.*s\n", prefix, (int)cut, text);
    text += cut + 1;
    prefix = cont;
  }
}
