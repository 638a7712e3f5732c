/* reel runtime: the kernels generated models call.  C99, no allocation,
 * no global state.  Names say type, operation and ISA:
 * reel_<type>_<op>_<isa>; every ISA-specific kernel has a _generic twin
 * with the same contract.  Sizes are ints: no tensor has 2^31 elements. */
#ifndef REEL_RUNTIME_H
#define REEL_RUNTIME_H

#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" { /* the runtime is C: C++ code links it as C */
#endif

/* ---- reel_gemv_generic.c: matrix-vector products, weights row-major ---- */

/* y[r] = act(b[r] + sum_j w[r][j] x[j]), r < rows, j < cols; b may be
 * NULL; act is a REEL_ACT_* and alpha its parameter. */
void reel_f32_gemv_generic(float *y, const float *w, const float *b, const float *x, int rows,
                           int cols, int act, float alpha);

/* The same for each of n rows of x (n x cols) into n rows of y (n x rows), one weight
 * matrix: nn.Linear over the last dimension of a matrix. */
void reel_f32_gemv_rows_generic(float *y, const float *w, const float *b, const float *x,
                                int rows, int cols, int n, int act, float alpha);

/* The same over the concatenation [x0; x1] without building it: w rows are
 * n0 + n1 long.  One pass over the weights for a recurrent cell's input
 * and recurrent parts. */
void reel_f32_gemv_cat2_generic(float *y, const float *w, const float *b, const float *x0, int n0,
                                const float *x1, int n1, int rows);

/* ---- reel_pointwise_generic.c: y = f(x); y == x is allowed ---- */

/* The activations, as PyTorch defines them (torch.nn.functional), each a
 * stand-alone kernel call or fused into the store of a conv or a linear:
 * REEL_ACT_<NAME>, listed once here so that the compiler names them too.
 *   RELU        max(v, 0)            RELU6  min(max(v, 0), 6)
 *   LEAKY_RELU  v >= 0 ? v : alpha v (alpha: negative_slope)
 *   SIGMOID     1 / (1 + e^-v)       TANH   tanh v
 *   GELU        v Phi(v) = v erfc(-v / sqrt 2) / 2 (Hendrycks and Gimpel)
 *   GELU_TANH   v (1 + tanh(sqrt(2 / pi) (v + 0.044715 v^3))) / 2
 *   SILU        v / (1 + e^-v), v sigmoid(v) ("swish")
 *   HARDSWISH   v min(max(v + 3, 0), 6) / 6 (MobileNetV3)
 *   HARDSIGMOID min(max(v + 3, 0), 6) / 6
 *   ELU         v > 0 ? v : alpha (e^v - 1) */
#define REEL_ACTIVATIONS(X)                                                                       \
  X(NONE) X(RELU) X(RELU6) X(LEAKY_RELU) X(SIGMOID) X(TANH) X(GELU) X(GELU_TANH) X(SILU)          \
  X(HARDSWISH) X(HARDSIGMOID) X(ELU)
#define REEL_ACT_ENUMERATOR(name) REEL_ACT_##name,
enum { REEL_ACTIVATIONS(REEL_ACT_ENUMERATOR) REEL_ACT_COUNT };

/* act(v) with parameter alpha, exactly as the kernels compute it (the
 * generic conv and gemv apply their fused activation with it). */
float reel_f32_activate_generic(int act, float alpha, float v);

/* y[i] = act(x[i]), i < n. */
void reel_f32_activation_generic(float *y, const float *x, int n, int act, float alpha);

void reel_f32_softmax_generic(float *y, const float *x, int n);

/* nn.PReLU: y = x > 0 ? x : w[k] x for the hw floats of channel k < c
 * (c = 1: one weight for all; hw = 1: one weight per element). */
void reel_f32_prelu_generic(float *y, const float *x, const float *w, int c, int hw);

/* Clip aggregation over frames. */
void reel_f32_max_generic(float *acc, const float *x, int n); /* acc = max(acc, x), NaN wins */
/* sum + comp += a x, compensated: comp holds the rounding error sum lost */
void reel_f32_sum_fold_generic(float *sum, float *comp, float a, const float *x, int n);
/* y = s (sum + comp) */
void reel_f32_sum_read_generic(float *y, const float *sum, const float *comp, float s, int n);
void reel_f32_add2_generic(float *y, const float *a, const float *b, int n); /* y = a + b */
void reel_f32_mul2_generic(float *y, const float *a, const float *b, int n); /* y = a b */

