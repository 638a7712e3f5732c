/* Lowering: spec layers into a flat Program of kernel calls over values.
 * Each op lowers itself (its descriptor's lower, in compiler/ops/); this
 * file walks the phases, and gives the ops what they build with: values,
 * calls checked against the kernel table, weights packed into the order
 * the kernels read them (pack.c), the shared gemv and conv calls, and
 * windows of past frames.  The calls run in phases (Program): per frame,
 * the forecast's prologue and body, per clip read. */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "ops.h"

int add_value(Lowering *lw, ValueKind kind, int layer, int64_t size, const char *name) {
  Program *p = lw->p;
  if (p->nv == p->cap_v) {
    int cap = p->cap_v ? 2 * p->cap_v : 32;
    Value *v = arena_alloc(lw->a, (size_t)cap * sizeof *v);
    if (p->nv)
      memcpy(v, p->v, (size_t)p->nv * sizeof *v);
    p->v = v;
    p->cap_v = cap;
  }
  Value *v = &p->v[p->nv];
  *v = (Value){.kind = kind, .name = name, .size = size, .first = -1, .last = -1, .layer = layer,
               .scale = -1};
  if (kind == V_STATE)
    p->state_floats += size;
  return p->nv++;
}

int add_state(Lowering *lw, int layer, int64_t size, const char *name, const char *role) {
  int v = add_value(lw, V_STATE, layer, size, name);
  lw->p->v[v].role = role;
  return v;
}

static Call *append_call(Lowering *lw, Call c) {
  Program *p = lw->p;
  if (p->nc == p->cap_c) {
    int cap = p->cap_c ? 2 * p->cap_c : 32;
    Call *calls = arena_alloc(lw->a, (size_t)cap * sizeof *calls);
    if (p->nc)
      memcpy(calls, p->call, (size_t)p->nc * sizeof *calls);
    p->call = calls;
    p->cap_c = cap;
  }
  p->call[p->nc] = c;
  return &p->call[p->nc++];
}

/* The call runs the AVX2 kernel when the target is avx2 and the kernel
 * has one; a caller whose geometry the AVX2 kernel does not take clears
 * `avx2` again.  A call that does not match its kernel's signature is an
 * internal error, never a silently wrong argument list. */
Call *add_call(Lowering *lw, KernelOp op, int layer, int sublayer, const int *arg, int nargs,
               const int *dim, int ndims) {
  int values, optional, dims;
  kernel_arity(op, &values, &optional, &dims);
  const KernelInfo *k = &kernel_info[op];
  if (nargs < values - optional || nargs > values || ndims != dims ||
      (!lw->avx2 && !(k->isas & K_GENERIC)))
    diag_error((Loc){lw->g->file, 0, 0}, "internal error: a %s call with %d values and %d "
               "dimensions for '%s' (%s): expected %d and %d on %s", k->name, nargs, ndims,
               layer >= 0 ? lw->g->layer[layer].name : "the model", k->signature, values, dims,
               lw->avx2 ? "avx2" : "generic");
  Call c = {.op = op, .layer = layer, .sublayer = sublayer, .guard = lw->guard, .gate = lw->gate,
            .avx2 = lw->avx2 && (k->isas & K_AVX2)};
  for (int i = 0; i < MAX_ARGS; i++) {
    c.arg[i] = i < nargs ? arg[i] : -1;
    const Value *v = c.arg[i] >= 0 ? &lw->p->v[c.arg[i]] : NULL;
    if (v && v->kind == V_WEIGHT && v->wtype != WT_F32) {
      if ((c.wtype != WT_F32 && c.wtype != v->wtype) || !(k->isas & K_TYPED))
        diag_error((Loc){lw->g->file, 0, 0}, "internal error: a %s call with %s weights", k->name,
                   weight_type_name[v->wtype]);
      c.wtype = v->wtype;
    }
  }
  for (int i = 0; i < ndims && i < MAX_DIMS; i++)
    c.dim[i] = dim[i];
  return append_call(lw, c);
}

/* A weight value's data, allocated when weights are bound (NULL for
 * check and info, which only need sizes). */
