/* reel: the compiler's one internal header.  Sections are labelled by the
 * file that defines them; main.c reads like the pipeline:
 *
 *   spec.yaml -> ytree (yaml.c) -> Graph (spec.c) -> shapes + params (shape.c)
 *   weights.safetensors (safetensors.c) -> bound to params (weights.c)
 *   Graph -> Program: kernel calls + values (lower.c) -> arena plan (plan.c)
 *   Program -> C99 (emit_c.c);  Graph -> outputs directly (interp.c)
 */
#ifndef REEL_H
#define REEL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kernels.h"
#include "reel_runtime.h" /* the constants the compiler and the kernels share */

/* Hard limits, checked where input is read so no product can overflow. */
enum {
  MAX_RANK = 5,          /* dims of a parameter tensor (temporal_conv: 5) or a clip */
  MAX_DIM = 1 << 20,     /* any single dimension */
  MAX_LAYERS = 1024,     /* layers in a spec */
  MAX_STACK = 64,        /* layers inside one recurrent stack */
  MAX_NAME = 128,        /* bytes in a tensor name */
  MAX_LAYER_NAME = 96,   /* bytes in a layer name: room for '.weight_ih_l63' */
  MAX_DEPTH = 32,        /* YAML/JSON nesting */
  MAX_WINDOW = 4096,     /* frames a window or temporal op keeps */
  STACK_BOUND = 2048,    /* bytes of stack generated code needs at most (generated.test) */
  DEFAULT_MAX_STREAMS = 16, /* streams per m_step_many batch (--max-streams) */
  MAX_STREAMS_LIMIT = 1024, /* the most --max-streams allows: 40 KiB of pointers on the stack */
};
#define MAX_ELEMS ((int64_t)1 << 31) /* elements in one tensor */

/* ---- arena.c: bump allocation; everything a compilation makes is freed
 * at once, so error paths cannot leak. ---- */
typedef struct ArenaBlock ArenaBlock;
typedef struct {
  ArenaBlock *head;
} Arena;

void *arena_alloc(Arena *a, size_t size); /* zeroed; exits on OOM */
char *arena_strdup(Arena *a, const char *s);
char *arena_printf(Arena *a, const char *fmt, ...);
void arena_free(Arena *a);

/* ---- diag.c: every message names a place: file:line:col, or file. ---- */
typedef struct {
  const char *file;
  int line, col; /* 1-based; 0 = the whole file */
} Loc;

void diag_error(Loc at, const char *fmt, ...);
void diag_note(Loc at, const char *fmt, ...);
void diag_warning(Loc at, const char *fmt, ...);
int diag_error_count(void);
const char *nearest_word(const char *word, const char *const *candidates, int n);

/* ---- files.c ---- */
char *read_file(Arena *a, const char *path, size_t *len, Loc at);
bool write_file(const char *path, const void *data, size_t len); /* atomic */

/* ---- buf.c: growable text, for emitters ---- */
typedef struct {
  char *s;
  size_t len, cap;
} Buf;

void buf_printf(Buf *b, const char *fmt, ...);
void buf_append(Buf *b, const char *s, size_t n);
void buf_free(Buf *b);
void buf_wrap(Buf *b, const char *indent, const char *text, const char *cont, size_t columns);

/* ---- yaml.c: a YAML (or JSON) document as a tree with source marks ---- */
typedef enum { Y_SCALAR, Y_MAP, Y_SEQ } YKind;

typedef struct YNode YNode;
struct YNode {
  YKind kind;
  Loc loc;
  const char *str; /* scalar text */
  bool plain;      /* scalar was unquoted: only plain scalars are numbers */
  YNode **item;    /* map: key0, value0, key1, value1, ...; seq: items */
  int n;           /* map: pairs; seq: items */
};

YNode *yaml_load(Arena *a, const char *file, const char *text, size_t len);
YNode *yaml_get(const YNode *map, const char *key);
const char *yaml_kind_name(const YNode *n);

/* ---- spec.c: the spec's layers, as written ---- */
typedef struct OpDesc OpDesc; /* an op's rules and functions: ops.h */

typedef enum { CLIP_NONE, CLIP_MEAN, CLIP_MAX, CLIP_LAST, CLIP_WEIGHTED } Clip;
extern const char *const clip_name[];

