/* Printers: the IR after a pass (--dump=PASS). */
#include <string.h>

#include "ops.h"

static const char *const value_kind[] = {"input", "transient", "state", "weight"};

/* An activation code's name, as the spec spells the op (relu, gelu_tanh). */
static const char *act_name(int act) {
  static const char *const names[REEL_ACT_COUNT] = {
#define X(name) #name,
      REEL_ACTIVATIONS(X)
#undef X
  };
  static char lower[32];
  size_t i = 0;
  for (const char *c = act >= 0 && act < REEL_ACT_COUNT ? names[act] : "?"; *c && i + 1 < sizeof lower;)
    lower[i++] = (char)(*c >= 'A' && *c <= 'Z' ? *c++ - 'A' + 'a' : *c++);
  lower[i] = '\0';
  return lower;
}

void dump_graph(FILE *f, const Graph *g) {
  Arena a = {0};
  fprintf(f, "graph %s  # %s\n", g->model, g->file);
  fprintf(f, "  input %s\n", shape_str(&a, g->input));
  for (int i = 0; i < g->n_layer; i++) {
    const Layer *l = &g->layer[i];
    if (i == g->n_step_layers)
      fprintf(f, "  forecast steps=%d\n", g->forecast_steps);
    fprintf(f, "  %%%d = %s '%s'", i, l->op->name, l->name);
    /* the attributes a layer has, whatever its op */
    if (l->out)
      fprintf(f, " out=%d bias=%s", l->out, l->bias ? "true" : "false");
    if (l->stack) {
      fprintf(f, " hidden=");
      for (int k = 0; k < l->stack; k++)
        fprintf(f, "%s%d", k ? "," : "", l->hidden[k]);
      fprintf(f, " layers=%d", l->stack);
    }
    if (l->kernel)
      fprintf(f, " kernel=%d", l->kernel);
    if (l->peephole)
      fprintf(f, " peephole=%s", peephole_name[l->peephole]);
    if (l->win.kh)
      fprintf(f, " kernel=%dx%d stride=%dx%d pad=%d,%d,%d,%d dilation=%dx%d", l->win.kh, l->win.kw,
              l->win.sh, l->win.sw, l->win.pad_top, l->win.pad_left, l->win.pad_bottom,
              l->win.pad_right, l->win.dh, l->win.dw);
    if (l->groups > 1)
      fprintf(f, " groups=%d", l->groups);
    if (l->frames)
      fprintf(f, " frames=%d stride=%d", l->frames, l->tstride);
    if (l->p > 0)
      fprintf(f, " p=%g", l->p);
    if (l->op->activation) { /* what it computes, as the kernels will */
      float alpha;
      int act = l->op->activation(l, &alpha);
      fprintf(f, " act=%s", act_name(act));
      if (alpha != 0.0f)
        fprintf(f, " alpha=%g", (double)alpha);
    }
    if (l->init_state >= 0)
      fprintf(f, " init_state=%%%d", l->init_state);
    fprintf(f, " (");
    for (int k = 0; k < l->n_input; k++)
      fprintf(f, "%s%s", k ? ", " : "", l->input[k] < 0 ? "input" : arena_printf(&a, "%%%d", l->input[k]));
    fprintf(f, ")");
    if (l->fused_into >= 0)
      fprintf(f, " fused into %%%d", l->fused_into);
    if (l->out_shape.rank)
      fprintf(f, " : %s -> %s", shape_str(&a, l->in_shape), shape_str(&a, l->out_shape));
    fprintf(f, "  # %s:%d:%d\n", l->loc.file, l->loc.line, l->loc.col);
    for (int j = 0; j < l->n_param; j++)
      fprintf(f, "      param %s %s\n", l->param[j].name, shape_str(&a, l->param[j].shape));
  }
  fprintf(f, "  output per_frame=%s clip=%s\n", g->per_frame ? "true" : "false", clip_name[g->clip]);
  arena_free(&a);
}

void dump_program(FILE *f, const Program *p) {
  fprintf(f, "program %s\n  values:\n", p->g->model);
  for (int i = 0; i < p->nv; i++) {
    const Value *v = &p->v[i];
    fprintf(f, "    v%-3d %-9s %-24s %8lld floats", i, value_kind[v->kind], v->name, (long long)v->size);
    if (v->kind == V_TRANSIENT)
      fprintf(f, "  live c%d..c%d  arena+%lld%s", v->first, v->last, (long long)v->offset,
              v->carried ? " carried" : "");
    if (v->kind == V_WEIGHT)
      fprintf(f, "  weights+%lld", (long long)v->offset);
    fprintf(f, "\n");
  }
  fprintf(f, "  calls:\n");
  for (int c = 0; c < p->nc; c++) {
    const Call *call = &p->call[c];
    const KernelInfo *k = &kernel_info[call->op];
    fprintf(f, "    c%-3d %-19s", c, k->name);
    int value = 0, dim = 0;
    char tok[32];
    for (const char *s = k->signature; signature_next(&s, tok, sizeof tok);) {
      SigKind kind = signature_kind(tok);
      const char *role = tok + (tok[0] == '#' || tok[0] == '[');
      int n = (int)strcspn(role, "]");
      if (kind == SIG_VALUE && call->arg[value] >= 0)
        fprintf(f, " %.*s=v%d", n, role, call->arg[value]);
      else if (kind == SIG_VALUE)
        fprintf(f, " %.*s=-", n, role);
      else if (kind == SIG_DIM)
        fprintf(f, " %s=%d", role, call->dim[dim]);
      else if (strcmp(tok, "act") == 0 && call->act)
        fprintf(f, " act=%s", act_name(call->act));
      else if (strcmp(tok, "alpha") == 0 && call->alpha != 0.0f)
        fprintf(f, " alpha=%g", (double)call->alpha);
      else if (strcmp(tok, "eps") == 0)
        fprintf(f, " eps=%g", (double)call->eps);
      else if (strcmp(tok, "&conv") == 0 && call->geom.act)
        fprintf(f, " act=%s", act_name(call->geom.act));
      value += kind == SIG_VALUE;
      dim += kind == SIG_DIM;
    }
    fprintf(f, "  # %s\n", call->layer < 0 ? (call->op == K_COPY ? "(forecast feedback)" : "(input)") : p->g->layer[call->layer].name);
  }
  fprintf(f, "  output v%d", p->out_value);
  if (p->forecast_value >= 0)
    fprintf(f, "  forecast v%d (prologue c%d..c%d, body c%d..c%d)", p->forecast_value, p->step_end,
            p->prologue_end - 1, p->prologue_end, p->nc - 1);
  fprintf(f, "\n");
}
