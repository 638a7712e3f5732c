/* The op table and the op interface.  Every spec op has one descriptor
 * (OpDesc) in its family file under compiler/ops/, carrying its flags and
 * its functions: parse its keys, infer its output shape and parameters,
 * lower it to kernel calls, run it in the reference interpreter.  The
 * passes walk the graph and call descriptors; they do not switch on ops.
 * Adding an op: its descriptor in its family file, its row below, its
 * kernels (runtime/, kernels.h), its tests and docs (docs/internals.md).
 *
 * The rest of this header is what an op's functions may call, sectioned by
 * the file that defines it. */
#ifndef REEL_OPS_H
#define REEL_OPS_H

#include "reel.h"

/* The op table: one row per op, X(descriptor), in the order `reelc`
 * lists them.  A row without a descriptor is a link error; a descriptor
 * without a required function fails ops_verify() at every start. */
#define REEL_OPS(X)                                                                               \
  X(op_linear)                                                                                    \
  X(op_relu)                                                                                      \
  X(op_relu6)                                                                                     \
  X(op_leaky_relu)                                                                                \
  X(op_sigmoid)                                                                                   \
  X(op_tanh)                                                                                      \
  X(op_gelu)                                                                                      \
  X(op_silu)                                                                                      \
  X(op_hardswish)                                                                                 \
  X(op_hardsigmoid)                                                                               \
  X(op_elu)                                                                                       \
  X(op_prelu)                                                                                     \
  X(op_softmax)                                                                                   \
  X(op_dropout)                                                                                   \
  X(op_lstm)                                                                                      \
  X(op_gru)                                                                                       \
  X(op_conv2d)                                                                                    \
  X(op_conv_transpose2d)                                                                          \
  X(op_batchnorm)                                                                                 \
  X(op_layernorm)                                                                                 \
  X(op_groupnorm)                                                                                 \
  X(op_maxpool)                                                                                   \
  X(op_avgpool)                                                                                   \
  X(op_global_avgpool)                                                                            \
  X(op_flatten)                                                                                   \
  X(op_reshape)                                                                                   \
  X(op_add)                                                                                       \
  X(op_mul)                                                                                       \
  X(op_concat)                                                                                    \
  X(op_pixel_shuffle)                                                                             \
  X(op_pixel_unshuffle)                                                                           \
  X(op_upsample)                                                                                  \
  X(op_convlstm)                                                                                  \
  X(op_convgru)                                                                                   \
  X(op_attention)                                                                                 \
  X(op_mha)                                                                                       \
  X(op_temporal_pool)                                                                             \
  X(op_temporal_conv)

typedef struct Lowering Lowering;
typedef struct Interp Interp;

/* Flags: what the passes need to know of an op without running it. */
enum {
  OP_WEIGHTED = 1 << 0,      /* has parameters: needs a `name`, their prefix */
  OP_RECURRENT = 1 << 1,     /* keeps h (and c) per stacked layer across frames, named
                                "<name>_h<k>" ("_c<k>"); may take init_state */
  OP_EVERY_FRAME = 1 << 2,   /* must run every frame (recurrent ops, attention) */
  OP_ALIAS = 1 << 3,         /* its output is its input, unchanged (dropout, flatten) */
  OP_TEMPORAL = 1 << 4,      /* pools or convolves over frames: with `frames` it runs when
                                its window closes, without (a clip pool) once per clip read */
  OP_EPILOGUE = 1 << 5,      /* an activation after it can be fused into its store */
  OP_FOLDS_NORM = 1 << 6,    /* a norm after it can be folded into its weights */
  OP_NORM = 1 << 7,          /* a per-channel affine norm that OP_FOLDS_NORM ops absorb */
  OP_READS_WINDOWS = 1 << 8, /* may read another chain's layer through its window */
  OP_OWN_WINDOW = 1 << 9,    /* keeps its own window of what it makes of its input's window
                                (mha's projected keys): that raw window need not be stored */
  OP_MATRICES = 1 << 10,     /* has weight matrices or filters (Param.compress) that its
                                `weight_type` or --weight-type stores compressed */
};

struct OpDesc {
  const char *name;  /* `op: NAME` in a spec */
  const char *keys;  /* the keys it accepts besides op, name, from and window */
  const char *extra; /* tensors a weight file may hold for it that it ignores
                        (suffixes after "<name>."), or NULL */
  unsigned flags;
  int min_inputs, max_inputs; /* how many layers it reads (from: or the previous one) */

