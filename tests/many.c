/*
** many.c: a generated model's m_step_many and m_step_states against its
** m_step, for tests/many.test.
**
** For n = 1, 3, M_MAX_STREAMS and M_MAX_STREAMS + 1 (two batches) streams,
** each stream gets its own frames and is reset at its own frame; one set of
** contexts is stepped one stream at a time with m_step, another with
** m_step_many, and a set of states with m_step_states, for FRAMES frames.
** The many-contexts sit apart in memory, in shuffled order, between
** contexts of the first set; the states likewise in their own pool.  The
** scratch is filled with NaN bytes before every call: what it held must not
** matter.  Stream 1's out[] is NULL on odd frames (then its output is not
** compared).  After the last frame the clip, forecast and attention of every
** stream are compared too (m_clip_many, m_forecast_many and their _states
** forms, m_attention_state).  Prints one line per path and n:
**     many n N values V max_abs A max_rel R bitwise B
**     states n N values V max_abs A max_rel R bitwise B
** with R = max |path - one| / max(1, |one|) and B = 1 when every value was
** bit-identical; then
**     sizeof state S scratch C
** for reelc info's figures.
**
** Compile with -DREEL_MODEL=m -DREEL_MODEL_UP=M -DREEL_MODEL_H='"m.h"'.
** The contexts and buffers are static: the model's calls allocate nothing.
*/
#define _POSIX_C_SOURCE 200112L
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include REEL_MODEL_H

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(s) CAT(REEL_MODEL, s)
#define UP(s) CAT(REEL_MODEL_UP, s)

#define IN_N UP(_IN_SIZE)
#define OUT_N UP(_OUT_SIZE)
#define MAXS UP(_MAX_STREAMS)
typedef UP(_IN_TYPE) in_t;
#define IN_IS_FLOAT ((in_t)0.5 != 0)
/* M_CLIP_SIZE and the others exist only where the model has them; in #if an
** undefined name left after expansion counts as 0. */
#if UP(_CLIP_SIZE) > 0
#define CLIP_N UP(_CLIP_SIZE)
#endif
#if UP(_FORECAST_STEPS) > 0
#define FC_N (UP(_FORECAST_STEPS) * UP(_FORECAST_SIZE))
#endif
#if UP(_ATTENTION_SIZE) > 0
#define ATT_N UP(_ATTENTION_SIZE)
#endif

#define FRAMES 10
#define STREAMS (MAXS + 1)

typedef FN(_ctx) ctx_t;
typedef FN(_state) state_t;

static ctx_t pool[2 * STREAMS];   /* one set at odd, the other at even places */
static state_t state_pool[2 * STREAMS];
static FN(_scratch) scratch;
static in_t frames[STREAMS][IN_N];
static float out_one[STREAMS][OUT_N], out_many[STREAMS][OUT_N], out_states[STREAMS][OUT_N];
#ifdef CLIP_N
static float clip_one[STREAMS][CLIP_N], clip_many[STREAMS][CLIP_N];
#endif
#ifdef FC_N
static float fc_one[STREAMS][FC_N], fc_many[STREAMS][FC_N];
#endif
#ifdef ATT_N
static float att_one[ATT_N], att_many[ATT_N];
#endif

typedef struct {
  long values;
  double max_abs, max_rel;
  int bitwise;
} stats;

static stats *cmp; /* what compare() adds to */

static void compare(const float *many, const float *one, int n) {
  int i;
  for (i = 0; i < n; i++) {
    double d = fabs((double)many[i] - one[i]), scale = fabs(one[i]) > 1 ? fabs(one[i]) : 1;
    if (memcmp(&many[i], &one[i], sizeof(float)) != 0)
      cmp->bitwise = 0;
    if (d != d || (many[i] != many[i]) != (one[i] != one[i]))
      d = INFINITY; /* NaN on one side only, or anywhere */
    if (d > cmp->max_abs)
      cmp->max_abs = d;
    if (d / scale > cmp->max_rel)
      cmp->max_rel = d / scale;
  }
  cmp->values += n;
}

static void spoil_scratch(void) { memset(&scratch, 0xff, sizeof scratch); }

static void report(const char *path, int n, const stats *s) {
  /* no stdio stream: its buffer would come from malloc (noheap.c) */
  char line[200];
  int len = snprintf(line, sizeof line, "%s n %d values %ld max_abs %.9g max_rel %.9g bitwise %d\n",
                     path, n, s->values, s->max_abs, s->max_rel, s->bitwise);
  if (write(1, line, (size_t)len) != len)
    _exit(3);
}

