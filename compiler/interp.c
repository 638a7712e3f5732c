/* The reference interpreter: runs the spec's layers directly from
 * spec.md's equations, in double precision (layer outputs held at float
 * precision, as PyTorch's tensors are), with no fusion, lowering,
 * packing or planning.  It is the oracle the generated code is tested
 * against.  Each op runs itself (its descriptor's interp, in
 * compiler/ops/); this file steps the frames, keeps the layers' state and
 * gives the ops their shared arithmetic. */
#include <math.h>
#include <string.h>

#include "ops.h"

double interp_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

double *interp_zeros(Arena *a, int64_t n) {
  return arena_alloc(a, (size_t)(n ? n : 1) * sizeof(double));
}

/* y = W x + b for row-major W (rows x cols). */
void interp_matvec(double *y, const float *w, const float *b, const double *x, int rows, int cols) {
  for (int r = 0; r < rows; r++) {
    double s = b ? b[r] : 0.0;
    for (int j = 0; j < cols; j++)
      s += (double)w[(size_t)r * cols + j] * x[j];
    y[r] = s;
  }
}

/* y (+)= conv2d([x0; x1]) + b: PyTorch's cross-correlation, groups included. */
void interp_conv(double *y, bool accumulate, const double *x0, int c0, const double *x1, int c1,
                 int h, int w, const float *wt, const float *b, int out_c, int oh, int ow,
                 const Window *win, int groups) {
  int cpg = (c0 + c1) / groups, opg = out_c / groups;
  for (int o = 0; o < out_c; o++)
    for (int r = 0; r < oh; r++)
      for (int q = 0; q < ow; q++) {
        double s = accumulate ? y[((size_t)o * oh + r) * ow + q] : b ? b[o] : 0.0;
        for (int ig = 0; ig < cpg; ig++) {
          int ic = o / opg * cpg + ig;
          /* x1 is NULL only with c1 = 0, when ic < c0 always */
          /* cppcheck-suppress nullPointerArithmetic */
          const double *plane = ic < c0 ? x0 + (size_t)ic * h * w : x1 + (size_t)(ic - c0) * h * w;
          for (int kr = 0; kr < win->kh; kr++)
            for (int kq = 0; kq < win->kw; kq++) {
              int ir = r * win->sh - win->pad_top + kr * win->dh;
              int iq = q * win->sw - win->pad_left + kq * win->dw;
              if (ir >= 0 && ir < h && iq >= 0 && iq < w)
                s += (double)wt[(((size_t)o * cpg + ig) * win->kh + kr) * win->kw + kq] *
                     plane[(size_t)ir * w + iq];
            }
        }
        y[((size_t)o * oh + r) * ow + q] = s;
      }
}

Window same_window(int k) {
  return (Window){.kh = k, .kw = k, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .pad_top = k / 2,
                  .pad_bottom = k / 2, .pad_left = k / 2, .pad_right = k / 2};
}

void interp_pool(double *y, const double *x, int c, int h, int w, int oh, int ow, const Window *win,
                 bool max) {
  for (int k = 0; k < c; k++)
    for (int r = 0; r < oh; r++)
      for (int q = 0; q < ow; q++) {
        int r0 = r * win->sh - win->pad_top, q0 = q * win->sw - win->pad_left;
        int r1 = r0 + win->kh, q1 = q0 + win->kw;
        /* PyTorch: avg divides by the window clipped to the padded input,
         * or (count_include_pad false) to the input */
        int pr1 = r1 < h + win->pad_top ? r1 : h + win->pad_top;
        int pq1 = q1 < w + win->pad_left ? q1 : w + win->pad_left;
        int padded = (pr1 - r0) * (pq1 - q0), count = 0;
        double acc = max ? -INFINITY : 0.0;
        for (int ir = r0 < 0 ? 0 : r0; ir < r1 && ir < h; ir++)
          for (int iq = q0 < 0 ? 0 : q0; iq < q1 && iq < w; iq++) {
            double v = x[((size_t)k * h + ir) * w + iq];
            acc = max ? (v > acc || isnan(v) ? v : acc) : acc + v;
            count++;
          }
        y[((size_t)k * oh + r) * ow + q] = max ? acc : acc / (win->count_include_pad ? padded : count);
      }
}

