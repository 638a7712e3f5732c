/* Compressed weights.  A layer's matrices and filters (Param.compress) can be stored as
 * bfloat16 or int8 instead of float32 (--weight-type, or the layer's `weight_type:`):
 *   bf16  each weight rounded to the nearest bfloat16, ties to even (torch's .bfloat16());
 *   int8  per row of the PyTorch tensor (its first dimension: a linear's output feature, a
 *         gate row of weight_ih_l<k> and, apart, of weight_hh_l<k>, a conv's output channel)
 *         scale = max|row| / 127 and q = round_half_even(w / scale), in float32 arithmetic
 *         as torch computes `w.abs().amax(1) / 127` and `torch.round(w / scale)`.
 * The model is then exactly the float32 model with dequantized weights (q * scale): binding
 * replaces the parameters by those values, so the interpreter, the folds (a batch norm's
 * per-channel factor commutes with a per-row scale) and the goldens all see that model, and
 * lowering quantizes each packed tensor again, which gives back the same q (w / scale lies
 * within a few ulps of an integer) and scales within an ulp. */
#include <math.h>
#include <string.h>

#include "ops.h"

const char *const weight_type_name[WT_COUNT] = {"f32", "bf16", "int8"};

int weight_type_bytes(WeightType t) { return t == WT_I8 ? 1 : t == WT_BF16 ? 2 : 4; }

float bf16_round(float x) {
  uint32_t bits;
  memcpy(&bits, &x, 4);
  if ((bits & 0x7f800000u) != 0x7f800000u) /* finite: round to nearest, ties to even */
    bits += 0x7fffu + ((bits >> 16) & 1u);
  bits &= 0xffff0000u;
  memcpy(&x, &bits, 4);
  return x;
}

void quantize_rows(float *w, int64_t rows, int64_t cols, WeightType t, float *scale) {
  for (int64_t r = 0; r < rows; r++) {
    float *row = w + r * cols;
    if (t == WT_BF16) {
      for (int64_t j = 0; j < cols; j++)
        row[j] = bf16_round(row[j]);
      continue;
    }
    if (t != WT_I8)
      continue;
    float max = 0.0f;
    for (int64_t j = 0; j < cols; j++)
      max = fabsf(row[j]) > max ? fabsf(row[j]) : max;
    float s = max / 127.0f;
    scale[r] = s;
    for (int64_t j = 0; j < cols; j++)
      row[j] = s > 0.0f ? rintf(row[j] / s) : 0.0f; /* rint: ties to even */
  }
}

void resolve_weight_types(Graph *g, WeightType t) {
  for (int i = 0; i < g->n_layer; i++)
    if (g->layer[i].weight_type < 0)
      g->layer[i].weight_type = (g->layer[i].op->flags & OP_MATRICES) ? (int)t : WT_F32;
}

void dequantize_params(Arena *a, Graph *g) {
  for (int i = 0; i < g->n_layer; i++) {
    Layer *l = &g->layer[i];
    for (int j = 0; l->weight_type != WT_F32 && j < l->n_param; j++) {
      Param *p = &l->param[j];
      if (!p->compress || !p->data)
        continue;
      int64_t rows = p->shape.dim[0], cols = shape_elems(p->shape) / rows;
      float *w = arena_alloc(a, (size_t)(rows * cols) * sizeof *w);
      float *scale = arena_alloc(a, (size_t)rows * sizeof *scale);
      memcpy(w, p->data, (size_t)(rows * cols) * sizeof *w);
      quantize_rows(w, rows, cols, (WeightType)l->weight_type, scale);
      for (int64_t k = 0; l->weight_type == WT_I8 && k < rows * cols; k++)
        w[k] *= scale[k / cols];
      p->data = w;
    }
  }
}

int64_t weight_bytes(const Program *p) {
  return p->weight_floats * 4 + p->weight_halves * 2 + p->weight_int8s;
}