  /* spec.c: its keys into l (defaults first); NULL only if it has none */
  bool (*parse)(const YNode *n, Layer *l);
  /* optional: an input count min/max cannot express, checked after them */
  bool (*check_inputs)(const Graph *g, Layer *l, Loc at);
  /* optional: layers it names, resolved once every layer is known */
  bool (*resolve)(Graph *g, Layer *l);
  /* shape.c: l->out_shape, its parameters (add_param) and MACs, from l->in_shape */
  bool (*infer)(Arena *a, Graph *g, Layer *l);
  /* optional: an activation's REEL_ACT_* code and parameter, for fusion */
  int (*activation)(const Layer *l, float *alpha);
  /* lower.c: its calls; returns the value holding its output */
  int (*lower)(Lowering *lw, int li);
  /* optional: a layer that runs per clip read but folds each frame in (a clip pool) */
  void (*lower_frame)(Lowering *lw, int li);
  /* interp.c: optional state and scratch; then one run into in->s[li].y */
  void (*interp_init)(Interp *in, int li);
  void (*interp)(Interp *in, int li);
  /* optional: every frame, before the layer's rate decides whether it runs */
  void (*interp_frame)(Interp *in, int li);
  /* optional, weights.c: what a tensor "<name>.<suffix>" the layer does not
   * read says about the PyTorch module (a variant the spec lacks), or NULL */
  const char *(*explain_tensor)(Arena *a, const Layer *l, const char *suffix);
};

#define X(desc) extern const OpDesc desc;
REEL_OPS(X)
#undef X

extern const OpDesc *const op_table[];
extern const int op_count;
const OpDesc *op_find(const char *name); /* NULL: no such op */
/* The flags of layer l: its op's, but a bidirectional lstm or gru runs per window, like a
 * windowed temporal op, instead of stepping every frame. */
unsigned layer_flags(const Layer *l);
/* What an unknown op name is: another name of *op (PyTorch's, or an alias),
 * *op in other case, a PyTorch function reel does not have, a typo of *op,
 * or nothing known. */
typedef enum { HINT_NONE, HINT_ALIAS, HINT_CASE, HINT_OTHER, HINT_TYPO } OpHint;
OpHint op_hint(const char *name, const char **op);
bool ops_verify(void); /* every descriptor whole: an internal error otherwise */
bool ops_verify_table(const OpDesc *const *table, int count);

/* ---- spec.c: typed field readers; each reports the field, what it
 * expected and what it found ---- */
const char *describe(const YNode *n);
const YNode *require(const YNode *map, const char *key, const char *where);
bool read_int(const YNode *n, const char *field, long min, long max, int *out);
bool read_bool(const YNode *n, const char *field, bool *out);
bool read_number(const YNode *n, const char *field, double min, double max, double *out);
bool read_choice(const YNode *n, const char *field, const char *const *names, int count, int *out);
bool read_pair(const YNode *n, const char *field, int min, int *a, int *b);
/* N | [rows, cols] | same | valid, and with sides [top, bottom, left, right] */
bool read_padding(const YNode *n, Layer *l, bool sides);
bool read_ref(const YNode *n, const char *field, const char **name, Loc *at);
int find_layer(const Graph *g, const char *name, int before); /* -2: none */
void add_ref(Layer *l, int layer); /* a layer l reads by name: it counts as a reader */