const double *interp_input(const Interp *in, const Layer *l, int k) {
  if (l->input[k] < 0)
    return l->phase == PHASE_FORECAST ? in->feedback : in->input;
  return in->s[l->input[k]].y;
}

/* Entries of a ring of n that hold frames, and the slot of the entry `age`
 * frames old (frame t (1-based) is in slot (t - 1) % n). */
int ring_valid(const Interp *in, int n) {
  return in->frames < (uint64_t)n ? (int)in->frames : n;
}

int ring_slot(const Interp *in, int n, int age) {
  return (int)((in->frames - 1 - (uint64_t)age) % (uint64_t)n);
}

void ring_push(double *ring, const double *x, int64_t size, int n, uint64_t frames) {
  memcpy(ring + (size_t)((frames - 1) % (uint64_t)n) * size, x, (size_t)size * sizeof(double));
}

bool window_closes(const Interp *in, const Layer *t) {
  return in->frames >= (uint64_t)t->frames &&
         (in->frames - (uint64_t)t->frames) % (uint64_t)t->tstride == 0;
}

/* Run layer li now.  Its output is then held at float precision, as every
 * tensor between PyTorch's layers is: within a layer the interpreter
 * computes in double, but a value past FLT_MAX becomes inf where PyTorch's
 * float tensor does, and the layers after see what PyTorch's see. */
void interp_layer(Interp *in, int li) {
  const Layer *l = &in->g->layer[li];
  double *y = in->s[li].y;
  l->op->interp(in, li);
  for (int64_t i = 0, n = shape_elems(l->out_shape); i < n; i++)
    y[i] = (double)(float)y[i];
}

/* One frame through the per-frame chain, at each layer's rate. */
static void step_frame(Interp *in) {
  const Graph *g = in->g;
  for (int i = 0; i < g->n_step_layers; i++) {
    const Layer *l = &g->layer[i];
    LayerState *s = &in->s[i];
    if (l->op->interp_frame)
      l->op->interp_frame(in, i);
    if (l->rate == RATE_CLIP) /* the layers that run per clip read wait for clip() */
      continue;
    if (l->rate == RATE_WINDOW && !window_closes(in, &g->layer[l->gate]))
      continue;
    interp_layer(in, i);
    if (l->window)
      ring_push(s->ring, s->y, shape_elems(l->out_shape), l->window, in->frames);
  }
}

/* The per-clip layers on the pools' current values. */
static const double *eval_clip(Interp *in) {
  const Graph *g = in->g;
  for (int i = 0; i < g->n_step_layers; i++)
    if (g->layer[i].rate == RATE_CLIP)
      interp_layer(in, i);
  return in->s[g->n_step_layers - 1].y;
}

/* [T, *frame], or [T, frame elements]: the same floats in the same order. */
/* The frames as m_step takes them: [T, *frame] ([T, H, W, C] for layout hwc), or [T, size];
 * a uint8 frame's elements are integers 0 to 255 (a U8 tensor, or floats). */