typedef enum { PEEPHOLE_NONE, PEEPHOLE_DIAGONAL, PEEPHOLE_CHANNEL, PEEPHOLE_SPATIAL } Peephole;
extern const char *const peephole_name[];

typedef enum { PHASE_STEP, PHASE_FORECAST } Phase;

/* How often a layer runs: every frame, when the window of a temporal op
 * closes, or once per clip read (after a clip temporal_pool). */
typedef enum { RATE_FRAME, RATE_WINDOW, RATE_CLIP } Rate;

typedef enum { SCORE_DOT, SCORE_GENERAL, SCORE_ADDITIVE, SCORE_LOCATION, SCORE_LINEAR } Score;
extern const char *const score_name[];

extern const char *const tpool_name[]; /* by REEL_TPOOL_* */

typedef struct {
  int rank;
  int dim[MAX_RANK];
} Shape;

/* How --random-weights fills a parameter: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
 * as PyTorch initialises weights and biases, or near a norm's statistics. */
typedef enum { INIT_FAN_IN, INIT_NEAR_ONE, INIT_NEAR_ZERO } ParamInit;

/* A parameter tensor a layer needs, by its PyTorch state_dict name. */
typedef struct {
  const char *name;
  const char *alias; /* another state_dict name PyTorch gives it (nn.LSTMCell's), or NULL */
  bool zero;         /* the PyTorch module has none (bias=False): zeros, not in the weights */
  Shape shape;
  const float *data; /* bound by weights.c; NULL for check/info */
  ParamInit init;
  int64_t fan_in;    /* INIT_FAN_IN */
  bool compress;     /* a weight matrix or filter: stored as its layer's weight_type says */
} Param;

/* Convolution and pooling geometry, PyTorch's conventions. */
typedef struct {
  int kh, kw, sh, sw, dh, dw;
  int pad_top, pad_bottom, pad_left, pad_right;
  bool ceil_mode, count_include_pad;
} Window;

enum { MAX_INPUTS = MAX_STACK, MAX_REFS = 4 };

typedef struct {
  const OpDesc *op;
  const char *name;  /* weight prefix; generated as "<op><index>" if absent */
  const char *cname; /* name as a C identifier fragment */
  bool named;
  Loc loc;
  Phase phase;
  int input[MAX_INPUTS]; /* producing layers; -1 = the model input */
  int n_input;           /* 0: the first forecast layer, which has no input */
  Loc from_loc;
  int ref[MAX_REFS]; /* layers it reads by name (attention's query, values): readers too */
  int n_ref;

  int out;       /* linear, conv2d; mha: the embedding size */
  bool bias;     /* linear, conv2d, lstm, gru, mha */
  int groups;    /* conv2d */
  Window win;    /* conv2d, pools */
  bool same_pad; /* conv2d padding: same, resolved against the input shape */
  int hidden[MAX_STACK]; /* lstm, gru, convlstm, convgru: per stacked layer */
  int stack;             /* `layers:` */
  int kernel;            /* convlstm, convgru */
  Peephole peephole;
  bool concat_output; /* convlstm `output: concat` */
  int init_state;     /* convlstm in a forecast: the layer whose state it starts from, or -1 */
  bool rcn;           /* convgru with one input per stacked layer (GRU-RCN) */
  int window;         /* `window: N`: the context keeps the last N outputs; 0 = none */
  int init_from;      /* lstm: the layer its first-frame state is computed from, or -1 */

  /* attention: keys from input[0] (a window or a [D, H, W] map) */
  Score score;
  bool scale;             /* scores / sqrt(key_dim) */
  int query;              /* the query's layer, or -1: learned, or none (score linear) */
  bool query_learned;     /* `query: learned`: a trained vector, <name>.query */
  bool query_prev;        /* the query is that recurrent layer's h of the previous step */
  int values;             /* values' layer, or -1: the keys */
  const char *query_name, *values_name, *init_from_name; /* resolved after parsing */
  Loc query_loc, values_loc, init_from_loc;
  int keys_n, key_dim, value_dim; /* shape.c */
  bool keys_map;                  /* keys are the positions of a map, not a window */
  int heads;                      /* mha */
  bool key_padding;               /* mha: unfilled window slots take no part (else zeros) */

  /* temporal_pool, temporal_conv */
  int tmode;   /* REEL_TPOOL_* */
  int frames;  /* the window in frames; 0: a clip pool (a bidirectional lstm / gru's too) */
  int tstride; /* frames between window starts */
  int count;   /* temporal_pool concat: values kept; prelu: num_parameters */
  Rate rate;   /* shape.c */
  int gate;    /* RATE_WINDOW: the temporal layer whose window closing runs this one */
  double p, eps;
  double alpha; /* an activation's parameter: leaky_relu's negative_slope, elu's alpha */
  bool tanh_form; /* gelu: approximate: tanh */
  int factor; /* pixel (un)shuffle */
  int out_pad_h, out_pad_w; /* conv_transpose2d: output_padding */
  int proj;      /* lstm: proj_size, the size of h (0: none, h is hidden) */
  bool bidirectional; /* lstm, gru: over windows of `frames` every `tstride` (bidirectional.c) */
  Shape reshape; /* reshape: the shape asked for, one dim may be -1 (inferred) */
  bool affine;   /* layernorm, groupnorm: a learned scale and shift */
  struct {       /* upsample: the output size, and F.interpolate's scale factors (0: from size) */
    int h, w;
    double scale_h, scale_w;
    bool bilinear, align_corners;
  } resize;
  int dims;      /* layernorm: trailing dims normalised over (0: all) */
  int weight_type; /* OP_MATRICES ops: how its matrices are stored (WeightType), -1 until set */

  Shape in_shape, out_shape; /* shape.c; in_shape of the first input */
  Param *param;              /* shape.c */
  int n_param;
  int64_t macs;      /* multiply-adds per step, shape.c */
  int consumers;     /* layers reading this one, +1 if it is a phase output (shape.c) */
  int fused_into;    /* fuse.c: the conv layer that computes this one, or -1 */
  int fused_bn, fused_act; /* fuse.c, on a conv or linear: absorbed layers, or -1 */
} Layer;