float *weight_data(Lowering *lw, int v, bool bound) {
  if (!bound)
    return NULL;
  float *data = arena_alloc(lw->a, (size_t)lw->p->v[v].size * sizeof *data);
  lw->p->v[v].data = data;
  return data;
}

/* A copy of a compressible tensor [rows][cols] (rows apart by `stride` floats) quantized as
 * the layer's weight type, with its scales per row at scale[0..rows) (int8). */
static float *quantized(Lowering *lw, const float *w, int64_t rows, int64_t cols, float *scale) {
  float *q = arena_alloc(lw->a, (size_t)(rows * cols) * sizeof *q);
  memcpy(q, w, (size_t)(rows * cols) * sizeof *q);
  quantize_rows(q, rows, cols, lw->wtype, scale);
  return q;
}

/* Value v stored as the layer's weight type; int8 adds its value of n scales, named after it,
 * whose data this returns (NULL when unbound or not int8). */
static float *typed_value(Lowering *lw, int li, int v, int64_t n, bool bound) {
  lw->p->v[v].wtype = lw->wtype;
  if (lw->wtype != WT_I8)
    return NULL;
  int s = add_value(lw, V_WEIGHT, li, n, arena_printf(lw->a, "%s_scale", lw->p->v[v].name));
  lw->p->v[v].scale = s;
  return weight_data(lw, s, bound);
}

int weight_copy(Lowering *lw, int layer, const Param *param, const char *name) {
  int v = add_value(lw, V_WEIGHT, layer, shape_elems(param->shape), name);
  float *d = weight_data(lw, v, param->data != NULL);
  bool typed = param->compress && lw->wtype != WT_F32;
  int64_t rows = param->shape.dim[0], cols = lw->p->v[v].size / (rows ? rows : 1);
  float *scale = typed ? typed_value(lw, layer, v, rows, d != NULL) : NULL;
  if (d)
    memcpy(d, typed ? quantized(lw, param->data, rows, cols, scale) : param->data,
           (size_t)lw->p->v[v].size * sizeof(float));
  return v;
}

const char *vname(Lowering *lw, const Layer *l, const char *what, int k) {
  return k < 0 ? arena_printf(lw->a, "%s_%s", l->cname, what)
               : arena_printf(lw->a, "%s_%s%d", l->cname, what, k);
}

/* The value layer i's readers see; -1 is the model input (value 0), or in
 * a forecast chain the frame fed back. */
int input_value(Lowering *lw, const Layer *l, int k) {
  if (l->input[k] < 0)
    return l->phase == PHASE_FORECAST ? lw->feedback : lw->frame;
  return lw->out[l->input[k]];
}

/* True when layer i's output may be overwritten by its one reader: nobody
 * else reads it, through any chain of aliases (flatten, dropout, fused). */
static bool exclusive(const Graph *g, int i) {
  for (; i >= 0; i = g->layer[i].input[0]) {
    const Layer *l = &g->layer[i];
    if (l->consumers != 1)
      return false;
    if (!(l->op->flags & OP_ALIAS) && l->fused_into < 0)
      return true;
  }
  return false;
}

int inplace_output(Lowering *lw, int li, int64_t size) {
  const Layer *l = &lw->g->layer[li];
  int x = input_value(lw, l, 0);
  if (lw->p->v[x].kind == V_TRANSIENT && exclusive(lw->g, l->input[0]))
    return x;
  return add_value(lw, V_TRANSIENT, li, size, vname(lw, l, "out", -1));
}

/* The weight (and bias) values of y = W x + b, or of y = [W0 | W1] [x0; x1] + b when `split`
 * (the columns of W0) is not 0, laid out for the target's kernel: panels of 8 rows for AVX2,
 * as they are for generic.  Compressed, W0 and W1 have scales of their own per row: at r for
 * one matrix, at (r / 8) 16 + part 8 + r % 8 for two, so a panel's are one vector each. */
