/* The op table (ops.h's REEL_OPS) as an array, lookup by name, and the
 * check that every descriptor has what the passes call. */
#include <ctype.h>
#include <string.h>

#include "ops.h"

const OpDesc *const op_table[] = {
#define X(desc) &(desc),
    REEL_OPS(X)
#undef X
};
const int op_count = (int)(sizeof op_table / sizeof op_table[0]);

const OpDesc *op_find(const char *name) {
  for (int i = 0; i < op_count; i++)
    if (strcmp(op_table[i]->name, name) == 0)
      return op_table[i];
  return NULL;
}

/* Other names a user may write for an op: PyTorch's module and function
 * names (compared without case) and common aliases. */
static const char *const aliases[][2] = {
    {"swish", "silu"},           {"hard_swish", "hardswish"},     {"hswish", "hardswish"},
    {"hard_sigmoid", "hardsigmoid"}, {"hsigmoid", "hardsigmoid"}, {"leakyrelu", "leaky_relu"},
    {"dense", "linear"},         {"fc", "linear"},                {"conv", "conv2d"},
    {"batchnorm1d", "batchnorm"}, {"batchnorm2d", "batchnorm"},   {"batch_norm", "batchnorm"},
    {"maxpool2d", "maxpool"},    {"max_pool2d", "maxpool"},       {"avgpool2d", "avgpool"},
    {"avg_pool2d", "avgpool"},   {"adaptiveavgpool2d", "global_avgpool"},
    {"adaptive_avg_pool2d", "global_avgpool"}, {"cat", "concat"}, {"multiply", "mul"},
    {"pixelshuffle", "pixel_shuffle"}, {"pixelunshuffle", "pixel_unshuffle"},
    {"conv3d", "temporal_conv"}, {"layer_norm", "layernorm"},   {"group_norm", "groupnorm"},
    {"unflatten", "reshape"},    {"view", "reshape"},         {"interpolate", "upsample"},
    {"upsamplingnearest2d", "upsample"}, {"upsamplingbilinear2d", "upsample"},
    {"convtranspose2d", "conv_transpose2d"},
};

/* PyTorch functions and layers reel does not have: a name among them is
 * not a typo, so it is never "corrected" into a different function. */
static const char *const others[] = {
    "selu",      "celu",        "mish",      "softplus",   "softsign",    "hardtanh",
    "logsigmoid", "log_softmax", "softmin",   "tanhshrink", "hardshrink",  "softshrink",
    "rrelu",     "glu",         "threshold", "instancenorm", "instance_norm", "conv1d",
    "embedding", "multiheadattention", "rnn",
};

OpHint op_hint(const char *name, const char **op) {
  char lower[64];
  size_t n = strlen(name);
  if (n >= sizeof lower)
    return HINT_NONE;
  for (size_t i = 0; i <= n; i++)
    lower[i] = (char)tolower((unsigned char)name[i]);
  *op = NULL;
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (strcmp(lower, aliases[i][0]) == 0)
      return *op = aliases[i][1], HINT_ALIAS;
  const OpDesc *d = op_find(lower);
  if (d)
    return *op = d->name, HINT_CASE;
  for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
    if (strcmp(lower, others[i]) == 0)
      return HINT_OTHER;
  const char *names[sizeof op_table / sizeof op_table[0]];
  for (int i = 0; i < op_count; i++)
    names[i] = op_table[i]->name;
  *op = nearest_word(lower, names, op_count);
  return *op ? HINT_TYPO : HINT_NONE;
}

/* A descriptor the passes would trip over: no name, a required function
 * missing, an optional one its flags need missing, an impossible input
 * count.  Reported as an internal error naming the op. */
bool ops_verify_table(const OpDesc *const *table, int count) {
  bool ok = true;
  for (int i = 0; i < count; i++) {
    const OpDesc *d = table[i];
    const char *wrong = !d->name ? "no name" : !d->keys ? "no keys (\"\": none)"
                        : !d->infer ? "no infer function" : !d->lower ? "no lower function"
                        : !d->interp ? "no interp function"
                        : (d->flags & OP_TEMPORAL) && !d->interp_frame
                            ? "OP_TEMPORAL but no interp_frame function (its ring fills every frame)"
                        : *d->keys && !d->parse ? "keys but no parse function"
                        : d->min_inputs < 0 || d->max_inputs < 1 || d->min_inputs > d->max_inputs ||
                                d->max_inputs > MAX_INPUTS
                            ? "an impossible input count (min_inputs, max_inputs)"
                            : NULL;
    if (wrong) {
      diag_error((Loc){"reelc", 0, 0}, "internal error: op #%d '%s' has %s", i,
                 d->name ? d->name : "?", wrong);
      ok = false;
    }
    for (int j = 0; j < i; j++)
      if (d->name && table[j]->name && strcmp(d->name, table[j]->name) == 0) {
        diag_error((Loc){"reelc", 0, 0}, "internal error: two ops are named '%s'", d->name);
        ok = false;
      }
  }
  return ok;
}

bool ops_verify(void) { return ops_verify_table(op_table, op_count); }

unsigned layer_flags(const Layer *l) {
  unsigned f = l->op->flags;
  return l->bidirectional ? (f & ~(unsigned)(OP_RECURRENT | OP_EVERY_FRAME)) | OP_TEMPORAL : f;
}