/* ---- reel_cells_generic.c: recurrent cell gate math, in place on state ---- */

/* gates = [i; f; g; o] pre-activations (4n): c = s(f) c + s(i) tanh(g),
 * h = s(o) tanh(c). */
void reel_lstm_cell_generic(float *h, float *c, const float *gates, int n);

/* Diagonal peepholes: i, f see the old c through wci, wcf; o sees the new c
 * through wco. */
void reel_lstm_peephole_cell_generic(float *h, float *c, const float *gates, const float *wci,
                                     const float *wcf, const float *wco, int n);

/* gi = W_i x + b_i, gh = W_h h + b_h, each [r; z; n] (3n): PyTorch's GRU,
 * h = (1 - z) tanh(gi_n + r gh_n) + z h. */
void reel_gru_cell_generic(float *h, const float *gi, const float *gh, int n);

/* ---- reel_conv_generic.c: convolution, pooling and layout, NCHW ---- */

/* A 2-D convolution, PyTorch's cross-correlation: the input is the channel
 * concatenation [x0; x1] (x1 may be NULL with in_c1 = 0) without building
 * it; weights are (out_c, (in_c0 + in_c1) / groups, k_h, k_w) row-major.
 * With accumulate, y += conv (bias ignored) instead of y = conv + b. */
typedef struct {
  int in_c0, in_c1, in_h, in_w;
  int out_c, out_h, out_w;
  int k_h, k_w, stride_h, stride_w, pad_top, pad_left, dil_h, dil_w;
  int groups;
  int act;
  float alpha; /* the activation's parameter */
  int accumulate;
} reel_conv2d_desc;

void reel_f32_conv2d_generic(const reel_conv2d_desc *d, float *y, const float *w, const float *b,
                             const float *x0, const float *x1);

/* nn.MaxPool2d / nn.AvgPool2d windows; the output size (ceil_mode
 * included) is decided by the compiler.  Padding, as PyTorch's, is at most
 * half the window on each side, so every window holds an input element. */
typedef struct {
  int c, in_h, in_w, out_h, out_w;
  int k_h, k_w, stride_h, stride_w, pad_top, pad_left;
  int count_include_pad;
} reel_pool2d_desc;

void reel_f32_maxpool2d_generic(const reel_pool2d_desc *d, float *y, const float *x);
void reel_f32_avgpool2d_generic(const reel_pool2d_desc *d, float *y, const float *x);
void reel_f32_global_avgpool_generic(float *y, const float *x, int c, int hw);

/* y[c][i] = scale[c] x[c][i] + shift[c]: a batch norm nothing could fold. */
void reel_f32_channel_affine_generic(float *y, const float *x, const float *scale,
                                     const float *shift, int c, int hw);

/* [C r^2, H, W] -> [C, H r, W r] and back, PyTorch's channel order. */
void reel_f32_pixel_shuffle_generic(float *y, const float *x, int c, int h, int w, int r);
void reel_f32_pixel_unshuffle_generic(float *y, const float *x, int c, int h, int w, int r);

/* ---- reel_conv_transpose_generic.c: nn.ConvTranspose2d.  d as for a conv (in_c0 inputs,
 * in_c1 0; pad_top, pad_left its padding; out_h, out_w with output_padding counted), each
 * input pixel (i, j) adding w[ic][oc][u][v] x to output (i stride_h - pad_top + u dil_h,
 * j stride_w - pad_left + v dil_w); weights (in_c, out_c / groups, k_h, k_w) as PyTorch's;
 * then the fused activation. ---- */
void reel_f32_conv_transpose2d_generic(const reel_conv2d_desc *d, float *y, const float *w,
                                       const float *b, const float *x);

/* ---- reel_upsample_generic.c ----
 * [C, H, W] -> [C, OH, OW], F.interpolate's nearest and bilinear: `table` holds, for the output
 * rows then the columns, the input index each reads (nearest: oh + ow floats), or for bilinear
 * the two indices and the second one's weight (3 oh floats for rows, then 3 ow for columns:
 * all first indices, all second, all weights), as the compiler chose them PyTorch's way. */
void reel_f32_upsample_nearest_generic(float *y, const float *x, const float *table, int c, int h,
                                       int w, int oh, int ow);
void reel_f32_upsample_bilinear_generic(float *y, const float *x, const float *table, int c, int h,
                                        int w, int oh, int ow);

