"""PyTorch reference implementation of reel specs (see /work/shared/SEMANTICS.md).

build_model(spec) turns a parsed spec into a module whose state_dict() names are exactly
the weight names reel expects (<layer name>.<PyTorch parameter name>; a dotted layer name such as
`cnn.layer1.0.conv1` becomes nested submodules). run(model, spec, x) evaluates it on one clip x of
shape (T, *frame) and returns (per-frame outputs, clip aggregate); run_all() also returns the
forecast of a two-phase (encoder-forecaster) spec.

Evaluation is layer by layer over the whole clip: a per-frame op sees the T frames as a batch, a
recurrent op steps through them. That equals frame-by-frame streaming because nothing feeds back
across layers. Everything runs in float32, batch 1, states starting at zero.
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import convrnn  # noqa: E402

POINTWISE = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
             "softmax": lambda x: torch.softmax(x, dim=-1),
             "dropout": lambda x: x}  # dropout is the identity at inference
CLIP_MODES = ("mean", "max", "last", "weighted")
RECURRENT = ("lstm", "gru", "convlstm", "convgru")


def _pair(v):
    if isinstance(v, int):
        return (v, v)
    assert isinstance(v, list) and len(v) == 2 and all(isinstance(i, int) for i in v), v
    return tuple(v)


class PeepholeLSTM(nn.Module):
    """Multi-layer LSTM with diagonal peepholes (Graves; Shi et al. eq. 2).

    Parameters are named like nn.LSTM's plus weight_ci/cf/co_l{k} of shape (H), so that an
    nn.LSTM state_dict plus zero peepholes loads unchanged. i and f see the old cell c,
    o sees the new cell c'. Input (T, N) for batch 1, output (T, H) of the top layer.
    """

    def __init__(self, input_size, hidden_size, num_layers=1):
        super().__init__()
        self.hidden_size, self.num_layers = hidden_size, num_layers
        H = hidden_size
        for k in range(num_layers):
            n_in = input_size if k == 0 else H
            for name, shape in (("weight_ih", (4 * H, n_in)), ("weight_hh", (4 * H, H)),
                                ("bias_ih", (4 * H,)), ("bias_hh", (4 * H,)),
                                ("weight_ci", (H,)), ("weight_cf", (H,)), ("weight_co", (H,))):
                self.register_parameter(f"{name}_l{k}", nn.Parameter(torch.empty(shape)))
        self.reset_parameters()

    def reset_parameters(self):
        # nn.LSTM's default init, applied to the peephole vectors as well.
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x):
        for k in range(self.num_layers):
            p = lambda n: getattr(self, f"{n}_l{k}")
            h = x.new_zeros(self.hidden_size)
            c = x.new_zeros(self.hidden_size)
            # Input projections for all frames at once, as nn.LSTM does.
            xg = F.linear(x, p("weight_ih"), p("bias_ih"))
            outs = []
            for t in range(x.shape[0]):
                gi, gf, gg, go = (xg[t] + F.linear(h, p("weight_hh"), p("bias_hh"))).chunk(4)
                i = torch.sigmoid(gi + p("weight_ci") * c)
                f = torch.sigmoid(gf + p("weight_cf") * c)
                c = f * c + i * torch.tanh(gg)
                o = torch.sigmoid(go + p("weight_co") * c)  # the new cell
                h = o * torch.tanh(c)
                outs.append(h)
            x = torch.stack(outs)
        return x


class Conv2d(nn.Conv2d):
    """nn.Conv2d with reel's padding forms. `padding: same` (stride 1): total pad d(k-1) per
    axis, total//2 on the top/left and the rest (one more when odd) on the bottom/right, as
    PyTorch's own padding='same' does; `valid` is 0. State-dict names are nn.Conv2d's."""

    def __init__(self, cin, layer):
        kh, kw = _pair(layer["kernel"])
        sh, sw = _pair(layer.get("stride", 1))
        dh, dw = _pair(layer.get("dilation", 1))
        padding = layer.get("padding", 0)
        extra = (0, 0)
        if padding == "same":
            assert (sh, sw) == (1, 1), "padding: same needs stride 1"
            th, tw = dh * (kh - 1), dw * (kw - 1)
            sym, extra = (th // 2, tw // 2), (th % 2, tw % 2)
        elif padding == "valid":
            sym = (0, 0)
        else:
            sym = _pair(padding)
        super().__init__(cin, layer["out"], (kh, kw), (sh, sw), sym, (dh, dw),
                         layer.get("groups", 1), layer.get("bias", True))
        self.extra = extra  # (rows, cols) of extra padding at the bottom / right

    def forward(self, x):
        if self.extra != (0, 0):
            x = F.pad(x, (0, self.extra[1], 0, self.extra[0]))
        return super().forward(x)


def _pool(op, layer):
    k = _pair(layer["kernel"])
    s = _pair(layer.get("stride", layer["kernel"]))
    p = _pair(layer.get("padding", 0))
    ceil = layer.get("ceil_mode", False)
    if op == "maxpool":
        return nn.MaxPool2d(k, s, p, ceil_mode=ceil)
    return nn.AvgPool2d(k, s, p, ceil_mode=ceil,
                        count_include_pad=layer.get("count_include_pad", True))


def _hidden_list(layer):
    hidden, depth = layer["hidden"], layer.get("layers")
    if isinstance(hidden, int):
        return [hidden] * (depth or 1)
    assert depth is None or depth == len(hidden), f"{layer.get('name')}: hidden vs layers"
    return list(hidden)


class Node:
    """One spec layer: where it reads from, how to run it, its output shape (one frame)."""

    def __init__(self, layer, srcs, shape, module=None, fn=None):
        self.layer, self.op, self.name = layer, layer["op"], layer.get("name")
        self.srcs = srcs        # list of source layer names, or None for "the previous layer"
        self.shape = shape      # output shape of one frame (tuple)
        self.module, self.fn = module, fn
        self.init_state = layer.get("init_state")


class ReelModel(nn.Module):
    """The spec's layers (observe phase) and optional forecast chain; named layers with weights
    are submodules under their (dotted) spec name."""

    def __init__(self, spec):
        super().__init__()
        frame = tuple(spec["input"]["frame"])
        assert len(frame) in (1, 3), frame
        self._shapes = {"input": frame}
        self._nodes = self._build_chain(spec["layers"], frame, first_has_input=True)
        self.out_shape = self._nodes[-1].shape
        self._forecast, self.forecast_steps = [], 0
        if "forecast" in spec:
            fc = spec["forecast"]
            self.forecast_steps = fc["steps"]
            self._forecast = self._build_chain(fc["layers"], None, first_has_input=False)
            self.forecast_shape = self._forecast[-1].shape
        self.out_width = self.out_shape[0]  # kept for older callers (vector outputs)

    # -- building -------------------------------------------------------------------------------
    def _attach(self, name, mod):
        parts = name.split(".")
        parent = self
        for p in parts[:-1]:
            if p not in parent._modules:
                parent.add_module(p, nn.Module())
            parent = parent._modules[p]
        assert parts[-1] not in parent._modules, f"layer name {name!r} used twice"
        parent.add_module(parts[-1], mod)

    def _build_chain(self, layers, prev_shape, first_has_input):
        nodes, prev = [], None  # prev: name of the previous layer's output, or a Node
        for idx, layer in enumerate(layers):
            op, name = layer["op"], layer.get("name")
            frm = layer.get("from")
            if frm is None:
                srcs = None
                in_shapes = [prev_shape] if prev_shape is not None else []
            else:
                srcs = [frm] if isinstance(frm, str) else list(frm)
                in_shapes = [self._shapes[s] for s in srcs]
            node = self._make_node(layer, op, srcs, in_shapes,
                                   no_input=(idx == 0 and not first_has_input))
            if name is not None:
                assert name not in self._shapes, f"layer name {name!r} used twice"
                self._shapes[name] = node.shape
            nodes.append(node)
            prev_shape = node.shape
        return nodes

    def _make_node(self, layer, op, srcs, in_shapes, no_input):
        name = layer.get("name")
        shp = in_shapes[0] if in_shapes else None
        if no_input:
            assert op == "convlstm" and layer.get("init_state"), \
                "the first forecast layer must be a convlstm with init_state"
        if op in RECURRENT or op in ("linear", "conv2d", "batchnorm"):
            assert name, f"{op} layer needs a name"
        if op in POINTWISE:
            if op == "softmax":
                assert len(shp) == 1, "softmax needs a vector"
            return Node(layer, srcs, shp, fn=POINTWISE[op])
        if op == "relu6":
            return Node(layer, srcs, shp, fn=F.relu6)
        if op == "leaky_relu":
            slope = layer.get("negative_slope", 0.01)
            return Node(layer, srcs, shp, fn=lambda x: F.leaky_relu(x, slope))
        if op == "linear":
            assert len(shp) == 1, "linear needs a vector"
            mod = nn.Linear(shp[0], layer["out"], bias=layer.get("bias", True))
            self._attach(name, mod)
            return Node(layer, srcs, (layer["out"],), module=mod, fn=mod)
        if op in ("lstm", "gru"):
            assert len(shp) == 1, f"{op} needs a vector"
            hidden, depth = layer["hidden"], layer.get("layers", 1)
            peephole = layer.get("peephole", "none")
            assert peephole in ("none", "diagonal") and (op == "lstm" or peephole == "none")
            assert not layer.get("init_state"), "init_state is only implemented for convlstm"
            if peephole == "diagonal":
                mod = PeepholeLSTM(shp[0], hidden, depth)
                fn = mod
            else:
                mod = (nn.LSTM if op == "lstm" else nn.GRU)(shp[0], hidden, depth)
                fn = lambda x, m=mod: m(x.unsqueeze(1))[0].squeeze(1)  # (T, batch 1, N)
            self._attach(name, mod)
            return Node(layer, srcs, (hidden,), module=mod, fn=fn)
        # ---- image ops: frames (C, H, W), sequences (T, C, H, W)
        if op == "conv2d":
            assert len(shp) == 3, "conv2d needs a [C, H, W] input"
            mod = Conv2d(shp[0], layer)
            self._attach(name, mod)
            return Node(layer, srcs, self._probe(mod, shp), module=mod, fn=mod)
        if op == "batchnorm":
            mod = (nn.BatchNorm2d if len(shp) == 3 else nn.BatchNorm1d)(
                shp[0], eps=layer.get("eps", 1e-5))
            mod.eval()
            self._attach(name, mod)
            return Node(layer, srcs, shp, module=mod, fn=mod)
        if op in ("maxpool", "avgpool"):
            assert len(shp) == 3
            mod = _pool(op, layer)
            return Node(layer, srcs, self._probe(mod, shp), fn=mod)
        if op == "global_avgpool":
            assert len(shp) == 3
            return Node(layer, srcs, (shp[0], 1, 1),
                        fn=lambda x: F.adaptive_avg_pool2d(x, (1, 1)))
        if op == "flatten":
            return Node(layer, srcs, (math.prod(shp),), fn=lambda x: x.reshape(x.shape[0], -1))
        if op in ("pixel_shuffle", "pixel_unshuffle"):
            r = layer["factor"]
            fn = (lambda x: F.pixel_shuffle(x, r)) if op == "pixel_shuffle" else \
                (lambda x: F.pixel_unshuffle(x, r))
            return Node(layer, srcs, self._probe(fn, shp), fn=fn)
        if op == "add":
            assert srcs and len(srcs) >= 2 and all(s == in_shapes[0] for s in in_shapes), \
                f"add: {srcs} {in_shapes}"
            return Node(layer, srcs, in_shapes[0], fn=lambda *xs: sum(xs[1:], xs[0]))
        if op == "concat":
            assert srcs and len(srcs) >= 2 and all(s[1:] == in_shapes[0][1:] for s in in_shapes)
            c = sum(s[0] for s in in_shapes)
            return Node(layer, srcs, (c,) + in_shapes[0][1:], fn=lambda *xs: torch.cat(xs, 1))
        if op == "convlstm":
            assert srcs is None or len(srcs) == 1
            hidden = _hidden_list(layer)
            if no_input:
                init = self._shapes[layer["init_state"]]
                cin, hw = 0, init[1:]
            else:
                assert len(shp) == 3
                cin, hw = shp[0], shp[1:]
            if layer.get("init_state"):
                enc = self._recurrent_node(layer["init_state"])
                assert enc.op == "convlstm" and enc.module.hidden == hidden and \
                    self._shapes[layer["init_state"]][1:] == hw, "init_state shape mismatch"
            output = layer.get("output", "last")
            mod = convrnn.ConvLSTM(cin, hidden, layer["kernel"], layer.get("peephole", "none"),
                                   frame_hw=hw, output=output)
            self._attach(name, mod)
            return Node(layer, srcs, (mod.out_channels,) + tuple(hw), module=mod)
        if op == "convgru":
            hidden = _hidden_list(layer)
            assert not layer.get("init_state"), "init_state is only implemented for convlstm"
            if srcs is not None and len(srcs) > 1:  # GRU-RCN: one input per layer
                assert len(srcs) == len(hidden), "convgru from: one entry per layer"
                for l in range(1, len(hidden)):
                    a, b = in_shapes[l - 1][1:], in_shapes[l][1:]
                    assert (a[0] // 2, a[1] // 2) == b, f"convgru layer {l}: {a} -> {b}"
                mod = convrnn.ConvGRU([s[0] for s in in_shapes], hidden, layer["kernel"])
                out_hw = in_shapes[-1][1:]
            else:
                assert len(shp) == 3
                mod = convrnn.ConvGRU(shp[0], hidden, layer["kernel"])
                out_hw = shp[1:]
            self._attach(name, mod)
            return Node(layer, srcs, (hidden[-1],) + tuple(out_hw), module=mod)
        raise ValueError(f"unknown op {op!r}")

    @staticmethod
    @torch.no_grad()
    def _probe(fn, shape):
        return tuple(fn(torch.zeros(1, *shape)).shape[1:])

    def _recurrent_node(self, name):
        for n in self._nodes:
            if n.name == name:
                return n
        raise KeyError(f"init_state: no observe-phase layer {name!r}")

    # -- running ----------------------------------------------------------------------------------
    def _run_chain(self, nodes, x, vals, states, steps=None):
        """x: the chain's input sequence (or None for a forecast chain). Returns the last output."""
        prev = x
        for k, node in enumerate(nodes):
            ins = [prev] if node.srcs is None else [vals[s] for s in node.srcs]
            if node.op == "convlstm":
                state = states[node.init_state] if node.init_state else None
                if prev is None and k == 0:  # forecast chain without input
                    outs = []
                    for _ in range(steps):
                        o, state = node.module.step(None, state)
                        outs.append(o)
                    out = torch.stack(outs).squeeze(1)
                else:
                    out, state = node.module(ins[0].unsqueeze(1), state)
                    out = out.squeeze(1)
                states[node.name] = state
            elif node.op == "convgru":
                state, outs = None, []
                for t in range(ins[0].shape[0]):
                    xt = [i[t:t + 1] for i in ins] if node.module.rcn else ins[0][t:t + 1]
                    o, state = node.module.step(xt, state)
                    outs.append(o)
                out = torch.cat(outs)
                states[node.name] = state
            else:
                out = node.fn(*ins)
            if node.name is not None:
                vals[node.name] = out
            prev = out
        return prev

    def run_clip(self, x):
        """x: (T, *frame) -> {'output': (T, *out), 'forecast': (K, *fc) if the spec has one}."""
        vals, states = {"input": x}, {}
        res = {"output": self._run_chain(self._nodes, x, vals, states)}
        if self._forecast:
            res["forecast"] = self._run_chain(self._forecast, None, vals, states,
                                              steps=self.forecast_steps)
        return res

    def forward(self, x):
        """x: (T, *frame) -> per-frame outputs (T, *out)."""
        return self.run_clip(x)["output"]


def build_model(spec):
    return ReelModel(spec).eval()


def aggregate(p, mode):
    """Clip prediction from per-frame outputs p (T, *OUT), frames numbered t = 1..T."""
    if mode == "mean":
        return p.mean(0)
    if mode == "max":
        return p.max(0).values
    if mode == "last":
        return p[-1]
    if mode == "weighted":
        t = torch.arange(1, p.shape[0] + 1, dtype=p.dtype).reshape(-1, *([1] * (p.dim() - 1)))
        return (t * p).sum(0) / t.sum()
    raise ValueError(f"unknown clip mode {mode!r}")


@torch.no_grad()
def run_all(model, spec, x):
    """Return {'output': (T, *OUT), 'clip': (*OUT) or None, 'forecast': (K, *F) or absent}."""
    model.eval()
    res = model.run_clip(x)
    mode = spec.get("output", {}).get("clip")
    res["clip"] = aggregate(res["output"], mode) if mode else None
    return res


def run(model, spec, x):
    """Return (per-frame outputs (T, *OUT), clip aggregate (*OUT) or None)."""
    res = run_all(model, spec, x)
    return res["output"], res["clip"]