/* ---- shape.c: parameters and checks ---- */
static inline Shape vec(int n) { return (Shape){1, {n}}; }
static inline Shape mat(int r, int c) { return (Shape){2, {r, c}}; }
static inline Shape chw(int c, int h, int w) { return (Shape){3, {c, h, w}}; }
static inline Shape oihw(int o, int i, int h, int w) { return (Shape){4, {o, i, h, w}}; }
Param *add_param(Arena *a, Layer *l, Shape s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "OP 'NAME' <msg>, got <input shape>" at the layer; false */
bool shape_error(Arena *a, const Layer *l, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool need_rank(Arena *a, const Layer *l, int rank);
bool fits(const Layer *l, int64_t elems, const char *what); /* below MAX_ELEMS */
Shape layer_shape(const Graph *g, int src);                 /* -1: the model input */
int window_out(int in, int pad_lo, int pad_hi, int k, int s, int d, bool ceil_mode);

/* ---- lower.c: building a Program ---- */
typedef struct {
  int call, arg, layer;
} Fixup; /* an argument that is a recurrent layer's h, lowered after the call */

struct Lowering {
  Arena *a;
  Program *p;
  const Graph *g;
  WeightType wtype; /* the layer being lowered: how its compressible tensors are stored */
  int *out;    /* per layer: the value holding its output */
  int *ring;   /* per layer: the value holding its window, or -1 */
  bool avx2;   /* --target avx2 */
  Guard guard; /* stamped on new calls */
  int gate;
  int frame;    /* the model's float frame: the input (value 0), or its conversion */
  int feedback; /* the forecast's fed-back frame, or -1 */
  Fixup *fixup;
  int n_fixup;
  bool *rerun; /* per temporal layer: its gated calls copied for a partial window */
};

int add_value(Lowering *lw, ValueKind kind, int layer, int64_t size, const char *name);
/* A V_STATE value; role names it in comments ("h", "c", "window", ...). */
int add_state(Lowering *lw, int layer, int64_t size, const char *name, const char *role);
/* A call of op for layer (sublayer k of a stack, or -1) on nargs value
 * arguments and ndims dimensions, in the kernel signature's order. */
Call *add_call(Lowering *lw, KernelOp op, int layer, int sublayer, const int *arg, int nargs,
               const int *dim, int ndims);
float *weight_data(Lowering *lw, int v, bool bound); /* NULL when unbound (check, info) */
int weight_copy(Lowering *lw, int layer, const Param *param, const char *name);
const char *vname(Lowering *lw, const Layer *l, const char *what, int k); /* "<layer>_<what><k>" */
int input_value(Lowering *lw, const Layer *l, int k);
/* Where a pointwise layer writes: over its first input when that is a
 * transient nobody else reads, else a new transient of `size` floats. */
int inplace_output(Lowering *lw, int li, int64_t size);
int state_value(Lowering *lw, int li, const char *what, int k);
int fused_act(const Lowering *lw, const Layer *l, float *alpha); /* REEL_ACT_* fused into l */
Call *gemv_call(Lowering *lw, int li, const char *name, const Param *w, const Param *b, int y,
                int x);
/* The weight value (and *bias, or -1) of y = W x + b as the target's gemv reads them. */
int gemv_weights(Lowering *lw, int li, const char *name, const Param *w, const Param *b, int *bias);
/* The weight value [W_ih | W_hh] (and *bias, b_ih + b_hh) of a gemv_cat2 over [x; h]. */
int gate_weights(Lowering *lw, int li, const char *name, const Param *wih, const Param *whh,
                 const Param *bih, const Param *bhh, int *bias);
/* A fused AVX2 cell step's weight value w compressed: *wih and *whh (NULL when unbound) become
 * quantized copies, and int8 scales go per block of 8 units, the gate rows' of W_ih [gates][8]
 * then of W_hh [gates][8]. */
void compress_cell_weights(Lowering *lw, int li, int w, const float **wih, const float **whh,
                           int in, int H, int gates);
Geom cell_geom(int in_c0, int in_c1, int rows, int cols, int out_c, int k);
Call *conv_call(Lowering *lw, int li, int sub, const char *wname, const float *wt, int b, int y,
                int x0, int x1, Geom geom);
int window_ring(Lowering *lw, int li, int x, int n, const char *what);
/* The forecast prologue's copy of layer li's init_state encoder state into
 * its own h[k] (and c[k], where c is not NULL) per stacked layer. */
void hand_over_state(Lowering *lw, int li, const int *h, const int *c);
Call *repeat_call(Lowering *lw, int c); /* call c again, under the current guard */

/* ---- interp.c: the reference interpreter's state ---- */
typedef struct {
  double *h[MAX_STACK], *c[MAX_STACK]; /* recurrent state per stacked layer */
  int64_t state_size[MAX_STACK];       /* floats in h[k] and c[k] (c may be NULL) */
  double *y;       /* this layer's output for the current frame */
  double *work;    /* the op's temporaries, reused each step */
  double *ring;    /* `window`: the last outputs; a windowed temporal op: the last inputs */
  double *acc;     /* a clip pool's running max, sum or concatenation */
  double *weights; /* attention: the last softmax, as reported */
  int n_weights;
} LayerState;

struct Interp {
  Arena *a;
  const Graph *g;
  LayerState *s;
  const double *input;  /* the current frame */
  double *feedback;     /* a forecast's input: the last frame, then its own output */
  uint64_t frames; /* since reset, the current one included */
};

double *interp_zeros(Arena *a, int64_t n);
const double *interp_input(const Interp *in, const Layer *l, int k);
void interp_layer(Interp *in, int li); /* run layer li now */
double interp_sigmoid(double x);
void interp_matvec(double *y, const float *w, const float *b, const double *x, int rows, int cols);
void interp_conv(double *y, bool accumulate, const double *x0, int c0, const double *x1, int c1,
                 int h, int w, const float *wt, const float *b, int out_c, int oh, int ow,
                 const Window *win, int groups);
void interp_pool(double *y, const double *x, int c, int h, int w, int oh, int ow,
                 const Window *win, bool max);
Window same_window(int k); /* k x k, stride 1, padding k/2 */
int ring_valid(const Interp *in, int n);        /* entries of a ring of n holding frames */
int ring_slot(const Interp *in, int n, int age); /* the slot of the entry `age` frames old */
void ring_push(double *ring, const double *x, int64_t size, int n, uint64_t frames);
bool window_closes(const Interp *in, const Layer *t);

/* ---- ops/bidirectional.c: lstm and gru with `bidirectional: true` (recurrent.c calls) ---- */
bool parse_bidirectional(const YNode *n, Layer *l);
bool infer_bidirectional(Arena *a, Graph *g, Layer *l);
int lower_bidirectional(Lowering *lw, int li);
void interp_init_bidirectional(Interp *in, int li);
void interp_bidirectional_frame(Interp *in, int li);
void interp_bidirectional(Interp *in, int li);

/* ---- ops/recurrent.c: shared by the recurrent families ---- */
/* hidden: H | [H_0, ..., H_{L-1}] with layers: L */
bool read_hidden(const YNode *n, Layer *l, const char *what);

#endif