/* ---- reel_norm_generic.c: layer and group norm (no AVX2 twin: one pass of sums and one of
 * scaling per block, memory-bound and a small share of any model that has one) ----
 * x holds `blocks` blocks of n floats; each is normalised by its own mean and biased
 * variance, y = (x - mean) / sqrt(var + eps), then scaled and shifted, y w[j] + b[j], with
 * j = (its index in x / per) % nw (w and b NULL: none).  nn.LayerNorm: n the normalised
 * size, per 1, nw n; nn.GroupNorm: n = C/G H W, per = H W, nw = C. */
void reel_f32_norm_generic(float *y, const float *x, const float *w, const float *b, int blocks,
                           int n, int per, int nw, float eps);

/* ---- reel_cells_generic.c, ConvGRU (happyjin layout; gates = [r; z]) ---- */

/* rh = s(r_pre) h, the candidate conv's recurrent input. */
void reel_convgru_reset_generic(float *rh, const float *gates, const float *h, int n);
/* h = (1 - s(z_pre)) h + s(z_pre) tanh(cand_pre). */
void reel_convgru_update_generic(float *h, const float *gates, const float *cand, int n);

/* ---- reel_rnn_seq_generic.c: one direction of a bidirectional lstm / gru over a window.
 * x holds n frames of nx floats, oldest first, the first min(frames, n) of them seen; from a
 * zero state, in time order (reverse 0) or backwards (reverse 1), frame t's h goes to
 * y[t 2 hidden + reverse hidden ...] (PyTorch's [forward; backward] per frame); the rows of
 * frames not seen get zeros.  lstm: w rows of [W_ih | W_hh] (gates i f g o), b = b_ih + b_hh,
 * scratch 6 hidden floats (AVX2: round8(4 hidden) + 2 hidden).  gru: W_ih, b_ih, W_hh, b_hh
 * apart (gates r z n), scratch 7 hidden (AVX2: 2 round8(3 hidden) + hidden).  The AVX2 twins
 * take the gemv's packed weights (panels of 8 rows, biases padded). ---- */
void reel_lstm_seq_generic(float *y, const float *w, const float *b, const float *x,
                           float *scratch, int nx, int hidden, int n, int reverse,
                           unsigned long long frames);
void reel_gru_seq_generic(float *y, const float *wi, const float *bi, const float *wh,
                          const float *bh, const float *x, float *scratch, int nx, int hidden,
                          int n, int reverse, unsigned long long frames);

/* ---- reel_input_generic.c: the frame m_step takes, as the model's float frame ---- */

/* y[ch p + i] = a[ch] x_ch,i + b[ch] for c channels of p elements, x_ch,i = x[ch p + i]
 * (channel-first) or x[i c + ch] (hwc: channel-last); a, b NULL: 1 and 0. */
void reel_input_u8_generic(float *y, const unsigned char *x, int c, int p, int hwc,
                           const float *a, const float *b);
void reel_input_f32_generic(float *y, const float *x, int c, int p, int hwc, const float *a,
                            const float *b);

/* ---- reel_temporal_generic.c: windows over time, attention, clip pools.
 * `frames` counts the frames since reset, the current one included (64
 * bits: no stream wraps it, 2^32 frames are 4.5 years at 30 fps); a
 * window (ring) of n entries keeps frame t (1-based) in slot (t - 1) % n and
 * has min(frames, n) valid entries. ---- */

/* Store x as frame `frames` of the ring. */
void reel_window_push_generic(float *ring, const float *x, int size, int n,
                              unsigned long long frames);
/* The valid entries oldest first, then zeros up to n entries. */
void reel_window_gather_generic(float *y, const float *ring, int size, int n,
                                unsigned long long frames);
/* Element-wise max / mean of the valid entries (frames >= 1). */
void reel_window_max_generic(float *y, const float *ring, int size, int n,
                             unsigned long long frames);
void reel_window_mean_generic(float *y, const float *ring, int size, int n,
                              unsigned long long frames);

/* Keys: n entries of key_dim floats, element k of entry i at
 * keys[i key_step + k key_stride] (a ring: step key_dim, stride 1; a
 * [D, H, W] map: step 1, stride H W); values likewise. */
typedef struct {
  int n, key_dim, value_dim;
  int key_step, key_stride, value_step, value_stride;
  int window; /* 1: keys and values are rings with min(frames, n) valid entries; 0: all n */
  float scale; /* on dot-product scores: 1 or 1/sqrt(key_dim) */
} reel_attention_desc;

/* e[i] = scale q . k_i */
void reel_attention_dot_generic(const reel_attention_desc *d, float *e, const float *keys,
                                const float *q, unsigned long long frames);