/* How m_step takes a frame (spec `input:`): its element type and memory layout, and the
 * normalisation that gives the model's float frame x[c] = (in[c] scale - mean[c]) / std[c]
 * (torchvision's ToTensor and Normalize). */
typedef struct {
  bool u8;            /* dtype: uint8 */
  bool hwc;           /* layout: hwc, channel-last bytes as a camera gives them */
  double scale;       /* 1/255 for uint8, 1 for float32, or `scale:` */
  double *mean, *std; /* per channel (input.dim[0]); NULL: 0 and 1 */
  bool folded;        /* fuse.c: the normalisation lives in the first conv's weights */
} InputFormat;

typedef struct {
  const char *file;
  const char *model; /* C prefix */
  Shape input;
  InputFormat in_fmt;
  Layer *layer; /* the step chain, then the forecast chain */
  int n_layer;
  int n_step_layers;  /* layers [0, n) run per frame; the rest per forecast step */
  int forecast_steps; /* 0: no forecast phase */
  bool per_frame, per_frame_set;
  bool clip_head;     /* the last layer runs per clip: clip() evaluates it */
  bool feedback;      /* the forecast chain reads its own previous output */
  Clip clip;
  Loc loc_model, loc_input, loc_output, loc_forecast;
} Graph;

/* Whether frames need converting to the model's float CHW frame: a dtype, layout or scale. */
bool input_converted(const Graph *g);

Graph *spec_parse(Arena *a, const char *file, const char *text, size_t len);
Graph *spec_load(Arena *a, const char *path); /* reads the file, then parses */

/* ---- shape.c: shapes, parameters, costs ---- */
bool infer_shapes(Arena *a, Graph *g);
int64_t shape_elems(Shape s);
const char *shape_str(Arena *a, Shape s);
int graph_out_size(const Graph *g);          /* floats per frame from step() */
const Layer *forecast_output(const Graph *g); /* NULL without a forecast phase */
const Param *find_param(const Layer *l, const char *fmt, int k);

/* ---- fuse.c: batch norms and activations folded into the conv before ---- */
void fuse_layers(Graph *g);

/* ---- safetensors.c: the file format ---- */
typedef struct {
  const char *name;  /* after --strip-prefix */
  const char *saved; /* as the file has it */
  const char *dtype;
  Shape shape;
  float *data; /* converted to f32; NULL for integer dtypes */
  bool used;
  Loc loc;     /* the tensor's entry in the JSON header */
} Tensor;

typedef struct {
  const char *path;
  Tensor *t;
  int n;
} TensorFile;

