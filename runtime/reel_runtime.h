/* reel runtime: the kernels generated models call.  C99, no allocation,
 * no global state.  Names say type, operation and ISA:
 * reel_<type>_<op>_<isa>; every ISA-specific kernel has a _generic twin
 * with the same contract.  Sizes are ints: no tensor has 2^31 elements. */
#ifndef REEL_RUNTIME_H
#define REEL_RUNTIME_H

/* ---- reel_gemv_generic.c: matrix-vector products, weights row-major ---- */

/* y[r] = b[r] + sum_j w[r][j] x[j], r < rows, j < cols; b may be NULL. */
void reel_f32_gemv_generic(float *y, const float *w, const float *b, const float *x, int rows,
                           int cols);

/* The same over the concatenation [x0; x1] without building it: w rows are
 * n0 + n1 long.  One pass over the weights for a recurrent cell's input
 * and recurrent parts. */
void reel_f32_gemv_cat2_generic(float *y, const float *w, const float *b, const float *x0, int n0,
                                const float *x1, int n1, int rows);

/* ---- reel_pointwise_generic.c: y = f(x); y == x is allowed ---- */
void reel_f32_relu_generic(float *y, const float *x, int n);
void reel_f32_sigmoid_generic(float *y, const float *x, int n);
void reel_f32_tanh_generic(float *y, const float *x, int n);
void reel_f32_softmax_generic(float *y, const float *x, int n);

/* Clip aggregation over frames. */
void reel_f32_add_generic(float *acc, const float *x, int n);           /* acc += x */
void reel_f32_axpy_generic(float *acc, float a, const float *x, int n); /* acc += a x */
void reel_f32_max_generic(float *acc, const float *x, int n);           /* acc = max(acc, x) */
void reel_f32_scale_generic(float *y, const float *x, float s, int n);  /* y = s x */

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

#endif