static int matrix_weights(Lowering *lw, int li, const char *name, const Param *w, const Param *b,
                          int split, int *bias) {
  int rows = w->shape.dim[0], cols = w->shape.dim[1], padded = (int)round8(rows), bv = -1;
  const char *wname = arena_printf(lw->a, "%s_weight", name), *bname = arena_printf(lw->a, "%s_bias", name);
  int wv = add_value(lw, V_WEIGHT, li, (lw->avx2 ? padded : rows) * (int64_t)cols, wname);
  float *wd = weight_data(lw, wv, w->data);
  const float *src = w->data;
  if (w->compress && lw->wtype != WT_F32) {
    float *sd = typed_value(lw, li, wv, (split ? 2 : 1) * (int64_t)padded, wd != NULL);
    if (wd) {
      float *q = arena_alloc(lw->a, (size_t)rows * cols * sizeof *q), *s = NULL; /* row scales */
      memcpy(q, w->data, (size_t)rows * cols * sizeof *q);
      if (lw->wtype == WT_I8)
        s = arena_alloc(lw->a, 2 * (size_t)rows * sizeof *s);
      for (int part = 0; part < (split ? 2 : 1); part++) { /* each part a matrix of its own */
        int c0 = part ? split : 0, n = split ? (part ? cols - split : split) : cols;
        for (int r = 0; r < rows; r++)
          quantize_rows(q + (int64_t)r * cols + c0, 1, n, lw->wtype, s ? s + (int64_t)part * rows + r : NULL);
      }
      for (int part = 0; sd && part < (split ? 2 : 1); part++)
        for (int r = 0; r < rows; r++)
          sd[split ? r / 8 * 16 + part * 8 + r % 8 : r] = s[(int64_t)part * rows + r];
      src = q;
    }
  }
  if (wd && lw->avx2) {
    pack_panels8(wd, src, rows, cols);
    for (int r = 0; lw->p->v[wv].wtype == WT_BF16 && r < rows; r += 8) { /* per panel and part */
      pair_bf16_vectors(wd + (int64_t)r * cols, split ? split : cols);
      if (split)
        pair_bf16_vectors(wd + (int64_t)r * cols + 8L * split, cols - split);
    }
  } else if (wd)
    memcpy(wd, src, (size_t)rows * cols * sizeof *wd);
  if (b) {
    bv = add_value(lw, V_WEIGHT, li, lw->avx2 ? padded : rows, bname);
    float *bd = weight_data(lw, bv, b->data);
    if (bd)
      memcpy(bd, b->data, (size_t)rows * sizeof *bd);
  }
  *bias = bv;
  return wv;
}

int gemv_weights(Lowering *lw, int li, const char *name, const Param *w, const Param *b,
                 int *bias) {
  return matrix_weights(lw, li, name, w, b, 0, bias);
}

int gate_weights(Lowering *lw, int li, const char *name, const Param *wih, const Param *whh,
                 const Param *bih, const Param *bhh, int *bias) {
  int rows = wih->shape.dim[0], in = wih->shape.dim[1], H = whh->shape.dim[1];
  Param cat = {.name = "cat", .shape = mat(rows, in + H), .compress = wih->compress};
  Param sum = {.name = "sum", .shape = vec(rows)};
  if (wih->data) { /* rows of [W_ih | W_hh], and b_ih + b_hh */
    float *w = arena_alloc(lw->a, (size_t)rows * (in + H) * sizeof *w);
    float *b = arena_alloc(lw->a, (size_t)rows * sizeof *b);
    for (int r = 0; r < rows; r++) {
      memcpy(w + (size_t)r * (in + H), wih->data + (size_t)r * in, (size_t)in * sizeof *w);
      memcpy(w + (size_t)r * (in + H) + in, whh->data + (size_t)r * H, (size_t)H * sizeof *w);
      b[r] = bih->data[r] + bhh->data[r];
    }
    cat.data = w, sum.data = b;
  }
  return matrix_weights(lw, li, name, &cat, &sum, in, bias);
}

