/* The kernel table: one row per runtime kernel a Program calls, feeding
 * the KernelOp enum, the IR printer and the C emitter (one generic routine,
 * emit_c.c's emit_call, writes every call from its row).
 *
 *   X(ENUM, "name", "C symbol", "runtime file", ISAS, "signature")
 *
 * The C function is SYMBOL_<isa> in runtime/<isa>/FILE_<isa>.c, with isa
 * generic or avx2 as ISAS allows (K_GENERIC, K_AVX2 or both).  K_TYPED: it also
 * reads compressed weights, as SYMBOL_bf16_<isa> and SYMBOL_i8_<isa>, where each
 * int8 weight tensor is followed by its float scales (reel_runtime.h).  K_MANY:
 * it also steps n streams at once, as SYMBOL_many[_bf16|_i8]_<isa>(n, ...),
 * where each tensor that is not a weight is an array of n pointers, one per
 * stream (`const float *const x[]` for the tensors named x, which it only
 * reads; `float *const name[]` for the others).  The
 * signature lists the C arguments in order, each one of:
 *   name     a tensor: the call's next value argument (arg[]), NULL if absent
 *   [name]   a tensor passed only when the call has it (the AVX2 conv's scratch)
 *   #name    an int: the call's next dimension (dim[])
 *   mode     a REEL_TPOOL_* from the next dimension
 *   &conv, &pool, &attn   the call's static reel_conv2d_desc, reel_pool2d_desc
 *            or reel_attention_desc
 *   act      the fused activation (REEL_ACT_*);  alpha  its parameter;  eps  a norm's epsilon
 *   frames   frames since reset;  seen  the values a clip pool has folded in
 *   parity   0 or 1, alternating from step to step
 * The names are the runtime's (reel_runtime.h documents each kernel); the
 * IR printer shows arguments by them.  copy has no symbol: it is memcpy
 * into y at #offset floats. */
#ifndef REEL_KERNELS_H
#define REEL_KERNELS_H

#include <stdbool.h>
#include <stddef.h>

enum { K_GENERIC = 1, K_AVX2 = 2, K_TYPED = 4, K_MANY = 8 };