/* finite: NaN and infinities are an error (weights), else kept (inputs). */
TensorFile *safetensors_read(Arena *a, const char *path, bool finite);
Tensor *tensors_find(TensorFile *f, const char *name);
bool safetensors_write(const char *path, const Tensor *t, int n);

/* ---- weights.c: binding a weight file (or random weights) to params ---- */
/* How a state_dict saved as it was is read: prefixes to strip from every
 * name (a DataParallel's "module."), in order, each at most once; and
 * whether tensors no layer reads are a warning rather than an error. */
typedef struct {
  const char *const *strip;
  int n_strip;
  bool allow_unused;
} WeightOptions;
bool bind_weights(Arena *a, Graph *g, TensorFile *f, const WeightOptions *o);
void bind_random_weights(Arena *a, Graph *g, uint64_t seed);
int64_t graph_param_floats(const Graph *g);

/* ---- lower.c: Graph -> Program of kernel calls over values ---- */
typedef enum {
  V_INPUT,     /* the frame passed to step() */
  V_TRANSIENT, /* lives in the arena between first and last use */
  V_STATE,     /* recurrent state, lives in the context across steps */
  V_WEIGHT,    /* packed constant */
} ValueKind;

typedef struct {
  ValueKind kind;
  const char *name; /* C identifier fragment */
  const char *role;  /* V_STATE, for comments: "hidden state", "window of past frames", ... */
  const char *about; /* attention: how its floats are ordered, for the header */
  int64_t size;     /* floats */
  int first, last;  /* call indices of first definition and last use */
  int64_t offset;   /* floats into the arena (plan.c); elements into its type's section of the
                       weights (lower.c's layout_weights) */
  const float *data; /* V_WEIGHT, packed (NULL when unbound); int8: the integers q */
  int wtype;         /* V_WEIGHT: its storage (WeightType) */
  int scale;         /* V_WEIGHT int8: the value of its float scales, else -1 */
  int layer;         /* -1: the frame kept for a forecast's feedback */
  bool attention;    /* V_STATE: an attention layer's weights, read by attention() */
  bool carried;      /* V_TRANSIENT: a batch of streams keeps one per stream (plan.c) */
} Value;

/* When a call runs: always, on the first frame after reset, when the
 * window of temporal layer `gate` closes, or (in clip()) when that window
 * has not closed yet and the frames so far stand in for it. */
typedef enum { G_ALWAYS, G_FIRST_FRAME, G_CLOSE, G_PARTIAL } Guard;

enum { MAX_ARGS = 9, MAX_DIMS = 6 };

/* The geometry of a conv or pool call. */
typedef struct {
  int in_c0, in_c1, in_h, in_w, out_c, out_h, out_w;
  Window win;
  int groups;
  int act; /* REEL_ACT_* fused into a conv */
  float alpha; /* its parameter */
  bool accumulate;
} Geom;

/* The keys and values an attention call reads (the runtime's reel_attention_desc). */
typedef struct {
  int n, key_dim, value_dim, key_step, key_stride, value_step, value_stride;
  bool window;
  float scale;
} AttnGeom;

typedef struct {
  KernelOp op;
  int arg[MAX_ARGS]; /* value indices, -1 = none, in its kernel signature's order */
  int dim[MAX_DIMS]; /* its #dimensions, likewise */
  int act;     /* REEL_ACT_*: an activation call's, or fused into a gemv */
  float alpha; /* its parameter (leaky relu's negative slope) */
  float eps;   /* a norm's epsilon */
  Geom geom;   /* conv, pools */
  AttnGeom attn;
  Guard guard;
  int gate;    /* G_CLOSE, G_PARTIAL, and a clip pool's fold: the temporal layer, else -1 */
  bool avx2;    /* the AVX2 kernel (with its packed weights), else generic */
  int wtype;    /* its weights' WeightType: the kernel's bf16 or i8 form (K_TYPED) */
  int layer;
  int sublayer; /* inside a stack, for comments; -1 otherwise */
  const char *note; /* what the call does, for its comment (else its kernel's name) */
} Call;

/* Calls run in phases: [0, step_end) per frame; in a forecast, the
 * prologue [step_end, prologue_end) once, then [prologue_end,
 * forecast_end) per forecast step; [forecast_end, nc) per clip read. */