void compress_cell_weights(Lowering *lw, int li, int w, const float **wih, const float **whh,
                           int in, int H, int gates) {
  int64_t rows = (int64_t)gates * H, blocks = (H + 7) / 8;
  float *scale = typed_value(lw, li, w, blocks * 2 * gates * 8, *wih != NULL);
  if (!*wih)
    return;
  float *s = arena_alloc(lw->a, 2 * (size_t)rows * sizeof *s); /* ih rows', then hh rows' */
  *wih = quantized(lw, *wih, rows, in, s);
  *whh = quantized(lw, *whh, rows, H, s + rows);
  for (int part = 0; scale && part < 2; part++)
    for (int64_t g = 0; g < gates; g++)
      for (int k = 0; k < H; k++)
        scale[(int64_t)(k / 8 * 2 + part) * gates * 8 + g * 8 + k % 8] = s[part * rows + g * H + k];
}

Call *gemv_call(Lowering *lw, int li, const char *name, const Param *w, const Param *b, int y, int x) {
  int bv, wv = gemv_weights(lw, li, name, w, b, &bv);
  return add_call(lw, K_GEMV, li, -1, (int[]){y, wv, bv, x}, 4,
                  (int[]){w->shape.dim[0], w->shape.dim[1]}, 2);
}

/* The activation fused into layer l (fuse.c), as the activation's own
 * descriptor codes it. */
int fused_act(const Lowering *lw, const Layer *l, float *alpha) {
  *alpha = 0.0f;
  if (l->fused_act < 0)
    return REEL_ACT_NONE;
  const Layer *a = &lw->g->layer[l->fused_act];
  return a->op->activation(a, alpha);
}

/* The geometry of a same-size conv over [x; h] with an odd kernel. */
Geom cell_geom(int in_c0, int in_c1, int rows, int cols, int out_c, int k) {
  Geom g = {.in_c0 = in_c0, .in_c1 = in_c1, .in_h = rows, .in_w = cols, .out_c = out_c,
            .out_h = rows, .out_w = cols, .groups = 1};
  g.win = (Window){.kh = k, .kw = k, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pad_top = k / 2,
                   .pad_bottom = k / 2, .pad_left = k / 2, .pad_right = k / 2};
  return g;
}

/* Every AVX2 conv kernel's limit: kernels up to REEL_CONV_AVX2_MAX_K a side. */
static bool conv_fits_avx2(const Geom *g) {
  return g->win.kh <= REEL_CONV_AVX2_MAX_K && g->win.kw <= REEL_CONV_AVX2_MAX_K;
}

/* 3x3 convs with enough channels on both sides run as Winograd
 * F(2x2, 3x3) (reel_conv_winograd_avx2.c): 2.25x fewer FMAs, for input
 * and output transforms whose cost per FMA saved falls as channels grow,
 * on maps with enough tiles to fill its blocks of 16. */
static bool conv_fits_winograd(const Geom *g) {
  const Window *w = &g->win;
  return w->kh == 3 && w->kw == 3 && w->sh == 1 && w->sw == 1 && w->dh == 1 && w->dw == 1 &&
         g->groups <= 1 && !g->accumulate && g->in_c0 + g->in_c1 >= WINOGRAD_MIN_IN_C &&
         g->out_c >= WINOGRAD_MIN_OUT_C &&
         (g->out_h + 1) / 2 * ((g->out_w + 1) / 2) >= WINOGRAD_MIN_TILES;
}

/* The direct AVX2 kernel whose vectors run over output channels (reel_conv_igemm_avx2.c)
 * where the one whose vectors run over pixels would waste lanes: strided convs (a tile's
 * pixels read every other column) and maps narrower than IGEMM_MAX_OUT_W; never below
 * IGEMM_MIN_OUT_C output channels, whose 32-channel blocks it would leave half empty. */
static bool conv_fits_igemm(const Geom *g) {
  return g->out_c >= IGEMM_MIN_OUT_C &&
         (g->win.sh > 1 || g->win.sw > 1 || g->out_w < IGEMM_MAX_OUT_W);
}

typedef enum { CONV_GENERIC, CONV_ROWS, CONV_IGEMM, CONV_WINOGRAD, CONV_GROUPED } ConvKernel;