static bool input_fits(Arena *a, const Graph *g, const Tensor *x, const char *path) {
  Shape frame = g->input;
  if (g->in_fmt.hwc)
    frame = chw(g->input.dim[1], g->input.dim[2], g->input.dim[0]);
  bool fits = x->shape.rank == frame.rank + 1 && x->shape.dim[0] >= 1;
  for (int i = 0; fits && i < frame.rank; i++)
    fits = x->shape.dim[i + 1] == frame.dim[i];
  if (!fits && x->shape.rank == 2 && x->shape.dim[0] >= 1)
    fits = x->shape.dim[1] == shape_elems(frame);
  if (!fits) {
    diag_error((Loc){path, 0, 0}, "tensor 'input' has shape %s: expected [T, %s with T >= 1%s",
               shape_str(a, x->shape), shape_str(a, frame) + 1,
               g->in_fmt.hwc ? " (layout hwc: each frame channel-last)" : "");
    return false;
  }
  int64_t n = shape_elems(x->shape);
  for (int64_t i = 0; g->in_fmt.u8 && i < n; i++)
    if (!(x->data[i] >= 0 && x->data[i] <= 255 && x->data[i] == (float)(int)x->data[i])) {
      diag_error((Loc){path, 0, 0}, "tensor 'input': element %lld is %g: a uint8 frame holds "
                 "integers 0 to 255", (long long)i, (double)x->data[i]);
      return false;
    }
  return true;
}

/* Frame t of x as the model's float frame: channel-first, normalised (each value a float32,
 * as PyTorch's normalised tensor holds it). */
static void model_frame(const Graph *g, const float *x, double *y) {
  const InputFormat *f = &g->in_fmt;
  int64_t c = g->input.dim[0], per = shape_elems(g->input) / c;
  for (int64_t ch = 0; ch < c; ch++)
    for (int64_t i = 0; i < per; i++) {
      double v = x[f->hwc ? i * c + ch : ch * per + i] * f->scale;
      v = (v - (f->mean ? f->mean[ch] : 0.0)) / (f->std ? f->std[ch] : 1.0);
      y[ch * per + i] = input_converted(g) ? (float)v : v;
    }
}

static Shape with_time(int t, Shape s) {
  Shape r = {s.rank + 1, {t}};
  for (int i = 0; i < s.rank; i++)
    r.dim[i + 1] = s.dim[i];
  return r;
}

/* The forecast from the frames seen so far: every forecast layer starts
 * from zero state, the first from the encoder's (init_state). */
static float *forecast(Interp *in, double *last) {
  const Graph *g = in->g;
  const Layer *fc = forecast_output(g), *first = &g->layer[g->n_step_layers];
  int64_t fsize = shape_elems(fc->out_shape);
  float *frames = arena_alloc(in->a, (size_t)(g->forecast_steps * fsize) * sizeof *frames);
  for (int i = g->n_step_layers; i < g->n_layer; i++) {
    LayerState *s = &in->s[i];
    for (int k = 0; k < g->layer[i].stack; k++) {
      const LayerState *from = first->init_state >= 0 && i == g->n_step_layers
                                   ? &in->s[first->init_state] : NULL;
      size_t bytes = (size_t)s->state_size[k] * sizeof(double);
      for (int q = 0; q < 2; q++) {
        double *state = q ? s->c[k] : s->h[k];
        if (state && from)
          memcpy(state, q ? from->c[k] : from->h[k], bytes);
        else if (state)
          memset(state, 0, bytes);
      }
    }
  }
  in->feedback = last; /* the last observed frame, then each forecast frame */
  for (int k = 0; k < g->forecast_steps; k++) {
    for (int i = g->n_step_layers; i < g->n_layer; i++)
      interp_layer(in, i);
    for (int64_t i = 0; i < fsize; i++)
      frames[k * fsize + i] = (float)in->s[g->n_layer - 1].y[i];
    if (g->feedback)
      memcpy(last, in->s[g->n_layer - 1].y, (size_t)fsize * sizeof(double));
  }
  return frames;
}