typedef struct {
  const Graph *g;
  Value *v;
  int nv, cap_v;
  Call *call;
  int nc, cap_c;
  int step_end, prologue_end, forecast_end;
  int out_value;      /* the per-frame output, or -1 */
  int clip_value;     /* the per-clip output of a model ending in a clip pool, or -1 */
  int forecast_value; /* one forecast frame, or -1 */
  int64_t arena_floats;  /* plan.c: the arena; of it, the shared transients' region */
  int64_t local_floats;  /* [0, local_floats), the carried ones' above it */
  int64_t transient_sum; /* sum of every transient's slot */
  int64_t lower_bound;   /* largest set of slots alive at once */
  int64_t weight_floats; /* the weights' sections: float32, bfloat16 and int8 elements, */
  int64_t weight_halves; /* each a whole number of 32-byte lines */
  int64_t weight_int8s;
  int64_t state_floats;
} Program;

typedef enum { TARGET_GENERIC, TARGET_AVX2 } Target;
Program *lower(Arena *a, const Graph *g, Target t);

/* ---- quantize.c: compressed weights (--weight-type, a layer's weight_type) ---- */
/* float32 as trained; bfloat16, each weight rounded to nearest even; int8, symmetric with one
 * float scale per row (the first dimension of the PyTorch tensor): scale = max|row| / 127,
 * q = round_half_even(w / scale).  Activations, state and sums stay float32. */
typedef enum { WT_F32, WT_BF16, WT_I8, WT_COUNT } WeightType;
extern const char *const weight_type_name[WT_COUNT]; /* f32, bf16, int8 */
int weight_type_bytes(WeightType t);
float bf16_round(float x);
/* w [rows][cols] in place: bf16 rounds each weight; int8 leaves each row's integers q (as
 * floats) and its scale in scale[r] (0 for an all-zero row). */
void quantize_rows(float *w, int64_t rows, int64_t cols, WeightType t, float *scale);
/* Each OP_MATRICES layer without a weight_type of its own takes t. */
void resolve_weight_types(Graph *g, WeightType t);
/* The compressible parameters of compressed layers replaced by their dequantized values: the
 * float32 model the compiled code computes, which the interpreter then runs too. */
void dequantize_params(Arena *a, Graph *g);
int64_t weight_bytes(const Program *p); /* all three sections */

/* ---- pack.c: the AVX2 kernels' weight layouts and conv scratch ---- */
int64_t round8(int64_t n);
void pack_panels8(float *out, const float *w, int rows, int cols);
void pack_panels8_cat2(float *out, const float *a, int na, const float *b, int nb, int rows);
void pack_lstm(float *w_out, float *b_out, const float *wih, const float *whh, const float *bih,
               const float *bhh, int nx, int hidden);
void pack_gru(float *w_out, float *b_out, const float *wih, const float *whh, const float *bih,
              const float *bhh, int nx, int hidden);
void pair_bf16_vectors(float *v, int64_t nvec);
/* The fewest input and output channels a 3x3 conv needs to run as
 * Winograd F(2x2, 3x3) (reel_conv_winograd_avx2.c): below them, measured
 * on 16x16 to 32x32 maps, its transforms cost what its 2.25x fewer FMAs
 * save (32 -> 32: 0.94x of direct; 32 -> 64: 1.26x; 128 -> 256: 1.8x). */
#define WINOGRAD_MIN_IN_C 32
#define WINOGRAD_MIN_OUT_C 64
/* ...and the fewest 2x2 output tiles: the kernel computes tiles 16 at a time, so a 4x4 map's
 * 4 tiles waste three quarters of its products (512x4x4 -> 512: 2343 us, direct 1510). */
#define WINOGRAD_MIN_TILES 16
/* The implicit-GEMM conv (reel_conv_igemm_avx2.c) needs this many output channels (below, its
 * 32-channel blocks run half empty: 64x32x32 -> 16 at 0.59x of the pixel-vector kernel) and
 * runs on maps narrower than IGEMM_MAX_OUT_W or strided ones; on wider maps at stride 1 the
 * pixel-vector kernel fills its 16-pixel tiles (32x32x32 -> 32: 1.00x, 16x32x32 -> 32: 0.92x;
 * 64x28x28 -> 64: 1.09x, 256x7x7 -> 512 stride 2: 1.73x, 512x4x4 -> 512: 1.46x). */