#define REEL_KERNELS(X)                                                                           \
  X(GEMV, "gemv", "reel_f32_gemv", "reel_gemv", K_GENERIC | K_AVX2 | K_TYPED | K_MANY,            \
    "y w b x #rows #cols act alpha")                                                              \
  X(GEMV_ROWS, "gemv_rows", "reel_f32_gemv_rows", "reel_gemv", K_GENERIC | K_AVX2 | K_TYPED,      \
    "y w b x #rows #cols #n act alpha")                                                           \
  X(GEMV_CAT2, "gemv_cat2", "reel_f32_gemv_cat2", "reel_gemv", K_GENERIC | K_AVX2 | K_TYPED,      \
    "y w b x0 #n0 x1 #n1 #rows")                                                                  \
  X(ACTIVATION, "activation", "reel_f32_activation", "reel_pointwise", K_GENERIC | K_AVX2,        \
    "y x #n act alpha")                                                                           \
  X(SOFTMAX, "softmax", "reel_f32_softmax", "reel_pointwise", K_GENERIC, "y x #n")                \
  X(PRELU, "prelu", "reel_f32_prelu", "reel_pointwise", K_GENERIC | K_AVX2, "y x w #c #hw")       \
  X(LSTM_CELL, "lstm_cell", "reel_lstm_cell", "reel_cells", K_GENERIC | K_AVX2,                   \
    "h c gates #n")                                                                               \
  X(LSTM_PEEPHOLE_CELL, "lstm_peephole_cell", "reel_lstm_peephole_cell", "reel_cells",            \
    K_GENERIC | K_AVX2, "h c gates wci wcf wco #n")                                               \
  X(GRU_CELL, "gru_cell", "reel_gru_cell", "reel_cells", K_GENERIC, "h gi gh #n")                 \
  X(CONV2D, "conv2d", "reel_f32_conv2d", "reel_conv", K_GENERIC | K_AVX2 | K_TYPED,               \
    "&conv y w b x0 x1 [scratch]")                                                                \
  X(MAXPOOL, "maxpool", "reel_f32_maxpool2d", "reel_conv", K_GENERIC | K_AVX2, "&pool y x")       \
  X(AVGPOOL, "avgpool", "reel_f32_avgpool2d", "reel_conv", K_GENERIC, "&pool y x")                \
  X(GLOBAL_AVGPOOL, "global_avgpool", "reel_f32_global_avgpool", "reel_conv", K_GENERIC,          \
    "y x #c #hw")                                                                                 \
  X(CHANNEL_AFFINE, "channel_affine", "reel_f32_channel_affine", "reel_conv", K_GENERIC,          \
    "y x scale shift #c #hw")                                                                     \
  X(NORM, "norm", "reel_f32_norm", "reel_norm", K_GENERIC, "y x w b #blocks #n #per #nw eps")     \
  X(CONV_TRANSPOSE2D, "conv_transpose2d", "reel_f32_conv_transpose2d", "reel_conv_transpose",     \
    K_GENERIC | K_AVX2 | K_TYPED, "&conv y w b x [scratch]")                                      \
  X(UPSAMPLE_NEAREST, "upsample_nearest", "reel_f32_upsample_nearest", "reel_upsample",           \
    K_GENERIC | K_AVX2, "y x table #c #h #w #oh #ow")                                             \
  X(UPSAMPLE_BILINEAR, "upsample_bilinear", "reel_f32_upsample_bilinear", "reel_upsample",        \
    K_GENERIC | K_AVX2, "y x table #c #h #w #oh #ow")                                             \
  X(ADD2, "add2", "reel_f32_add2", "reel_pointwise", K_GENERIC, "y a b #n")                       \
  X(MUL2, "mul2", "reel_f32_mul2", "reel_pointwise", K_GENERIC | K_AVX2, "y a b #n")              \
  X(COPY, "copy", NULL, NULL, K_GENERIC, "y x #n #offset")                                        \
  X(PIXEL_SHUFFLE, "pixel_shuffle", "reel_f32_pixel_shuffle", "reel_conv", K_GENERIC,             \
    "y x #c #h #w #r")                                                                            \
  X(PIXEL_UNSHUFFLE, "pixel_unshuffle", "reel_f32_pixel_unshuffle", "reel_conv", K_GENERIC,       \
    "y x #c #h #w #r")                                                                            \
  X(CONVGRU_RESET, "convgru_reset", "reel_convgru_reset", "reel_cells", K_GENERIC | K_AVX2,       \
    "rh gates h #n")                                                                              \
  X(CONVGRU_UPDATE, "convgru_update", "reel_convgru_update", "reel_cells", K_GENERIC | K_AVX2,    \
    "h gates cand #n")                                                                            \
  X(LSTM_STEP, "lstm_step", "reel_lstm_step", "reel_dense_cells", K_AVX2 | K_TYPED | K_MANY,      \
    "h c scratch w b x #nx #hidden wci wcf wco parity")                                           \
  X(GRU_STEP, "gru_step", "reel_gru_step", "reel_dense_cells", K_AVX2 | K_TYPED | K_MANY,         \
    "h scratch w b x #nx #hidden parity")                                                         \
  X(LSTM_SEQ, "lstm_seq", "reel_lstm_seq", "reel_rnn_seq", K_GENERIC | K_AVX2 | K_TYPED,          \
    "y w b x scratch #nx #hidden #n #reverse frames")                                             \
  X(GRU_SEQ, "gru_seq", "reel_gru_seq", "reel_rnn_seq", K_GENERIC | K_AVX2 | K_TYPED,             \
    "y wi bi wh bh x scratch #nx #hidden #n #reverse frames")                                     \
  X(INPUT_U8, "input_u8", "reel_input_u8", "reel_input", K_GENERIC, "y x #c #p #hwc a b")         \
  X(INPUT_F32, "input_f32", "reel_input_f32", "reel_input", K_GENERIC, "y x #c #p #hwc a b")      \
  X(WINDOW_PUSH, "window_push", "reel_window_push", "reel_temporal", K_GENERIC,                   \
    "ring x #size #n frames")                                                                     \
  X(WINDOW_GATHER, "window_gather", "reel_window_gather", "reel_temporal", K_GENERIC,             \
    "y ring #size #n frames")                                                                     \
  X(WINDOW_MAX, "window_max", "reel_window_max", "reel_temporal", K_GENERIC,                      \
    "y ring #size #n frames")                                                                     \
  X(WINDOW_MEAN, "window_mean", "reel_window_mean", "reel_temporal", K_GENERIC,                   \
    "y ring #size #n frames")                                                                     \
  X(ATTN_DOT, "attention_dot", "reel_attention_dot", "reel_temporal", K_GENERIC,                  \
    "&attn e keys q frames")                                                                      \
  X(ATTN_ADDITIVE, "attention_additive", "reel_attention_additive", "reel_temporal", K_GENERIC,   \
    "&attn e keys hq wx bx v #hidden frames")                                                     \
  X(ATTN_APPLY, "attention_apply", "reel_attention_apply", "reel_temporal", K_GENERIC,            \
    "&attn out weights e values frames")                                                          \
  X(MHA, "mha", "reel_mha", "reel_temporal", K_GENERIC,                                           \
    "&attn out weights e q keys values kb vb #heads #key_padding frames")                         \
  X(TPOOL_FOLD, "tpool_fold", "reel_tpool_fold", "reel_temporal", K_GENERIC,                      \
    "acc x #size mode #count seen")                                                               \
  X(TPOOL_READ, "tpool_read", "reel_tpool_read", "reel_temporal", K_GENERIC,                      \
    "y acc #size mode #count seen")                                                               \
  X(TPOOL_FIRST, "tpool_first", "reel_tpool_first", "reel_temporal", K_GENERIC,                   \
    "y x #size mode #count")                                                                      \
  X(CONV2D_WINOGRAD, "conv2d_winograd", "reel_f32_conv2d_winograd", "reel_conv_winograd", K_AVX2, \
    "&conv y w b x0 x1 scratch")                                                                  \
  X(CONV2D_IGEMM, "conv2d_igemm", "reel_f32_conv2d_igemm", "reel_conv_igemm", K_AVX2 | K_TYPED,   \
    "&conv y w b x0 x1 scratch")                                                                  \
  X(CONV2D_GROUPED, "conv2d_grouped", "reel_f32_conv2d_grouped", "reel_conv_grouped",             \
    K_AVX2 | K_TYPED, "&conv y w b x0 x1 scratch")

typedef enum {
#define X(e, name, symbol, file, isas, signature) K_##e,
  REEL_KERNELS(X)
#undef X
      K_COUNT
} KernelOp;

typedef struct {
  const char *name;      /* in dumps */
  const char *symbol;    /* C name before _<isa>; NULL: memcpy */
  const char *file;      /* runtime file before _<isa>.c */
  int isas;              /* K_GENERIC, K_AVX2, and K_TYPED, K_MANY: the forms it has */
  const char *signature; /* the C arguments, as above */
} KernelInfo;

extern const KernelInfo kernel_info[K_COUNT];

/* Reading a signature (kernels.c): its tokens one by one, what each takes
 * from a call, and how many values (of them optional, trailing) and
 * dimensions a call has. */
typedef enum { SIG_VALUE, SIG_DIM, SIG_OTHER } SigKind;
bool signature_next(const char **s, char *tok, size_t size);
SigKind signature_kind(const char *tok);
void kernel_arity(KernelOp op, int *values, int *optional, int *dims);

#endif
