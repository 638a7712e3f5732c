/* The kernel table (kernels.h) as an array, and the reading of its
 * signatures, which add_call checks every call against. */
#include <string.h>

#include "reel.h"

const KernelInfo kernel_info[K_COUNT] = {
#define X(e, name, symbol, file, isas, signature) {name, symbol, file, isas, signature},
    REEL_KERNELS(X)
#undef X
};

/* The next token of a signature at *s, copied into tok; false at the end. */
bool signature_next(const char **s, char *tok, size_t size) {
  const char *p = *s;
  while (*p == ' ')
    p++;
  if (!*p)
    return false;
  size_t n = strcspn(p, " ");
  snprintf(tok, size, "%.*s", (int)n, p);
  *s = p + n;
  return true;
}

/* What a signature token takes from a call. */
SigKind signature_kind(const char *tok) {
  if (tok[0] == '#' || strcmp(tok, "mode") == 0)
    return SIG_DIM;
  if (tok[0] == '&' || strcmp(tok, "act") == 0 || strcmp(tok, "alpha") == 0 ||
      strcmp(tok, "eps") == 0 ||
      strcmp(tok, "frames") == 0 || strcmp(tok, "seen") == 0 || strcmp(tok, "parity") == 0)
    return SIG_OTHER;
  return SIG_VALUE;
}

void kernel_arity(KernelOp op, int *values, int *optional, int *dims) {
  char tok[32];
  *values = *optional = *dims = 0;
  for (const char *s = kernel_info[op].signature; signature_next(&s, tok, sizeof tok);) {
    SigKind k = signature_kind(tok);
    *values += k == SIG_VALUE;
    *optional += k == SIG_VALUE && tok[0] == '[';
    *dims += k == SIG_DIM;
  }
}
