/* Diagnostics: gcc's format, so editors and CI logs can jump to the spot.
 * Passes never print; they report here and return false. */
#include <stdlib.h>
#include <string.h>

#include "reel.h"

static int error_count;

static void report(Loc at, const char *kind, const char *fmt, va_list ap) {
  if (at.file && at.line > 0)
    fprintf(stderr, "%s:%d:%d: %s: ", at.file, at.line, at.col, kind);
  else if (at.file)
    fprintf(stderr, "%s: %s: ", at.file, kind);
  else
    fprintf(stderr, "reelc: %s: ", kind);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
}

void diag_error(Loc at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report(at, "error", fmt, ap);
  va_end(ap);
  error_count++;
}

void diag_warning(Loc at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report(at, "warning", fmt, ap);
  va_end(ap);
}

void diag_note(Loc at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report(at, "note", fmt, ap);
  va_end(ap);
}

int diag_error_count(void) { return error_count; }

/* Levenshtein distance, for "did you mean" hints on misspelt keys. */
static int edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64)
    return 1000;
  int row[65];
  for (size_t j = 0; j <= lb; j++)
    row[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    int diag = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int up = row[j];
      int best = diag + (a[i - 1] != b[j - 1]);
      if (row[j] + 1 < best)
        best = row[j] + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

/* The candidate closest to word, if it is close enough to be a typo. */
const char *nearest_word(const char *word, const char *const *candidates, int n) {
  /* Close enough: about one edit per four letters, and never the whole word. */
  const char *best = NULL;
  int len = (int)strlen(word);
  int best_d = 2 + len / 4 < len ? 2 + len / 4 : len;
  for (int i = 0; i < n; i++) {
    int d = edit_distance(word, candidates[i]);
    if (d < best_d) {
      best_d = d;
      best = candidates[i];
    }
  }
  return best;
}