/* Frame t of stream s: deterministic, different for every stream. */
static void make_frame(int s, int t) {
  int k;
  for (k = 0; k < IN_N; k++) {
    double v = sin(0.37 * k + 1.3 * s + 0.71 * t);
    frames[s][k] = IN_IS_FLOAT ? (in_t)(2.0 * v) : (in_t)(127.5 + 127.5 * v);
  }
}

static void run(int n) {
  ctx_t *one[STREAMS], *many[STREAMS];
  state_t *st[STREAMS];
  const in_t *in[STREAMS];
  float *out[STREAMS], *out_st[STREAMS];
  int s, t;
  stats m = {0, 0, 0, 1}, v = {0, 0, 0, 1};
  for (s = 0; s < n; s++) { /* many-contexts shuffled: stream s at place 2 (5 s mod n) + 1 */
    one[s] = &pool[2 * s];
    many[s] = &pool[2 * ((5 * s) % n) + 1];
    st[s] = &state_pool[2 * ((5 * s) % n) + 1];
  }
  if (n % 5 == 0) /* 5 s mod n is no permutation then: keep the order */
    for (s = 0; s < n; s++) {
      many[s] = &pool[2 * s + 1];
      st[s] = &state_pool[2 * s + 1];
    }
  for (s = 0; s < n; s++) {
    memset(one[s], 0xff, sizeof *one[s]); /* what a context held before: reset must not care */
    memset(many[s], 0xff, sizeof *many[s]);
    memset(st[s], 0xff, sizeof *st[s]);
    FN(_reset)(one[s]);
    FN(_reset)(many[s]);
    FN(_reset_state)(st[s]);
  }
  for (t = 0; t < FRAMES; t++) {
    for (s = 0; s < n; s++) {
      if (t == 2 + s % 5) { /* each stream starts over at its own frame */
        FN(_reset)(one[s]);
        FN(_reset)(many[s]);
        FN(_reset_state)(st[s]);
      }
      make_frame(s, t);
      in[s] = frames[s];
      out[s] = s == 1 && t % 2 ? NULL : out_many[s];
      out_st[s] = s == 1 && t % 2 ? NULL : out_states[s];
      FN(_step)(one[s], frames[s], out_one[s]);
    }
    FN(_step_many)(many, n, in, out);
    spoil_scratch();
    FN(_step_states)(&scratch, st, n, in, out_st);
    for (s = 0; s < n; s++)
      if (out[s]) {
        cmp = &m;
        compare(out_many[s], out_one[s], OUT_N);
        cmp = &v;
        compare(out_states[s], out_one[s], OUT_N);
      }
  }
#ifdef CLIP_N
  {
    float *co[STREAMS];
    for (s = 0; s < n; s++) {
      FN(_clip)(one[s], clip_one[s]);
      co[s] = clip_many[s];
    }
    FN(_clip_many)(many, n, co);
    cmp = &m;
    for (s = 0; s < n; s++)
      compare(clip_many[s], clip_one[s], CLIP_N);
    spoil_scratch();
    FN(_clip_states)(&scratch, st, n, co);
    cmp = &v;
    for (s = 0; s < n; s++)
      compare(clip_many[s], clip_one[s], CLIP_N);
  }
#endif
#ifdef FC_N
  {
    float *fo[STREAMS];
    for (s = 0; s < n; s++) {
      FN(_forecast)(one[s], fc_one[s]);
      fo[s] = fc_many[s];
    }
    FN(_forecast_many)(many, n, fo);
    cmp = &m;
    for (s = 0; s < n; s++)
      compare(fc_many[s], fc_one[s], FC_N);
    spoil_scratch();
    FN(_forecast_states)(&scratch, st, n, fo);
    cmp = &v;
    for (s = 0; s < n; s++)
      compare(fc_many[s], fc_one[s], FC_N);
  }
#endif
#ifdef ATT_N
  for (s = 0; s < n; s++) {
    FN(_attention)(one[s], att_one);
    FN(_attention)(many[s], att_many);
    cmp = &m;
    compare(att_many, att_one, ATT_N);
    FN(_attention_state)(st[s], att_many);
    cmp = &v;
    compare(att_many, att_one, ATT_N);
  }
#endif
  report("many", n, &m);
  report("states", n, &v);
}

int main(void) {
  run(1);
  run(3);
  run(MAXS);
  run(MAXS + 1);
  {
    char line[80];
    int len = snprintf(line, sizeof line, "sizeof state %lu scratch %lu\n",
                       (unsigned long)sizeof(state_t), (unsigned long)sizeof scratch);
    if (write(1, line, (size_t)len) != len)
      _exit(3);
  }
  return 0;
}