#define IGEMM_MIN_OUT_C 32
#define IGEMM_MAX_OUT_W 32
void pack_conv_avx2(float *out, const float *w, int out_c, int in_c, int kh, int kw);
void pack_conv_igemm(float *out, const float *w, int out_c, int in_c, int kh, int kw);
void pack_conv_winograd(float *out, const float *w, int out_c, int in_c);
/* Floats of scratch the AVX2 direct, implicit-GEMM, grouped and Winograd convs use: what
 * reel_conv2d_scratch_avx2, reel_conv2d_igemm_scratch_avx2, reel_conv2d_grouped_scratch_avx2
 * and reel_conv2d_winograd_scratch_avx2 return for the same geometry (tests/kernels.c checks
 * they agree). */
int64_t conv_scratch_avx2(const Geom *g);
int64_t conv_scratch_igemm(const Geom *g);
int64_t conv_scratch_grouped(const Geom *g);
int64_t conv_scratch_winograd(const Geom *g);

/* ---- plan.c: arena offsets from lifetimes ---- */
bool plan_memory(Program *p, bool reuse);
bool plan_check(const Program *p); /* no two live transients overlap */
/* Whether call c runs once for a batch of streams in m_step_many (its kernel's K_MANY form). */
bool call_batched(const Program *p, const Call *c);

/* ---- emit_c.c: the model's header and source; emit_weights.c: its data ---- */
/* How reelc compile writes a model: its kernels' target, and how the weights file holds the
 * weights (bytes in string literals of one byte order, or float literals). */
typedef struct {
  Target target;
  bool big_endian;     /* --endian big: the string literals' bytes big-endian */
  bool float_literals; /* --weights-format floats: one hexadecimal float literal per weight */
  int max_streams;     /* --max-streams: the streams m_step_many takes per batch */
} EmitOptions;
bool emit_c(Arena *a, const Program *p, const EmitOptions *opt, const char *dir);
/* The stack m_step_many needs at most: m_step's bound, its pointer arrays (on an LP64 host;
 * a 32-bit target needs less) and the rest of its frame: saved registers, a kernel call's
 * arguments passed on the stack (up to ten), alignment (many.test measures it). */
enum { MANY_FRAME_SLACK = 256 };
int many_stack_bytes(Arena *a, const Program *p, int max_streams);
enum { WEIGHT_CHUNK = 1024 }; /* bytes per string literal in <model>_weights.c */
int64_t weight_chunks(const Program *p);
void emit_weights(const Program *p, const EmitOptions *opt, Buf *b);

/* ---- interp.c: the reference interpreter, the oracle ---- */
bool interp_run(Arena *a, const Graph *g, TensorFile *in, const char *out_path);
/* Its outputs on the clip in->"input" (output, clip, clip_steps, attention, forecast, as the
 * model has them): how many, or -1 after reporting an error. */
enum { INTERP_OUTPUTS = 6 };
int interp_outputs(Arena *a, const Graph *g, TensorFile *in, Tensor result[INTERP_OUTPUTS]);

/* ---- dump.c: IR printers for --dump ---- */
void dump_graph(FILE *f, const Graph *g);
void dump_program(FILE *f, const Program *p);
/* How far compressed weights move each output from the float32 model's on a clip (info
 * --input): max |compressed - float32| per output tensor. */
typedef struct {
  const char *clip; /* the input file */
  const char *name[INTERP_OUTPUTS];
  double max_abs[INTERP_OUTPUTS];
  int n;
} Deviation;
/* reelc info: the layer table and the memory figures for compile's options, as text or JSON;
 * dev, if not NULL, the outputs' deviation. */
void print_info(FILE *f, Arena *a, const Graph *g, const Program *p, const EmitOptions *opt,
                const Deviation *dev, bool json);

/* ---- runtime_files.c (generated by the build from runtime/) ---- */
typedef struct {
  const char *name;
  const char *text;
} EmbeddedFile;
extern const EmbeddedFile runtime_files[];
extern const int runtime_file_count;

/* The code bytes of each runtime .c as the C compiler that built reelc builds it (-O2; the
 * AVX2 files with -mavx2 -mfma; 0 where it could not), for info's flash estimate:
 * build/runtime_sizes.c, written by tools/runtime_sizes.sh. */
typedef struct {
  const char *name;
  long text;
} RuntimeSize;
extern const RuntimeSize runtime_sizes[];
extern const char runtime_sizes_cc[];

enum { MAX_RUNTIME_FILES = 64 };
/* The runtime files a model needs (its header first), into files; returns how many. */
int runtime_files_needed(Arena *a, const Program *p, const char **files);

#endif