/* e[i] = v . tanh(W_x k_i + b_x + hq), W_x (hidden x key_dim), hq = W_h q */
void reel_attention_additive_generic(const reel_attention_desc *d, float *e, const float *keys,
                                     const float *hq, const float *wx, const float *bx,
                                     const float *v, int hidden, unsigned long long frames);
/* a = softmax(e) over the valid entries (e is overwritten), out = sum_i a_i v_i;
 * weights (n) = a, for a window by age (entry j: frame t - j); past the valid
 * ones zeros, or NaN when a is (PyTorch's masked_fill(-inf) before the
 * softmax).  No valid entry: out and weights are zero. */
void reel_attention_apply_generic(const reel_attention_desc *d, float *out, float *weights,
                                  float *e, const float *values, unsigned long long frames);

/* Multi-head attention of one query q (key_dim = value_dim = E floats, already projected)
 * against rings of projected keys and values (n entries of E): head h of `heads` takes
 * elements [h d, h d + d), d = E / heads, a_h = softmax(scale q_h . k_{i,h}) (scale =
 * 1/sqrt(d)), out_h = sum_i a_{h,i} v_{i,h}.  With key_padding the unfilled slots take no
 * part; without, each stands for a zero frame, whose projections are kb and vb (NULL:
 * zeros).  weights (n) = the mean of a over the heads, by age (entry j: frame t - j);
 * masked entries 0, or NaN when a is.  e: scratch of n floats. */
void reel_mha_generic(const reel_attention_desc *d, float *out, float *weights, float *e,
                      const float *q, const float *keys, const float *values, const float *kb,
                      const float *vb, int heads, int key_padding, unsigned long long frames);

/* Clip pools: value number k (1-based) of a stream folded into acc (zeroed
 * at reset): max, size floats; mean, 2 size (the compensated sum, then its
 * compensation); concat, size count (the first `count` values). */
#define REEL_TPOOL_MODES(X) X(MAX) X(MEAN) X(CONCAT) /* listed once: the compiler names them */
#define REEL_TPOOL_ENUMERATOR(name) REEL_TPOOL_##name,
enum { REEL_TPOOL_MODES(REEL_TPOOL_ENUMERATOR) REEL_TPOOL_COUNT };
void reel_tpool_fold_generic(float *acc, const float *x, int size, int mode, int count,
                             unsigned long long k);
/* y = the pool of the first k values: zeros for k = 0 */
void reel_tpool_read_generic(float *y, const float *acc, int size, int mode, int count,
                             unsigned long long k);
/* y = the pool of x alone */
void reel_tpool_first_generic(float *y, const float *x, int size, int mode, int count);

/* ---- Compressed weights (reelc --weight-type): the kernels that read weight matrices or
 * filters have a _bf16_ and an _i8_ form of each ISA, with the f32 form's contract and layout:
 *   bf16  const uint16_t *w: each weight a float's upper 16 bits (rounded to nearest even);
 *   i8    const int8_t *w then const float *w_scale: weight = w * w_scale[row], row = the
 *         output row (gemv), output channel (conv2d), input channel (conv_transpose2d, as
 *         PyTorch's weight[in][out]).  gemv_cat2 and the seq kernels' [W_ih | W_hh] rows have
 *         two scales, at (r / 8) 16 + r % 8 for the x0 part and 8 more for the x1 part; the
 *         AVX2 cell steps per block of 8 units, the ih rows' [gates][8] then the hh rows'.
 *         The AVX2 direct convs read a scale for every channel of their blocks (6 or 32),
 *         the last block's padding included (zeros there, as its weights).
 * Sums are float32: sum_j w_q[j] x[j], times the scale, plus the bias. */
typedef enum { REEL_W_F32, REEL_W_BF16, REEL_W_I8 } reel_weight_type;

/* A weight tensor of any storage type, as the kernels read it. */
typedef struct {
  const void *w;
  const float *scale; /* int8: per row */
  reel_weight_type type;
} reel_weights;

