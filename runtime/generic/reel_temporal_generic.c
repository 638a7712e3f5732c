/* Time: windows of past frames, attention over them (or over the
 * positions of a map), and pooling over a clip.  `frames` counts the
 * frames since reset, the current one included; a ring of n entries keeps
 * frame t (1-based) in slot (t - 1) % n. */
#include <math.h>
#include <string.h>

#include "reel_runtime.h"

static int valid_entries(unsigned long long frames, int n) {
  return frames < (unsigned long long)n ? (int)frames : n;
}

/* The slot of the entry `age` frames old (age < valid_entries). */
static long slot_of_age(unsigned long long frames, int n, int age) {
  return (long)((frames - 1 - (unsigned long long)age) % (unsigned long long)n);
}

void reel_window_push_generic(float *ring, const float *x, int size, int n,
                              unsigned long long frames) {
  memcpy(ring + slot_of_age(frames, n, 0) * size, x, sizeof(float) * (size_t)size);
}

void reel_window_gather_generic(float *y, const float *ring, int size, int n,
                                unsigned long long frames) {
  int j, valid = valid_entries(frames, n);
  for (j = 0; j < valid; j++) /* the oldest first */
    memcpy(y + (long)j * size, ring + slot_of_age(frames, n, valid - 1 - j) * size,
           sizeof(float) * (size_t)size);
  memset(y + (long)valid * size, 0, sizeof(float) * (size_t)(n - valid) * (size_t)size);
}

void reel_window_max_generic(float *y, const float *ring, int size, int n,
                             unsigned long long frames) {
  int i, j, valid = valid_entries(frames, n);
  memcpy(y, ring, sizeof(float) * (size_t)size);
  for (j = 1; j < valid; j++)
    for (i = 0; i < size; i++)
      if (ring[(long)j * size + i] > y[i] || ring[(long)j * size + i] != ring[(long)j * size + i])
        y[i] = ring[(long)j * size + i]; /* NaN wins, as in torch.max */
}

void reel_window_mean_generic(float *y, const float *ring, int size, int n,
                              unsigned long long frames) {
  int i, j, valid = valid_entries(frames, n);
  for (i = 0; i < size; i++) {
    float sum = 0.0f;
    for (j = 0; j < valid; j++)
      sum += ring[(long)j * size + i];
    y[i] = sum / (float)valid;
  }
}

static int attention_keys(const reel_attention_desc *d, unsigned long long frames) {
  return d->window ? valid_entries(frames, d->n) : d->n;
}

void reel_attention_dot_generic(const reel_attention_desc *d, float *e, const float *keys,
                                const float *q, unsigned long long frames) {
  int i, k, n = attention_keys(d, frames);
  for (i = 0; i < n; i++) {
    float s = 0.0f;
    for (k = 0; k < d->key_dim; k++)
      s += q[k] * keys[(long)i * d->key_step + (long)k * d->key_stride];
    e[i] = s * d->scale;
  }
}

void reel_attention_additive_generic(const reel_attention_desc *d, float *e, const float *keys,
                                     const float *hq, const float *wx, const float *bx,
                                     const float *v, int hidden, unsigned long long frames) {
  int i, a, k, n = attention_keys(d, frames);
  for (i = 0; i < n; i++) {
    float s = 0.0f;
    for (a = 0; a < hidden; a++) {
      float t = bx[a] + hq[a];
      for (k = 0; k < d->key_dim; k++)
        t += wx[(long)a * d->key_dim + k] * keys[(long)i * d->key_step + (long)k * d->key_stride];
      s += v[a] * tanhf(t);
    }
    e[i] = s;
  }
}