static ConvKernel conv_kernel(const Lowering *lw, const Geom *g) {
  if (!lw->avx2 || !conv_fits_avx2(g))
    return CONV_GENERIC;
  if (g->groups > 1) /* depthwise included (reel_conv_grouped_avx2.c) */
    return CONV_GROUPED;
  if (lw->wtype == WT_F32 && conv_fits_winograd(g)) /* compressed filters: Winograd's are others */
    return CONV_WINOGRAD;
  return conv_fits_igemm(g) ? CONV_IGEMM : CONV_ROWS;
}

/* A conv call y (+)= conv([x0; x1]) + b, its weights given in PyTorch's layout (NULL when
 * unbound) and stored as the chosen kernel reads them.  Compressed filters (a scale per output
 * channel for int8) run the direct kernels: Winograd's transformed filters are other numbers. */
Call *conv_call(Lowering *lw, int li, int sub, const char *wname, const float *wt, int b, int y,
                int x0, int x1, Geom geom) {
  int groups = geom.groups ? geom.groups : 1, in_c = geom.in_c0 + geom.in_c1;
  int64_t taps = (int64_t)in_c / groups * geom.win.kh * geom.win.kw;
  ConvKernel k = conv_kernel(lw, &geom);
  bool typed = lw->wtype != WT_F32;
  int64_t block = k == CONV_IGEMM ? REEL_CONV_IGEMM_AVX2_OC_BLOCK : REEL_CONV_AVX2_OC_BLOCK;
  int64_t blocks = (int64_t)(geom.out_c + block - 1) / block * block; /* channels, padded */
  bool plain = k == CONV_GENERIC || k == CONV_GROUPED; /* PyTorch's layout */
  int64_t size = k == CONV_WINOGRAD ? blocks * 16 * in_c : plain ? geom.out_c * taps : blocks * taps;
  int w = add_value(lw, V_WEIGHT, li, size, wname);
  float *wd = weight_data(lw, w, wt != NULL);
  if (typed) {
    float *scale = typed_value(lw, li, w, plain ? geom.out_c : blocks, wd != NULL);
    if (wd) /* the scales per output channel, zeros for the last block's padding */
      wt = quantized(lw, wt, geom.out_c, taps, scale);
  }
  if (wd && k == CONV_WINOGRAD)
    pack_conv_winograd(wd, wt, geom.out_c, in_c);
  else if (wd && k == CONV_IGEMM)
    pack_conv_igemm(wd, wt, geom.out_c, in_c, geom.win.kh, geom.win.kw);
  else if (wd && k == CONV_ROWS)
    pack_conv_avx2(wd, wt, geom.out_c, in_c, geom.win.kh, geom.win.kw);
  else if (wd)
    memcpy(wd, wt, (size_t)size * sizeof *wd);
  Call *c;
  if (k == CONV_GENERIC) {
    c = add_call(lw, K_CONV2D, li, sub, (int[]){y, w, b, x0, x1}, 5, NULL, 0);
    c->avx2 = false;
  } else { /* scratch: the zero-bordered input, partial sums, transforms, widened filters */
    int64_t need = k == CONV_WINOGRAD ? conv_scratch_winograd(&geom)
                   : k == CONV_IGEMM  ? conv_scratch_igemm(&geom)
                   : k == CONV_GROUPED ? conv_scratch_grouped(&geom)
                                       : conv_scratch_avx2(&geom) + (typed ? block * taps : 0);
    int scratch = add_value(lw, V_TRANSIENT, li, need,
                            arena_printf(lw->a, "%s_scratch", lw->p->v[y].name));
    c = add_call(lw, k == CONV_WINOGRAD ? K_CONV2D_WINOGRAD
                     : k == CONV_IGEMM  ? K_CONV2D_IGEMM
                     : k == CONV_GROUPED ? K_CONV2D_GROUPED
                                         : K_CONV2D,
                 li, sub, (int[]){y, w, b, x0, x1, scratch}, 6, NULL, 0);
  }
  c->geom = geom;
  return c;
}

/* The state value `what` (h, c) of stacked layer k of layer li: an
 * encoder's, for init_state; an attention's query. */