int interp_outputs(Arena *a, const Graph *g, TensorFile *inputs, Tensor result[INTERP_OUTPUTS]) {
  Tensor *x = tensors_find(inputs, "input");
  if (!x) {
    diag_error((Loc){inputs->path, 0, 0}, "no tensor 'input': expected [T, %s",
               shape_str(a, g->input) + 1);
    return -1;
  }
  if (!x->data) {
    diag_error((Loc){inputs->path, 0, 0}, "tensor 'input' is %s: expected floats (F32, F16, BF16 "
               "or F64)", x->dtype);
    return -1;
  }
  if (!input_fits(a, g, x, inputs->path))
    return -1;
  int64_t frame = shape_elems(g->input);
  int T = x->shape.dim[0], out = graph_out_size(g);

  Interp in = {a, g, arena_alloc(a, (size_t)g->n_layer * sizeof(LayerState)), interp_zeros(a, frame),
               NULL, 0};
  int64_t attention_floats = 0;
  for (int i = 0; i < g->n_layer; i++) {
    const Layer *l = &g->layer[i];
    in.s[i].y = interp_zeros(a, shape_elems(l->out_shape));
    if (l->op->interp_init)
      l->op->interp_init(&in, i);
    if (l->window)
      in.s[i].ring = interp_zeros(a, l->window * shape_elems(l->out_shape));
    attention_floats += in.s[i].n_weights;
  }
  double *acc = interp_zeros(a, out);
  float *per_frame = arena_alloc(a, (size_t)T * out * sizeof(float));
  float *clip_steps = arena_alloc(a, (size_t)T * out * sizeof(float));
  float *weights = arena_alloc(a, (size_t)(T * attention_floats + 1) * sizeof(float));
  double *last = interp_zeros(a, frame);

  for (int t = 0; t < T; t++) {
    double *frame_in = (double *)in.input;
    model_frame(g, x->data + t * frame, frame_in);
    memcpy(last, frame_in, (size_t)frame * sizeof(double));
    in.frames++;
    step_frame(&in);
    const double *y = in.s[g->n_step_layers - 1].y;
    if (g->clip_head)
      y = eval_clip(&in);
    double scale = g->clip == CLIP_MEAN ? 1.0 / (t + 1) : g->clip == CLIP_WEIGHTED ? 2.0 / ((t + 1.0) * (t + 2)) : 1.0;
    for (int i = 0; i < out; i++) {
      double p = y[i];
      per_frame[(size_t)t * out + i] = (float)p;
      if (g->clip == CLIP_MEAN)
        acc[i] += p;
      else if (g->clip == CLIP_WEIGHTED)
        acc[i] += (t + 1) * p;
      else if (g->clip == CLIP_MAX)
        acc[i] = t == 0 || p > acc[i] || isnan(p) ? p : acc[i]; /* NaN wins, as in torch.max */
      else
        acc[i] = p; /* last, or the per-clip output */
      clip_steps[(size_t)t * out + i] = (float)(acc[i] * scale);
    }
    int64_t at = 0;
    for (int i = 0; i < g->n_layer; i++)
      for (int j = 0; j < in.s[i].n_weights; j++)
        weights[t * attention_floats + at++] = (float)in.s[i].weights[j];
  }

  int n = 0;
  Shape out_shape = g->layer[g->n_step_layers - 1].out_shape;
  if (g->per_frame)
    result[n++] = (Tensor){.name = "output", .shape = with_time(T, out_shape), .data = per_frame};
  if (g->clip || g->clip_head) {
    result[n++] = (Tensor){.name = "clip", .shape = out_shape,
                           .data = clip_steps + (size_t)(T - 1) * out};
    result[n++] = (Tensor){.name = "clip_steps", .shape = with_time(T, out_shape), .data = clip_steps};
  }
  if (attention_floats)
    result[n++] = (Tensor){.name = "attention", .shape = (Shape){2, {T, (int)attention_floats}},
                           .data = weights};
  const Layer *fc = forecast_output(g);
  if (fc)
    result[n++] = (Tensor){.name = "forecast", .shape = with_time(g->forecast_steps, fc->out_shape),
                           .data = forecast(&in, last)};
  return n;
}

bool interp_run(Arena *a, const Graph *g, TensorFile *inputs, const char *out_path) {
  Tensor result[INTERP_OUTPUTS];
  int n = interp_outputs(a, g, inputs, result);
  return n >= 0 && safetensors_write(out_path, result, n);
}