void reel_attention_apply_generic(const reel_attention_desc *d, float *out, float *weights,
                                  float *e, const float *values, unsigned long long frames) {
  int i, k, n = attention_keys(d, frames);
  memset(out, 0, sizeof(float) * (size_t)d->value_dim);
  if (n == 0) {
    memset(weights, 0, sizeof(float) * (size_t)d->n);
    return; /* nothing seen yet: no keys, a zero context */
  }
  reel_f32_softmax_generic(e, e, n);
  for (i = 0; i < n; i++)
    for (k = 0; k < d->value_dim; k++)
      out[k] += e[i] * values[(long)i * d->value_step + (long)k * d->value_stride];
  for (i = 0; i < n; i++) {
    /* windows report by age: entry i is frame t - i */
    weights[i] = e[d->window ? slot_of_age(frames, d->n, i) : i];
  }
  /* The entries past the valid ones are PyTorch's masked_fill(-inf) before the
   * softmax: exp(-inf - max) / sum, 0 unless the softmax is NaN (then so is every
   * e[i], e[0] included). */
  for (i = n; i < d->n; i++)
    weights[i] = 0.0f * e[0];
}

void reel_mha_generic(const reel_attention_desc *d, float *out, float *weights, float *e,
                      const float *q, const float *keys, const float *values, const float *kb,
                      const float *vb, int heads, int key_padding, unsigned long long frames) {
  int h, i, k, dh = d->key_dim / heads, filled = valid_entries(frames, d->n);
  int n = key_padding ? filled : d->n;
  memset(weights, 0, sizeof(float) * (size_t)d->n);
  memset(out, 0, sizeof(float) * (size_t)d->value_dim);
  if (n == 0)
    return; /* nothing seen yet: no keys, a zero context */
  for (h = 0; h < heads; h++) {
    const float *qh = q + (long)h * dh;
    float *oh = out + (long)h * dh;
    for (i = 0; i < n; i++) { /* slot i; slots past the filled ones are zero frames */
      const float *kh = i < filled ? keys + (long)i * d->key_step + (long)h * dh
                                   : kb ? kb + (long)h * dh : NULL;
      float s = 0.0f;
      for (k = 0; kh && k < dh; k++)
        s += qh[k] * kh[k];
      e[i] = d->scale * s;
    }
    reel_f32_softmax_generic(e, e, n);
    for (i = 0; i < n; i++) {
      const float *vh = i < filled ? values + (long)i * d->value_step + (long)h * dh
                                   : vb ? vb + (long)h * dh : NULL;
      for (k = 0; vh && k < dh; k++)
        oh[k] += e[i] * vh[k];
    }
    /* by age: the filled slots by frame, then the zero frames (alike, in any order) */
    for (i = 0; i < filled; i++)
      weights[i] += e[slot_of_age(frames, d->n, i)] / (float)heads;
    for (i = filled; i < n; i++)
      weights[i] += e[i] / (float)heads;
    for (i = n; i < d->n; i++) /* masked_fill(-inf): 0, or NaN with the softmax */
      weights[i] += 0.0f * e[0];
  }
}

void reel_tpool_fold_generic(float *acc, const float *x, int size, int mode, int count,
                             unsigned long long k) {
  switch (mode) {
  case REEL_TPOOL_MAX:
    if (k == 1)
      memcpy(acc, x, sizeof(float) * (size_t)size);
    else
      reel_f32_max_generic(acc, x, size);
    break;
  case REEL_TPOOL_MEAN:
    reel_f32_sum_fold_generic(acc, acc + size, 1.0f, x, size);
    break;
  default: /* concat: the first `count` values */
    if (k <= (unsigned long long)count)
      memcpy(acc + (long)(k - 1) * size, x, sizeof(float) * (size_t)size);
    break;
  }
}

void reel_tpool_read_generic(float *y, const float *acc, int size, int mode, int count,
                             unsigned long long k) {
  int total = mode == REEL_TPOOL_CONCAT ? size * count : size;
  if (k == 0)
    memset(y, 0, sizeof(float) * (size_t)total);
  else if (mode == REEL_TPOOL_MEAN)
    reel_f32_sum_read_generic(y, acc, acc + size, 1.0f / (float)k, size);
  else
    memcpy(y, acc, sizeof(float) * (size_t)total);
}

void reel_tpool_first_generic(float *y, const float *x, int size, int mode, int count) {
  memcpy(y, x, sizeof(float) * (size_t)size);
  if (mode == REEL_TPOOL_CONCAT)
    memset(y + size, 0, sizeof(float) * (size_t)(count - 1) * (size_t)size);
}