int state_value(Lowering *lw, int li, const char *what, int k) {
  const char *name = vname(lw, &lw->g->layer[li], what, k);
  for (int v = 0; v < lw->p->nv; v++)
    if (lw->p->v[v].layer == li && lw->p->v[v].kind == V_STATE && strcmp(lw->p->v[v].name, name) == 0)
      return v;
  return -1; /* an encoder of equal stack (spec.c) always has it */
}

/* A ring of layer li's last n inputs (or outputs) x, pushed every frame. */
int window_ring(Lowering *lw, int li, int x, int n, const char *what) {
  int size = (int)lw->p->v[x].size;
  int ring = add_state(lw, li, (int64_t)size * n, vname(lw, &lw->g->layer[li], what, -1),
                       "window of past frames");
  Guard saved = lw->guard;
  lw->guard = G_ALWAYS;
  add_call(lw, K_WINDOW_PUSH, li, -1, (int[]){ring, x}, 2, (int[]){size, n}, 2);
  lw->guard = saved;
  return ring;
}

void hand_over_state(Lowering *lw, int li, const int *h, const int *c) {
  const Layer *l = &lw->g->layer[li];
  const char *note = arena_printf(lw->a, "state from '%s'", lw->g->layer[l->init_state].name);
  for (int k = 0; k < l->stack; k++) {
    int n[2] = {(int)lw->p->v[h[k]].size, 0};
    add_call(lw, K_COPY, li, k, (int[]){h[k], state_value(lw, l->init_state, "h", k)}, 2, n, 2)
        ->note = note;
    if (c && c[k] >= 0)
      add_call(lw, K_COPY, li, k, (int[]){c[k], state_value(lw, l->init_state, "c", k)}, 2, n, 2)
          ->note = note;
  }
  lw->p->prologue_end = lw->p->nc;
}

Call *repeat_call(Lowering *lw, int c) {
  Call copy = lw->p->call[c];
  copy.guard = lw->guard;
  copy.gate = lw->gate;
  return append_call(lw, copy);
}

/* Each weight value's place in its type's section of the weights, in the order they were made,
 * each on a 32-byte line so the kernels' vector loads start aligned. */
static void layout_weights(Program *p) {
  int64_t *end[WT_COUNT] = {&p->weight_floats, &p->weight_halves, &p->weight_int8s};
  for (int i = 0; i < p->nv; i++) {
    Value *v = &p->v[i];
    if (v->kind != V_WEIGHT)
      continue;
    int64_t line = 32 / weight_type_bytes(v->wtype);
    v->offset = *end[v->wtype];
    *end[v->wtype] += (v->size + line - 1) / line * line;
  }
}

static int lower_layer(Lowering *lw, int i) {
  const Layer *l = &lw->g->layer[i];
  if (l->fused_into >= 0)
    return lw->out[l->fused_into];
  lw->wtype = (WeightType)l->weight_type;
  return l->op->lower(lw, i);
}

/* The weights file's values are finite (weights.c), but folding a batch norm or the input's
 * normalisation into a conv can overflow float (a tiny std or running variance): an error, not
 * an inf in the generated weights. */
static void check_finite_weights(const Program *p) {
  for (int i = 0; i < p->nv; i++) {
    const Value *v = &p->v[i];
    for (int64_t k = 0; v->kind == V_WEIGHT && v->data && k < v->size; k++)
      if (!isfinite(v->data[k])) {
        const Layer *l = &p->g->layer[v->layer < 0 ? 0 : v->layer];
        diag_error(v->layer < 0 ? p->g->loc_input : l->loc, "%s '%s': weight %s element %lld is "
                   "%s after folding a batch norm or the input's normalisation into it: float "
                   "cannot hold it (is a std or running variance too small?)",
                   v->layer < 0 ? "input" : l->op->name, v->layer < 0 ? "frame" : l->name,
                   v->name, (long long)k, isnan(v->data[k]) ? "NaN" : "infinite");
        break;
      }
  }
}

/* Value names become C identifiers (state fields, upper-cased weight
 * macros), so two layers must not map to one: 'head' and 'HEAD', or a
 * linear 'x_l0' beside an lstm 'x'.  A clash gets the value's index. */