static inline float reel_bf16_to_f32(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* Element k of w as stored (int8 unscaled). */
static inline float reel_weight_raw(const reel_weights *w, long k) {
  return w->type == REEL_W_I8    ? (float)((const int8_t *)w->w)[k]
         : w->type == REEL_W_BF16 ? reel_bf16_to_f32(((const uint16_t *)w->w)[k])
                                  : ((const float *)w->w)[k];
}

/* Element k of row `row` of w, as a float weight. */
static inline float reel_weight_at(const reel_weights *w, long k, long row) {
  float v = reel_weight_raw(w, k);
  return w->type == REEL_W_I8 ? v * w->scale[row] : v;
}

void reel_f32_gemv_bf16_generic(float *y, const uint16_t *w, const float *b, const float *x,
                                int rows, int cols, int act, float alpha);
void reel_f32_gemv_i8_generic(float *y, const int8_t *w, const float *w_scale, const float *b,
                              const float *x, int rows, int cols, int act, float alpha);
void reel_f32_gemv_rows_bf16_generic(float *y, const uint16_t *w, const float *b,
                                     const float *x, int rows, int cols, int n, int act,
                                     float alpha);
void reel_f32_gemv_rows_i8_generic(float *y, const int8_t *w, const float *w_scale,
                                   const float *b, const float *x, int rows, int cols, int n,
                                   int act, float alpha);
void reel_f32_gemv_cat2_bf16_generic(float *y, const uint16_t *w, const float *b,
                                     const float *x0, int n0, const float *x1, int n1, int rows);
void reel_f32_gemv_cat2_i8_generic(float *y, const int8_t *w, const float *w_scale,
                                   const float *b, const float *x0, int n0, const float *x1,
                                   int n1, int rows);
void reel_f32_conv2d_bf16_generic(const reel_conv2d_desc *d, float *y, const uint16_t *w,
                                  const float *b, const float *x0, const float *x1);
void reel_f32_conv2d_i8_generic(const reel_conv2d_desc *d, float *y, const int8_t *w,
                                const float *w_scale, const float *b, const float *x0,
                                const float *x1);
void reel_f32_conv_transpose2d_bf16_generic(const reel_conv2d_desc *d, float *y,
                                            const uint16_t *w, const float *b, const float *x);
void reel_f32_conv_transpose2d_i8_generic(const reel_conv2d_desc *d, float *y, const int8_t *w,
                                          const float *w_scale, const float *b, const float *x);
void reel_lstm_seq_bf16_generic(float *y, const uint16_t *w, const float *b, const float *x,
                                float *scratch, int nx, int hidden, int n, int reverse,
                                unsigned long long frames);
void reel_lstm_seq_i8_generic(float *y, const int8_t *w, const float *w_scale, const float *b,
                              const float *x, float *scratch, int nx, int hidden, int n,
                              int reverse, unsigned long long frames);
void reel_gru_seq_bf16_generic(float *y, const uint16_t *wi, const float *bi,
                               const uint16_t *wh, const float *bh, const float *x,
                               float *scratch, int nx, int hidden, int n, int reverse,
                               unsigned long long frames);
void reel_gru_seq_i8_generic(float *y, const int8_t *wi, const float *wi_scale, const float *bi,
                             const int8_t *wh, const float *wh_scale, const float *bh,
                             const float *x, float *scratch, int nx, int hidden, int n,
                             int reverse, unsigned long long frames);
/* The shared bodies, over any storage type. */
void reel_gemv_any_generic(float *y, const reel_weights *w, const float *b, const float *x,
                           int rows, int cols, int act, float alpha);
void reel_gemv_cat2_any_generic(float *y, const reel_weights *w, const float *b,
                                const float *x0, int n0, const float *x1, int n1, int rows);
/* n >= 1 streams through one matrix (stream k: y[k], x[k]), each weight read once for several
 * streams: bit-identical to n calls of the one-stream kernel, on either target. */
void reel_gemv_many_any_generic(int n, float *const y[], const reel_weights *w, const float *b,
                                const float *const x[], int rows, int cols, int act,
                                float alpha);
void reel_f32_gemv_many_generic(int n, float *const y[], const float *w, const float *b,
                                const float *const x[], int rows, int cols, int act,
                                float alpha);
void reel_f32_gemv_many_bf16_generic(int n, float *const y[], const uint16_t *w, const float *b,
                                     const float *const x[], int rows, int cols, int act,
                                     float alpha);
void reel_f32_gemv_many_i8_generic(int n, float *const y[], const int8_t *w, const float *w_scale,
                                   const float *b, const float *const x[], int rows, int cols,
                                   int act, float alpha);

/* ---- AVX2 (+FMA) kernels: runtime/avx2/, built with -mavx2 -mfma ---- */

/* reel_gemv_avx2.c: weights in panels of 8 rows ([row/8][col][8], zero rows
 * pad the last panel); b padded to a multiple of 8. */
void reel_f32_gemv_avx2(float *y, const float *w, const float *b, const float *x, int rows,
                        int cols, int act, float alpha);
void reel_f32_gemv_cat2_avx2(float *y, const float *w, const float *b, const float *x0, int n0,
                             const float *x1, int n1, int rows);
void reel_f32_gemv_rows_avx2(float *y, const float *w, const float *b, const float *x, int rows,
                             int cols, int n, int act, float alpha);

/* reel_rnn_seq_avx2.c */
void reel_lstm_seq_avx2(float *y, const float *w, const float *b, const float *x, float *scratch,
                        int nx, int hidden, int n, int reverse, unsigned long long frames);
void reel_gru_seq_avx2(float *y, const float *wi, const float *bi, const float *wh,
                       const float *bh, const float *x, float *scratch, int nx, int hidden, int n,
                       int reverse, unsigned long long frames);

/* reel_pointwise_avx2.c */
void reel_f32_activation_avx2(float *y, const float *x, int n, int act, float alpha);
void reel_f32_prelu_avx2(float *y, const float *x, const float *w, int c, int hw);
void reel_f32_mul2_avx2(float *y, const float *a, const float *b, int n);

/* reel_dense_cells_avx2.c: a whole LSTM or GRU step in one pass over its
 * weights (layouts in that file); scratch holds `hidden` floats.  The
 * peephole vectors may be NULL.  `reverse` (0 or 1) only orders the pass:
 * alternate it from step to step.  The _many forms step n >= 1 independent
 * streams, stream k with h[k], c[k], scratch[k] and x[k] (distinct streams,
 * anywhere in memory), reading each weight once for all of them: the same
 * results as n single steps up to the rounding of the gate sums. */
void reel_lstm_step_avx2(float *h, float *c, float *scratch, const float *w, const float *b,
                         const float *x, int nx, int hidden, const float *wci, const float *wcf,
                         const float *wco, int reverse);
void reel_gru_step_avx2(float *h, float *scratch, const float *w, const float *b, const float *x,
                        int nx, int hidden, int reverse);
void reel_lstm_step_many_avx2(int n, float *const h[], float *const c[], float *const scratch[],
                              const float *w, const float *b, const float *const x[], int nx,
                              int hidden, const float *wci, const float *wcf, const float *wco,
                              int reverse);
void reel_gru_step_many_avx2(int n, float *const h[], float *const scratch[], const float *w,
                             const float *b, const float *const x[], int nx, int hidden,
                             int reverse);
void reel_lstm_cell_avx2(float *h, float *c, const float *gates, int n);
void reel_lstm_peephole_cell_avx2(float *h, float *c, const float *gates, const float *wci,
                                  const float *wcf, const float *wco, int n);
void reel_convgru_reset_avx2(float *rh, const float *gates, const float *h, int n);
void reel_convgru_update_avx2(float *h, const float *gates, const float *cand, int n);

/* reel_conv_avx2.c: one group, kernels up to REEL_CONV_AVX2_MAX_K taps a
 * side, any stride and dilation; weights in blocks of
 * REEL_CONV_AVX2_OC_BLOCK output channels (its micro-kernel's rows),
 * [out_c/6][in_c][k_h][k_w][6], zero channels padding the last block;
 * scratch of reel_conv2d_scratch_avx2(d) floats for the zero-bordered
 * input split into stride phases. */
#define REEL_CONV_AVX2_MAX_K 16
#define REEL_CONV_AVX2_OC_BLOCK 6
long reel_conv2d_scratch_avx2(const reel_conv2d_desc *d);
void reel_f32_conv2d_avx2(const reel_conv2d_desc *d, float *y, const float *w, const float *b,
                          const float *x0, const float *x1, float *scratch);
/* reel_conv_igemm_avx2.c: the same convs (one group, kernels up to
 * REEL_CONV_AVX2_MAX_K a side, any stride and dilation) as an implicit GEMM
 * whose vectors run over output channels, for small maps, strides and 1x1
 * convs; weights [out_c/32][in_c][k_h][k_w][32], zero channels padding the
 * last block; scratch of reel_conv2d_igemm_scratch_avx2(d) floats. */
#define REEL_CONV_IGEMM_AVX2_OC_BLOCK 32
long reel_conv2d_igemm_scratch_avx2(const reel_conv2d_desc *d);
void reel_f32_conv2d_igemm_avx2(const reel_conv2d_desc *d, float *y, const float *w,
                                const float *b, const float *x0, const float *x1, float *scratch);
/* reel_conv_grouped_avx2.c: grouped convs (groups > 1, depthwise included),
 * kernels up to REEL_CONV_AVX2_MAX_K a side, any stride and dilation;
 * weights in PyTorch's layout, [out_c][in_c / groups][k_h][k_w]; scratch of
 * reel_conv2d_grouped_scratch_avx2(d) floats. */
long reel_conv2d_grouped_scratch_avx2(const reel_conv2d_desc *d);
void reel_f32_conv2d_grouped_avx2(const reel_conv2d_desc *d, float *y, const float *w,
                                  const float *b, const float *x0, const float *x1,
                                  float *scratch);
/* Max pooling, windows up to REEL_MAXPOOL_AVX2_MAX_K columns wide (rows:
 * any), the generic kernel's values (NaN propagates). */
#define REEL_MAXPOOL_AVX2_MAX_K 128
void reel_f32_maxpool2d_avx2(const reel_pool2d_desc *d, float *y, const float *x);
/* reel_conv_transpose_avx2.c: the generic kernel's contract, in stride phases (scratch of
 * reel_conv_transpose2d_scratch_avx2(d) floats); weights as they are. */
long reel_conv_transpose2d_scratch_avx2(const reel_conv2d_desc *d);
void reel_f32_conv_transpose2d_avx2(const reel_conv2d_desc *d, float *y, const float *w,
                                    const float *b, const float *x, float *scratch);
/* reel_upsample_avx2.c: the generic kernels' tables and values, 8 output columns at a time,
 * their input columns gathered. */
void reel_f32_upsample_nearest_avx2(float *y, const float *x, const float *table, int c, int h,
                                    int w, int oh, int ow);
void reel_f32_upsample_bilinear_avx2(float *y, const float *x, const float *table, int c, int h,
                                     int w, int oh, int ow);

/* reel_conv_winograd_avx2.c: 3x3, stride 1, dilation 1, one group, not
 * accumulate, by Winograd F(2x2, 3x3); weights transformed,
 * [out_c/6][16][in_c][6]; scratch of reel_conv2d_winograd_scratch_avx2(d)
 * floats. */
long reel_conv2d_winograd_scratch_avx2(const reel_conv2d_desc *d);
void reel_f32_conv2d_winograd_avx2(const reel_conv2d_desc *d, float *y, const float *u,
                                   const float *b, const float *x0, const float *x1,
                                   float *scratch);

/* The AVX2 kernels' compressed-weight forms (the f32 forms' layouts, 2- or 1-byte elements;
 * the conv's scratch holds 6 x taps more floats for one block of widened filters). */
void reel_gemv_any_avx2(float *y, const reel_weights *w, const float *b, const float *x, int rows,
                        int cols, int act, float alpha);
void reel_gemv_cat2_any_avx2(float *y, const reel_weights *w, const float *b, const float *x0,
                             int n0, const float *x1, int n1, int rows);
void reel_gemv_many_any_avx2(int n, float *const y[], const reel_weights *w, const float *b,
                             const float *const x[], int rows, int cols, int act, float alpha);
void reel_f32_gemv_many_avx2(int n, float *const y[], const float *w, const float *b,
                             const float *const x[], int rows, int cols, int act, float alpha);
void reel_f32_gemv_many_bf16_avx2(int n, float *const y[], const uint16_t *w, const float *b,
                                  const float *const x[], int rows, int cols, int act,
                                  float alpha);
void reel_f32_gemv_many_i8_avx2(int n, float *const y[], const int8_t *w, const float *w_scale,
                                const float *b, const float *const x[], int rows, int cols,
                                int act, float alpha);
void reel_f32_gemv_bf16_avx2(float *y, const uint16_t *w, const float *b, const float *x,
                             int rows, int cols, int act, float alpha);
void reel_f32_gemv_i8_avx2(float *y, const int8_t *w, const float *w_scale, const float *b,
                           const float *x, int rows, int cols, int act, float alpha);
void reel_f32_gemv_cat2_bf16_avx2(float *y, const uint16_t *w, const float *b, const float *x0,
                                  int n0, const float *x1, int n1, int rows);
void reel_f32_gemv_cat2_i8_avx2(float *y, const int8_t *w, const float *w_scale, const float *b,
                                const float *x0, int n0, const float *x1, int n1, int rows);
void reel_f32_gemv_rows_bf16_avx2(float *y, const uint16_t *w, const float *b, const float *x,
                                  int rows, int cols, int n, int act, float alpha);
void reel_f32_gemv_rows_i8_avx2(float *y, const int8_t *w, const float *w_scale, const float *b,
                                const float *x, int rows, int cols, int n, int act, float alpha);
void reel_lstm_step_bf16_avx2(float *h, float *c, float *scratch, const uint16_t *w,
                              const float *b, const float *x, int nx, int hidden,
                              const float *wci, const float *wcf, const float *wco, int reverse);
void reel_lstm_step_i8_avx2(float *h, float *c, float *scratch, const int8_t *w,
                            const float *w_scale, const float *b, const float *x, int nx,
                            int hidden, const float *wci, const float *wcf, const float *wco,
                            int reverse);
void reel_gru_step_bf16_avx2(float *h, float *scratch, const uint16_t *w, const float *b,
                             const float *x, int nx, int hidden, int reverse);
void reel_gru_step_i8_avx2(float *h, float *scratch, const int8_t *w, const float *w_scale,
                           const float *b, const float *x, int nx, int hidden, int reverse);
void reel_lstm_step_many_bf16_avx2(int n, float *const h[], float *const c[],
                                   float *const scratch[], const uint16_t *w, const float *b,
                                   const float *const x[], int nx, int hidden, const float *wci,
                                   const float *wcf, const float *wco, int reverse);
void reel_lstm_step_many_i8_avx2(int n, float *const h[], float *const c[],
                                 float *const scratch[], const int8_t *w, const float *w_scale,
                                 const float *b, const float *const x[], int nx, int hidden,
                                 const float *wci, const float *wcf, const float *wco,
                                 int reverse);
void reel_gru_step_many_bf16_avx2(int n, float *const h[], float *const scratch[],
                                  const uint16_t *w, const float *b, const float *const x[],
                                  int nx, int hidden, int reverse);
void reel_gru_step_many_i8_avx2(int n, float *const h[], float *const scratch[], const int8_t *w,
                                const float *w_scale, const float *b, const float *const x[],
                                int nx, int hidden, int reverse);
void reel_f32_conv2d_bf16_avx2(const reel_conv2d_desc *d, float *y, const uint16_t *w,
                               const float *b, const float *x0, const float *x1, float *scratch);
void reel_f32_conv2d_i8_avx2(const reel_conv2d_desc *d, float *y, const int8_t *w,
                             const float *w_scale, const float *b, const float *x0,
                             const float *x1, float *scratch);
void reel_f32_conv2d_igemm_bf16_avx2(const reel_conv2d_desc *d, float *y, const uint16_t *w,
                                     const float *b, const float *x0, const float *x1,
                                     float *scratch);
void reel_f32_conv2d_igemm_i8_avx2(const reel_conv2d_desc *d, float *y, const int8_t *w,
                                   const float *w_scale, const float *b, const float *x0,
                                   const float *x1, float *scratch);
void reel_f32_conv2d_grouped_bf16_avx2(const reel_conv2d_desc *d, float *y, const uint16_t *w,
                                       const float *b, const float *x0, const float *x1,
                                       float *scratch);
void reel_f32_conv2d_grouped_i8_avx2(const reel_conv2d_desc *d, float *y, const int8_t *w,
                                     const float *w_scale, const float *b, const float *x0,
                                     const float *x1, float *scratch);
void reel_f32_conv_transpose2d_bf16_avx2(const reel_conv2d_desc *d, float *y, const uint16_t *w,
                                         const float *b, const float *x, float *scratch);
void reel_f32_conv_transpose2d_i8_avx2(const reel_conv2d_desc *d, float *y, const int8_t *w,
                                       const float *w_scale, const float *b, const float *x,
                                       float *scratch);
void reel_lstm_seq_bf16_avx2(float *y, const uint16_t *w, const float *b, const float *x,
                             float *scratch, int nx, int hidden, int n, int reverse,
                             unsigned long long frames);
void reel_lstm_seq_i8_avx2(float *y, const int8_t *w, const float *w_scale, const float *b,
                           const float *x, float *scratch, int nx, int hidden, int n, int reverse,
                           unsigned long long frames);
void reel_gru_seq_bf16_avx2(float *y, const uint16_t *wi, const float *bi, const uint16_t *wh,
                            const float *bh, const float *x, float *scratch, int nx, int hidden,
                            int n, int reverse, unsigned long long frames);
void reel_gru_seq_i8_avx2(float *y, const int8_t *wi, const float *wi_scale, const float *bi,
                          const int8_t *wh, const float *wh_scale, const float *bh, const float *x,
                          float *scratch, int nx, int hidden, int n, int reverse,
                          unsigned long long frames);

#ifdef __cplusplus
}
#endif

#endif