static void unique_names(Arena *a, Program *p) {
  for (int i = 0; i < p->nv; i++)
    for (int j = 0; j < i; j++)
      if (strcasecmp(p->v[i].name, p->v[j].name) == 0) {
        p->v[i].name = arena_printf(a, "%s_%d", p->v[i].name, i);
        j = -1; /* the new name may clash too: check again */
      }
}

/* Lifetimes: a value lives from the call that first touches it to the
 * call that last does; a phase's output lives to the end of its phase. */
static void fill_lifetimes(Program *p) {
  int ends[2] = {p->out_value, p->clip_value};
  for (int c = 0; c < p->nc; c++)
    for (int i = 0; i < MAX_ARGS; i++) {
      int v = p->call[c].arg[i];
      if (v < 0)
        continue;
      if (p->v[v].first < 0)
        p->v[v].first = c;
      p->v[v].last = c;
    }
  for (int k = 0; k < 2; k++) { /* read by the copy out at the end of step() or clip() */
    int v = ends[k], end = k == 0 ? p->step_end : p->nc;
    if (v < 0)
      continue;
    if (p->v[v].first < 0)
      p->v[v].first = end;
    p->v[v].last = end;
  }
  if (p->forecast_value >= 0)
    p->v[p->forecast_value].last = p->forecast_end;
}

/* Whether layer i's own window of outputs must be stored: some layer reads it, and not only
 * layers that keep their own window of what they make of it (mha's projected keys). */
static bool raw_window_read(const Graph *g, int i) {
  bool own = false;
  for (int j = i + 1; j < g->n_layer; j++) {
    const Layer *l = &g->layer[j];
    if ((l->n_input == 0 || l->input[0] != i) && l->values != i)
      continue;
    if (l->op->flags & OP_READS_WINDOWS)
      return true;
    own = own || (l->op->flags & OP_OWN_WINDOW);
  }
  return !own;
}

/* The model's float frame: the input as it is, or converted from the frame m_step takes
 * (uint8, channel-last, normalised; a normalisation folded into the first conv stays out). */
static int lower_input(Lowering *lw) {
  const Graph *g = lw->g;
  const InputFormat *f = &g->in_fmt;
  if (!input_converted(g) || (f->folded && !f->u8 && !f->hwc))
    return 0;
  int c = g->input.dim[0], per = (int)(shape_elems(g->input) / c), ab[2] = {-1, -1};
  if (!f->folded && (f->scale != 1.0 || f->mean || f->std)) { /* y = a x + b per channel */
    ab[0] = add_value(lw, V_WEIGHT, -1, c, "input_scale");
    ab[1] = add_value(lw, V_WEIGHT, -1, c, "input_shift");
    float *a = weight_data(lw, ab[0], true), *b = weight_data(lw, ab[1], true);
    for (int ch = 0; ch < c; ch++) {
      double sd = f->std ? f->std[ch] : 1.0, mean = f->mean ? f->mean[ch] : 0.0;
      a[ch] = (float)(f->scale / sd);
      b[ch] = (float)(-mean / sd);
    }
  }
  int frame = add_value(lw, V_TRANSIENT, -1, shape_elems(g->input), "frame");
  add_call(lw, f->u8 ? K_INPUT_U8 : K_INPUT_F32, -1, -1, (int[]){frame, 0, ab[0], ab[1]}, 4,
           (int[]){c, per, f->hwc}, 3)
      ->note = f->folded ? "as floats, normalised in the first conv" : "(x scale - mean) / std";
  return frame;
}

/* The step phase: every layer that runs per frame or per window, in order;
 * a layer that runs per clip read only does its per-frame part (a clip
 * pool folds its input in, when its input's windows close). */
static void lower_step(Lowering *lw) {
  const Graph *g = lw->g;
  lw->frame = lower_input(lw);
  if (g->feedback && g->forecast_steps) { /* the last frame, for the forecast to start from */
    int keep = add_state(lw, -1, shape_elems(g->input), "last_frame", "the last frame");
    add_call(lw, K_COPY, -1, -1, (int[]){keep, lw->frame}, 2,
             (int[]){(int)shape_elems(g->input), 0}, 2)->note = "keep the frame: a forecast starts from it";
    lw->feedback = keep;
  }
  for (int i = 0; i < g->n_step_layers; i++) {
    const Layer *l = &g->layer[i];
    lw->guard = l->rate == RATE_WINDOW || (l->rate == RATE_CLIP && l->gate >= 0) ? G_CLOSE : G_ALWAYS;
    lw->gate = l->rate == RATE_FRAME ? -1 : l->gate;
    if (l->rate != RATE_CLIP)
      lw->out[i] = lower_layer(lw, i);
    else if (l->op->lower_frame)
      l->op->lower_frame(lw, i);
    lw->guard = G_ALWAYS;
    lw->gate = -1;
    if (l->window && raw_window_read(g, i))
      lw->ring[i] = window_ring(lw, i, lw->out[i], l->window, "window");
  }
  lw->p->step_end = lw->p->prologue_end = lw->p->nc;
}

/* The forecast: the prologue (state hand-over, the frame fed back) and
 * the body run per forecast step, which ends by feeding its frame back. */
static void lower_forecast(Lowering *lw) {
  const Graph *g = lw->g;
  Program *p = lw->p;
  int n = (int)shape_elems(g->input);
  if (g->feedback) {
    int last = lw->feedback;
    lw->feedback = add_value(lw, V_TRANSIENT, g->n_step_layers, n, "fed_back");
    add_call(lw, K_COPY, g->n_step_layers, -1, (int[]){lw->feedback, last}, 2, (int[]){n, 0}, 2)
        ->note = "its first input: the last observed frame";
  }
  int prologue = p->nc;
  for (int i = g->n_step_layers; i < g->n_layer; i++) {
    if (i == g->n_step_layers + 1 && p->prologue_end < prologue)
      p->prologue_end = prologue; /* the first layer set no state hand-over */
    lw->out[i] = lower_layer(lw, i);
  }
  if (p->prologue_end < prologue)
    p->prologue_end = prologue;
  p->forecast_value = lw->out[g->n_layer - 1];
  if (g->feedback)
    add_call(lw, K_COPY, g->n_layer - 1, -1, (int[]){lw->feedback, p->forecast_value}, 2,
             (int[]){n, 0}, 2)->note = "feed this forecast frame back";
}

Program *lower(Arena *a, const Graph *g, Target t) {
  int errors = diag_error_count();
  Program *p = arena_alloc(a, sizeof *p);
  p->g = g;
  p->forecast_value = p->out_value = p->clip_value = -1;
  Lowering lw = {.a = a, .p = p, .g = g, .out = arena_alloc(a, (size_t)g->n_layer * sizeof(int)),
                 .ring = arena_alloc(a, (size_t)g->n_layer * sizeof(int)),
                 .avx2 = t == TARGET_AVX2, .guard = G_ALWAYS, .gate = -1, .feedback = -1,
                 .fixup = arena_alloc(a, (size_t)g->n_layer * sizeof(Fixup)),
                 .rerun = arena_alloc(a, (size_t)g->n_layer * sizeof(bool))};
  add_value(&lw, V_INPUT, -1, shape_elems(g->input), "in");
  for (int i = 0; i < g->n_layer; i++)
    lw.ring[i] = -1;
  lower_step(&lw);
  if (g->forecast_steps)
    lower_forecast(&lw);
  p->forecast_end = p->nc;
  for (int i = 0; i < g->n_step_layers; i++) /* the clip phase */
    if (g->layer[i].rate == RATE_CLIP)
      lw.out[i] = lower_layer(&lw, i);
  for (int k = 0; k < lw.n_fixup; k++) {
    const Layer *q = &g->layer[lw.fixup[k].layer];
    p->call[lw.fixup[k].call].arg[lw.fixup[k].arg] = state_value(&lw, lw.fixup[k].layer, "h", q->stack - 1);
  }
  if (g->clip_head)
    p->clip_value = lw.out[g->n_step_layers - 1];
  else
    p->out_value = lw.out[g->n_step_layers - 1];
  layout_weights(p);
  check_finite_weights(p);
  unique_names(a, p);
  fill_lifetimes(p);
  return diag_error_count() > errors ? NULL : p;
}
