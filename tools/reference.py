"""PyTorch reference implementation of reel specs (see docs/spec.md).

build_model(spec) turns a parsed spec into a module whose state_dict() names are exactly
the weight names reel expects (<layer name>.<PyTorch parameter name>; a dotted layer name such as
`cnn.layer1.0.conv1` becomes nested submodules). run(model, spec, x) evaluates it on one clip x of
shape (T, *frame) and returns (per-frame outputs, clip output); run_all() also returns the
forecast of a two-phase (encoder-forecaster or seq2seq) spec, the clip output read after every
frame (clip_steps) and the weights of the per-frame chain's attention layers.

Evaluation is layer by layer over the whole clip wherever nothing feeds back: a per-frame op sees
the T frames as a batch, a recurrent op steps through them, a layer's `window` of its last N
outputs is an unfold of its output sequence, an attention whose query is computed earlier in the
frame attends over all T windows (or feature maps) at once, a windowed temporal_pool or a
temporal_conv (nn.Conv3d) turns the frame sequence into the sequence of closed windows, and a
clip temporal_pool turns its input sequence into one value (the layers after it run on a batch
of 1). That equals frame-by-frame streaming because the graph is causal and nothing feeds back.
Two things do feed back, and run one step at a time with explicit states (nn.LSTM / nn.GRU with
hx): an attention whose query is the previous hidden state of a LATER lstm/gru (the layers from
the attention to that lstm/gru run frame by frame), and a forecast chain with feedback: true or
with an attention (each step reads the previous prediction). Everything runs in float32, batch 1,
states starting at zero (or as init_from / init_state say).
"""
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "python"))
from reel_torch.nn import (Attention, CameraInput, ConvGRU, ConvLSTM, InitLSTM,  # noqa: E402
                           LocationAttention, PeepholeLSTM, TemporalConv,
                           WindowGRU, WindowLSTM, WindowMultiheadAttention, clip_pool,
                           temporal_windows, window_stack)

POINTWISE = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
             "silu": F.silu,
             "hardswish": F.hardswish,
             "hardsigmoid": F.hardsigmoid,
             "softmax": lambda x: torch.softmax(x, dim=-1),
             "dropout": lambda x: x}  # dropout is the identity at inference
CLIP_MODES = ("mean", "max", "last", "weighted")
RECURRENT = ("lstm", "gru", "convlstm", "convgru")


def _pair(v):
    if isinstance(v, int):
        return (v, v)
    assert isinstance(v, list) and len(v) == 2 and all(isinstance(i, int) for i in v), v
    return tuple(v)


class Conv2d(nn.Conv2d):
    """nn.Conv2d with reel's padding forms. `padding: same` (stride 1): total pad d(k-1) per
    axis, total//2 on the top/left and the rest (one more when odd) on the bottom/right, as
    PyTorch's own padding='same' does; `valid` is 0; [top, bottom, left, right] is F.pad's
    zeros before an unpadded conv. State-dict names are nn.Conv2d's."""

    def __init__(self, cin, layer):
        kh, kw = _pair(layer["kernel"])
        sh, sw = _pair(layer.get("stride", 1))
        dh, dw = _pair(layer.get("dilation", 1))
        padding = layer.get("padding", 0)
        self.sides = None  # F.pad's (left, right, top, bottom), for explicit sides
        extra = (0, 0)
        if padding == "same":
            assert (sh, sw) == (1, 1), "padding: same needs stride 1"
            th, tw = dh * (kh - 1), dw * (kw - 1)
            sym, extra = (th // 2, tw // 2), (th % 2, tw % 2)
        elif padding == "valid":
            sym = (0, 0)
        elif isinstance(padding, list) and len(padding) == 4:
            top, bottom, left, right = padding
            sym, sides = (0, 0), (left, right, top, bottom)
        else:
            sym = _pair(padding)
        super().__init__(cin, layer["out"], (kh, kw), (sh, sw), sym, (dh, dw),
                         layer.get("groups", 1), layer.get("bias", True))
        self.extra = extra  # (rows, cols) of extra padding at the bottom / right
        if isinstance(padding, list) and len(padding) == 4:
            self.sides = sides

    def forward(self, x):
        if self.extra != (0, 0):
            x = F.pad(x, (0, self.extra[1], 0, self.extra[0]))
        if self.sides is not None:
            x = F.pad(x, self.sides)
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
        self.init_from = layer.get("init_from")
        self.window = layer.get("window")
        # Set by ReelModel._build_chain: the layer's key (its name, or <op><index>), the keys it
        # reads ('input'; FEEDBACK for a forecast chain's first layer with feedback), its chain
        # ('frame' or 'forecast') and its rate: 'frame', 'window' (once per closed window, after
        # a windowed temporal op), 'clip' (once per clip, after a clip pool) or 'step' (forecast).
        self.key, self.in_keys, self.chain, self.rate = None, [], None, None
        # attention only: the layers giving its keys, values and query; query_prev: the query
        # is that (later) lstm/gru's hidden state of the previous frame.
        self.keys = self.values = self.query = None
        self.query_prev = False
        self.n = None  # attention only: its number of keys (window size or H*W)


FEEDBACK = "<feedback>"  # the input of a feedback forecast chain's first layer


class ReelModel(nn.Module):
    """The spec's layers (observe phase) and optional forecast chain; named layers with weights
    are submodules under their (dotted) spec name."""

    def __init__(self, spec):
        super().__init__()
        frame = tuple(spec["input"]["frame"])
        assert len(frame) in (1, 3), frame
        inp = spec["input"]
        self.camera = CameraInput(frame[0], inp.get("dtype", "float32"), inp.get("layout", "chw"),
                                  inp.get("mean"), inp.get("std"), inp.get("scale")) \
            if set(inp) - {"frame"} else None
        self._shapes = {"input": frame}
        self._by_key = {}
        self._count = 0  # layer index through both chains, for the generated names
        self._nodes = self._build_chain(spec["layers"], "input", "frame")
        self.out_shape = self._nodes[-1].shape
        assert self._nodes[-1].rate != "window", \
            "the last layer cannot run per window: end the chain with a clip temporal_pool"
        self.per_clip = self._nodes[-1].rate == "clip"  # no per-frame output, clip = last layer
        self._forecast, self.forecast_steps, self.feedback = [], 0, False
        if "forecast" in spec:
            fc = spec["forecast"]
            self.forecast_steps = fc["steps"]
            self.feedback = fc.get("feedback", False)
            self._shapes[FEEDBACK] = frame
            self._forecast = self._build_chain(fc["layers"], FEEDBACK if self.feedback else None,
                                               "forecast")
            self.forecast_shape = self._forecast[-1].shape
            assert not self.feedback or self.forecast_shape == frame, \
                f"feedback: the forecast frame {self.forecast_shape} must be the input's {frame}"
        self._stepped_forecast = self.feedback or any(n.op == "attention" for n in self._forecast)
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

    def _build_chain(self, layers, prev_key, chain):
        """prev_key: what the first layer reads ('input', FEEDBACK, or None: nothing)."""
        nodes = []
        for idx, layer in enumerate(layers):
            op, name = layer["op"], layer.get("name")
            key = name if name is not None else f"{op}{self._count}"
            self._count += 1
            assert key not in self._shapes, f"layer name {key!r} used twice"
            frm = layer.get("from")
            if frm is None:
                srcs, in_keys = None, ([prev_key] if prev_key is not None else [])
            else:
                srcs = [frm] if isinstance(frm, str) else list(frm)
                in_keys = srcs
            for k in in_keys:
                assert k in self._shapes, f"{key}: 'from' names {k!r}, not an earlier layer"
                if op != "attention":  # attention may read the per-frame chain's windows/maps
                    assert self._chain_of(k) == chain, f"{key}: {k!r} is in the other chain"
            if op == "attention":  # keys from per-frame layers; it runs per frame (step)
                rates = {"frame" if chain == "frame" else "step"}
            else:
                rates = {self._rate_of(k) for k in in_keys} or {"step"}
            assert len(rates) == 1, f"{key}: inputs run at different rates {rates}"
            node = self._make_node(layer, key, srcs, in_keys, chain, rates.pop(),
                                   later=layers[idx + 1:], first=(idx == 0))
            node.key, node.in_keys, node.chain = key, in_keys, chain
            if node.window is not None:
                assert chain == "frame" and node.rate == "frame" and len(node.shape) == 1, \
                    f"{key}: a window keeps per-frame vector outputs of the per-frame chain"
                assert 1 <= node.window <= 4096
            self._shapes[key] = node.shape
            self._by_key[key] = node
            nodes.append(node)
            prev_key = key
        return nodes

    def _chain_of(self, key):
        if key == "input":
            return "frame"
        if key == FEEDBACK:
            return "forecast"
        return self._by_key[key].chain

    def _rate_of(self, key):
        if key == "input":
            return "frame"
        if key == FEEDBACK:
            return "step"
        return self._by_key[key].rate

    def _make_node(self, layer, key, srcs, in_keys, chain, rate, later, first):
        node = self._make_node_op(layer, key, srcs, in_keys, chain, rate, later,
                                  no_input=not in_keys, first=first)
        if node.rate is None:
            node.rate = rate
        return node

    def _make_node_op(self, layer, key, srcs, in_keys, chain, rate, later, no_input, first):
        op, name = layer["op"], layer.get("name")
        in_shapes = [self._shapes[k] for k in in_keys]
        shp = in_shapes[0] if in_shapes else None
        if no_input:
            assert op == "convlstm" and layer.get("init_state"), \
                "the first forecast layer without feedback must be a convlstm with init_state"
        if op in RECURRENT or op in ("linear", "conv2d", "batchnorm", "temporal_conv",
                                     "layernorm", "groupnorm", "conv_transpose2d"):
            assert name, f"{op} layer needs a name"
        if layer.get("init_state"):
            assert chain == "forecast" and first, "init_state: only on the first forecast layer"
        if op in POINTWISE:
            if op == "softmax":
                assert len(shp) == 1, "softmax needs a vector"
            return Node(layer, srcs, shp, fn=POINTWISE[op])
        if op == "relu6":
            return Node(layer, srcs, shp, fn=F.relu6)
        if op == "leaky_relu":
            slope = layer.get("negative_slope", 0.01)
            return Node(layer, srcs, shp, fn=lambda x: F.leaky_relu(x, slope))
        if op == "prelu":
            mod = nn.PReLU(layer.get("num_parameters", 1))
            self._attach(name, mod)
            return Node(layer, srcs, shp, module=mod, fn=mod)
        if op == "elu":
            alpha = layer.get("alpha", 1.0)
            return Node(layer, srcs, shp, fn=lambda x: F.elu(x, alpha))
        if op == "gelu":
            form = layer.get("approximate", "none")
            return Node(layer, srcs, shp, fn=lambda x: F.gelu(x, approximate=form))
        if op == "linear":
            assert len(shp) in (1, 2), "linear needs a vector or a matrix (its rows)"
            mod = nn.Linear(shp[-1], layer["out"], bias=layer.get("bias", True))
            self._attach(name, mod)
            return Node(layer, srcs, tuple(shp[:-1]) + (layer["out"],), module=mod, fn=mod)
        if op in ("lstm", "gru"):
            assert len(shp) == 1, f"{op} needs a vector"
            hidden, depth = layer["hidden"], layer.get("layers", 1)
            peephole = layer.get("peephole", "none")
            if layer.get("bidirectional"):   # over windows of frames, run when one closes
                assert chain == "frame" and rate == "frame", f"{key}: per-frame values"
                mod = (WindowLSTM if op == "lstm" else WindowGRU)(
                    shp[0], hidden, layer["frames"], layer.get("stride"), depth,
                    bias=layer.get("bias", True))
                self._attach(name, mod)
                node = Node(layer, srcs, (layer["frames"], 2 * hidden), module=mod,
                            fn=lambda x, m=mod: m(x.unsqueeze(1)).squeeze(1))
                node.rate = "window"
                return node
            assert layer.get("bias", True) or (peephole == "none" and not layer.get("init_from")), \
                "bias: false is modelled here for plain nn.LSTM / nn.GRU only"
            assert peephole in ("none", "diagonal") and (op == "lstm" or peephole == "none")
            if layer.get("init_state"):
                enc = self._by_key[layer["init_state"]]
                assert enc.chain == "frame" and enc.op == op and \
                    _hidden_list(enc.layer) == _hidden_list(layer) and \
                    enc.layer.get("peephole", "none") == peephole == "none", \
                    "init_state: an lstm/gru of the per-frame chain with the same sizes"
            if layer.get("init_from"):
                src = self._by_key.get(layer["init_from"])
                assert op == "lstm" and depth == 1 and peephole == "none", \
                    "init_from: a one-layer lstm without peepholes"
                assert src is not None and src.chain == chain == "frame" and \
                    src.rate == rate == "frame" and len(src.shape) in (1, 3), \
                    "init_from: an earlier per-frame layer with a vector or [D, H, W] output"
                mod = InitLSTM(shp[0], hidden, src.shape[0])
                fn = None
            elif peephole == "diagonal":
                mod = PeepholeLSTM(shp[0], hidden, depth)
                fn = lambda x, m=mod: m(x)[0]  # unbatched (T, N)
            else:
                extra = {"proj_size": layer["proj"]} if layer.get("proj") else {}
                mod = (nn.LSTM if op == "lstm" else nn.GRU)(shp[0], hidden, depth,
                                                             bias=layer.get("bias", True), **extra)
                fn = lambda x, m=mod: m(x.unsqueeze(1))[0].squeeze(1)  # (T, batch 1, N)
            self._attach(name, mod)
            return Node(layer, srcs, (layer.get("proj") or hidden,), module=mod, fn=fn)
        if op == "attention":
            return self._make_attention(layer, key, srcs, in_keys, chain, later)
        if op == "mha":
            return self._make_mha(layer, key, srcs, in_keys)
        if op == "temporal_pool":
            assert chain == "frame", "temporal_pool: per-frame chain only"
            mode, w = layer.get("mode", "max"), layer.get("frames")
            if w is not None:
                s = layer.get("stride", w)
                assert mode in ("max", "mean") and "count" not in layer and rate == "frame", \
                    "a windowed temporal_pool: mode max or mean, on per-frame values"
                node = Node(layer, srcs, shp, fn=lambda x: temporal_windows(x, w, s, mode))
                node.rate = "window"
                return node
            assert "stride" not in layer and rate in ("frame", "window"), key
            count = layer.get("count")
            assert (count is not None) == (mode == "concat"), "count: with mode concat only"
            shape = (count * math.prod(shp),) if mode == "concat" else shp
            node = Node(layer, srcs, shape, fn=lambda x: clip_pool(x, mode, count))
            node.rate = "clip"
            return node
        if op == "temporal_conv":
            assert chain == "frame" and rate == "frame" and len(shp) == 3, \
                "temporal_conv: per-frame [C, H, W] values"
            mod = TemporalConv(shp[0], layer["out"], layer["frames"], layer.get("stride", 1),
                               layer.get("kernel", 1), layer.get("padding", 0),
                               layer.get("bias", True))
            self._attach(name, mod)
            node = Node(layer, srcs, self._probe(mod, shp), module=mod, fn=mod)
            node.rate = "window"
            return node
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
        if op == "conv_transpose2d":
            assert len(shp) == 3
            mod = nn.ConvTranspose2d(shp[0], layer["out"], _pair(layer["kernel"]),
                                     _pair(layer.get("stride", 1)), _pair(layer.get("padding", 0)),
                                     _pair(layer.get("output_padding", 0)), layer.get("groups", 1),
                                     layer.get("bias", True), _pair(layer.get("dilation", 1)))
            self._attach(name, mod)
            return Node(layer, srcs, self._probe(mod, shp), module=mod, fn=mod)
        if op == "upsample":
            assert len(shp) == 3
            mode, align = layer.get("mode", "nearest"), layer.get("align_corners")
            kw = {"size": tuple(layer["size"])} if "size" in layer else \
                {"scale_factor": tuple(float(v) for v in (layer["scale"] if isinstance(
                    layer["scale"], list) else [layer["scale"]] * 2))}
            if mode == "bilinear":
                kw["align_corners"] = bool(align)
            fn = lambda x, kw=kw: F.interpolate(x, mode=mode, **kw)
            return Node(layer, srcs, self._probe(fn, shp), fn=fn)
        if op == "layernorm":
            dims = layer.get("dims", len(shp))
            mod = nn.LayerNorm(list(shp[len(shp) - dims:]), eps=layer.get("eps", 1e-5),
                               elementwise_affine=layer.get("affine", True))
            self._attach(name, mod)
            return Node(layer, srcs, shp, module=mod, fn=mod)
        if op == "groupnorm":
            mod = nn.GroupNorm(layer["groups"], shp[0], eps=layer.get("eps", 1e-5),
                               affine=layer.get("affine", True))
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
        if op == "reshape":
            shape = list(layer["shape"])
            if -1 in shape:
                shape[shape.index(-1)] = math.prod(shp) // -math.prod(shape)
            assert math.prod(shape) == math.prod(shp), f"{key}: reshape {shp} to {shape}"
            return Node(layer, srcs, tuple(shape),
                        fn=lambda x, s=tuple(shape): x.reshape((x.shape[0],) + s))
        if op in ("pixel_shuffle", "pixel_unshuffle"):
            r = layer["factor"]
            fn = (lambda x: F.pixel_shuffle(x, r)) if op == "pixel_shuffle" else \
                (lambda x: F.pixel_unshuffle(x, r))
            return Node(layer, srcs, self._probe(fn, shp), fn=fn)
        if op == "add":
            assert srcs and len(srcs) >= 2 and all(s == in_shapes[0] for s in in_shapes), \
                f"add: {srcs} {in_shapes}"
            return Node(layer, srcs, in_shapes[0], fn=lambda *xs: sum(xs[1:], xs[0]))
        if op == "mul":
            assert srcs and len(srcs) >= 2 and all(s == in_shapes[0] for s in in_shapes), \
                f"mul: {srcs} {in_shapes}"
            return Node(layer, srcs, in_shapes[0], fn=lambda *xs: math.prod(xs[1:], start=xs[0]))
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
            mod = ConvLSTM(cin, hidden, layer["kernel"], layer.get("peephole", "none"),
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
                mod = ConvGRU([s[0] for s in in_shapes], hidden, layer["kernel"])
                out_hw = in_shapes[-1][1:]
            else:
                assert len(shp) == 3
                mod = ConvGRU(shp[0], hidden, layer["kernel"])
                out_hw = shp[1:]
            self._attach(name, mod)
            return Node(layer, srcs, (hidden[-1],) + tuple(out_hw), module=mod)
        raise ValueError(f"unknown op {op!r}")

    def _make_attention(self, layer, key, srcs, in_keys, chain, later):
        name = layer.get("name")
        assert len(in_keys) == 1, "attention reads one layer: its keys"
        kkey = in_keys[0]
        knode = self._by_key.get(kkey)
        assert knode is not None, f"{key}: keys from {kkey!r}, not a layer"
        assert knode.chain == "frame" and knode.rate == "frame", \
            "attention keys: a layer of the per-frame chain"
        kshape = knode.shape
        if knode.window:
            n, dk, is_map = knode.window, kshape[0], False
        else:
            assert len(kshape) == 3, f"{key}: keys must be a windowed vector layer or a map"
            n, dk, is_map = kshape[1] * kshape[2], kshape[0], True
        vkey = layer.get("values", kkey)
        vnode = self._by_key[vkey]
        assert vnode.chain == "frame" and vnode.rate == "frame"
        if is_map:
            assert len(vnode.shape) == 3 and vnode.shape[1:] == kshape[1:], \
                f"{key}: values must be a map of the keys' size"
        else:
            assert vnode.window == n and len(vnode.shape) == 1, \
                f"{key}: values must be a vector layer with a window of {n}"
        dv = vnode.shape[0]
        qkey = layer.get("query")
        qnode = self._by_key.get(qkey)
        if qkey in (None, "learned"):  # score linear, or a trained query vector
            dq, query_prev, qkey = dk, False, None
        elif qnode is not None and qnode.chain == chain:  # computed earlier: this step's output
            assert len(qnode.shape) == 1, f"{key}: the query must be a vector"
            dq, query_prev = qnode.shape[0], False
        else:  # a later lstm/gru: its top layer's h of the previous step
            (ql,) = [l for l in later if l.get("name") == qkey]
            assert ql["op"] in ("lstm", "gru"), \
                f"{key}: a query after the attention must be an lstm or gru"
            dq, query_prev = ql.get("proj") or _hidden_list(ql)[-1], True
        score, scale = layer.get("score", "dot"), layer.get("scale", False)
        if score == "location":
            assert is_map and not scale, "location attention: map keys, no scale"
            mod = LocationAttention(dq, n)
        else:
            mod = Attention(score, dq, dk, layer.get("hidden"), scale,
                            learned_query=layer.get("query") == "learned")
        if any(True for _ in mod.parameters()):
            assert name, "attention with weights needs a name"
            self._attach(name, mod)
        node = Node(layer, srcs, (dv,), module=mod)
        node.keys, node.values, node.query, node.query_prev = kkey, vkey, qkey, query_prev
        node.n = n
        return node

    def _make_mha(self, layer, key, srcs, in_keys):
        (kkey,) = in_keys
        knode = self._by_key[kkey]
        assert knode.window and knode.chain == "frame", f"{key}: keys from a layer with a window"
        vkey, qkey = layer.get("values", kkey), layer.get("query", kkey)
        vnode, qnode = self._by_key[vkey], self._by_key[qkey]
        assert vnode.window == knode.window, f"{key}: values with the keys' window"
        mod = WindowMultiheadAttention(knode.window, qnode.shape[0], layer["heads"],
                                       kdim=knode.shape[0], vdim=vnode.shape[0],
                                       bias=layer.get("bias", True),
                                       key_padding=layer.get("key_padding", True))
        self._attach(layer["name"], mod)
        node = Node(layer, srcs, (qnode.shape[0],), module=mod)
        node.keys, node.values, node.query, node.n = kkey, vkey, qkey, knode.window
        return node

    @staticmethod
    @torch.no_grad()
    def _probe(fn, shape):
        return tuple(fn(torch.zeros(1, *shape)).shape[1:])

    def _recurrent_node(self, name):
        for n in self._nodes:
            if n.name == name:
                return n
        raise KeyError(f"init_state: no observe-phase layer {name!r}")

    @staticmethod
    def _loop_regions(nodes):
        """Index ranges [a, b] of a chain that must run frame by frame: from an attention whose
        query is the previous state of a later lstm/gru (at b) to that layer; overlaps merged."""
        idx = {n.key: i for i, n in enumerate(nodes)}
        spans = sorted((i, idx[n.query]) for i, n in enumerate(nodes)
                       if n.op == "attention" and n.query_prev)
        merged = []
        for a, b in spans:
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        for a, b in merged:
            for n in nodes[a:b + 1]:
                assert n.rate in ("frame", "step") and n.op not in ("temporal_pool",
                                                                    "temporal_conv") and \
                    not isinstance(n.module, PeepholeLSTM), f"{n.key} cannot run in a feedback loop"
        return {a: b for a, b in merged}

    # -- running ----------------------------------------------------------------------------------
    def _run_chain(self, nodes, x, vals, states, steps=None, attn=None):
        """Evaluates a chain over a whole sequence, layer by layer (see the module docstring).
        x: the chain's input sequence, also vals['input'] (None for a forecast chain without
        input: its first layer, a convlstm, runs `steps` times from its init_state). vals and
        states (recurrent states) are by layer key; attn collects each attention layer's weights
        (T, n). Returns the last layer's output sequence."""
        if x is not None:
            vals.setdefault("input", x)
        attn = {} if attn is None else attn
        regions = self._loop_regions(nodes)
        i = 0
        while i < len(nodes):
            if i in regions:
                self._run_frames(nodes[i:regions[i] + 1], vals, states, attn)
                i = regions[i] + 1
                continue
            node = nodes[i]
            if node.op == "convlstm" and not node.in_keys:  # forecast chain without input
                state, outs = states[node.init_state], []
                for _ in range(steps):
                    o, state = node.module.step(None, state)
                    outs.append(o)
                out = torch.stack(outs).squeeze(1)
                states[node.key] = state
            else:
                out = self._run_node(node, vals, states, attn)
            vals[node.key] = out
            i += 1
        return vals[nodes[-1].key]

    def _kv(self, key, seq, last):
        """The keys (or values) an attention reads from layer `key`, whose outputs so far are seq
        (T, ...): (B, n, D) and the mask of the valid entries (B, n) (None for a map, whose
        n = H*W positions are all valid). B = T, one per frame; with last=True B = 1: the window
        (map) as seq's last frame left it."""
        src = self._by_key[key]
        if src.window:
            win, mask = window_stack(seq, src.window)
            return (win[-1:], mask[-1:]) if last else (win, mask)
        m = seq[-1:] if last else seq
        return m.flatten(2).transpose(1, 2), None   # (B, H*W, D): i = row * W + col

    def _attention(self, node, q, seq, last):
        keys, mask = self._kv(node.keys, seq(node.keys), last)
        values = keys if node.values == node.keys else self._kv(node.values, seq(node.values),
                                                                last)[0]
        return node.module(q, keys, values, mask)

    def _run_node(self, node, vals, states, attn):
        """One layer over the whole sequence of its inputs."""
        if node.op == "attention":  # query: an earlier layer's output of the same frame
            assert not node.query_prev and node.chain == "frame"
            q = vals[node.query] if node.query else None
            out, attn[node.key] = self._attention(node, q, vals.__getitem__,
                                                  last=False)
            return out
        if node.op == "mha":  # all frames at once: batch 1 is the module's batch
            out, a = node.module(vals[node.query].unsqueeze(1), vals[node.keys].unsqueeze(1),
                                 vals[node.values].unsqueeze(1))
            attn[node.key] = a.squeeze(1)
            return out.squeeze(1)
        ins = [vals[k] for k in node.in_keys]
        if node.op in ("lstm", "gru") and not node.layer.get("bidirectional"):
            if isinstance(node.module, PeepholeLSTM):
                return node.module(ins[0])[0]
            hx = node.module.initial_state(vals[node.init_from][:1]) if node.init_from else None
            out, states[node.key] = node.module(ins[0].unsqueeze(1), hx)  # (T, batch 1, N)
            return out.squeeze(1)
        if node.op == "convlstm":
            state = states[node.init_state] if node.init_state else None
            out, state = node.module(ins[0].unsqueeze(1), state)
            states[node.key] = state
            return out.squeeze(1)
        if node.op == "convgru":
            state, outs = None, []
            for t in range(ins[0].shape[0]):
                xt = [i[t:t + 1] for i in ins] if node.module.rcn else ins[0][t:t + 1]
                o, state = node.module.step(xt, state)
                outs.append(o)
            states[node.key] = state
            return torch.cat(outs)
        return node.fn(*ins)

    def _prev_hidden(self, key, states):
        """The query of an attention: lstm/gru `key`'s top-layer h after the previous step,
        (1, H); zeros before its first step."""
        st = states.get(key)
        if st is None:   # shape: the layer's output, h (proj_size with a projection)
            return torch.zeros(1, self._by_key[key].shape[0])
        h = st[0] if self._by_key[key].op == "lstm" else st   # (layers, batch 1, H)
        return h[-1]

    def _step_node(self, node, cur, seq, states):
        """One layer for one frame (or forecast step): cur(key) is a layer's output of this
        step (1, ...), seq(key) its outputs so far (t + 1, ...). Returns (output, attention
        weights or None)."""
        if node.op == "attention":  # reads its keys' window (map) through seq
            q = self._prev_hidden(node.query, states) if node.query_prev else \
                cur(node.query) if node.query else None
            return self._attention(node, q, seq, last=True)
        ins = [cur(k) for k in node.in_keys]
        if node.op in ("lstm", "gru"):
            hx = states.get(node.key)
            if hx is None and node.init_from:
                hx = node.module.initial_state(cur(node.init_from))
            out, states[node.key] = node.module(ins[0].unsqueeze(0), hx)  # (1 step, batch 1, N)
            return out[0], None
        if node.op == "convlstm":
            out, states[node.key] = node.module.step(ins[0] if ins else None, states.get(node.key))
            return out, None
        if node.op == "convgru":
            out, states[node.key] = node.module.step(ins if node.module.rcn else ins[0],
                                                     states.get(node.key))
            return out, None
        return node.fn(*ins), None

    def _run_frames(self, nodes, vals, states, attn):
        """A feedback loop (an attention whose query is a later lstm/gru's previous h, up to that
        lstm/gru), frame by frame; the layers before it have their whole sequences in vals."""
        T = vals["input"].shape[0]
        hist = {n.key: [] for n in nodes}
        weights = {n.key: [] for n in nodes if n.op == "attention"}
        for t in range(T):
            def cur(k):
                return hist[k][t] if k in hist else vals[k][t:t + 1]

            def seq(k):
                return torch.cat(hist[k]) if k in hist else vals[k][:t + 1]

            for node in nodes:
                out, a = self._step_node(node, cur, seq, states)
                hist[node.key].append(out)
                if a is not None:
                    weights[node.key].append(a)
        for k, outs in hist.items():
            vals[k] = torch.cat(outs)
        for k, ws in weights.items():
            attn[k] = torch.cat(ws)

    def _run_forecast_steps(self, vals, states):
        """A forecast chain step by step: with feedback, its first layer reads the last observed
        frame, then each step's prediction. Recurrent layers start from their init_state's
        current state, or zeros; attention keys are the per-frame windows (maps) as the last
        frame left them."""
        fstates = {n.key: states[n.init_state] for n in self._forecast if n.init_state}
        inp = vals["input"][-1:] if self.feedback else None
        outs, weights = [], []
        for _ in range(self.forecast_steps):
            step_vals, ws = {FEEDBACK: inp}, []
            for node in self._forecast:
                out, a = self._step_node(node, step_vals.__getitem__, vals.__getitem__, fstates)
                step_vals[node.key] = out
                if a is not None:
                    ws.append(a)
            outs.append(out)
            weights.append(torch.cat(ws, dim=1) if ws else None)
            inp = out
        return torch.cat(outs), (torch.cat(weights) if weights[0] is not None else None)

    def run_clip(self, x, forecast=True):
        """x: (T, *frame) -> {'output': (T, *out)} ({'clip': (*out)} instead when the last layer
        runs per clip), 'attention': (T, A) with the weights of the per-frame chain's attention
        layers, 'forecast': (K, *fc) if the spec has one}. With an `input:` dtype, layout or
        normalisation x holds the frames as m_step takes them (e.g. (T, H, W, C) bytes)."""
        if self.camera is not None:
            x = self.camera(x)
        vals, states, attn = {"input": x}, {}, {}
        last = self._run_chain(self._nodes, x, vals, states, attn=attn)
        res = {"clip": last[0]} if self.per_clip else {"output": last}
        weights = [attn[n.key] for n in self._nodes if n.op in ("attention", "mha")]
        if weights:
            res["attention"] = torch.cat(weights, dim=1)
        if self._forecast and forecast:
            if self._stepped_forecast:
                res["forecast"], a = self._run_forecast_steps(vals, states)
                if a is not None:  # the forecast chain's attention weights (K, A), for checks
                    res["forecast_attention"] = a
            else:
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


def clip_of(model, spec, res):
    """The clip output of a run_clip() result: the last layer's per-clip value, or the
    output.clip aggregate of the per-frame outputs; None without a clip output."""
    mode = spec.get("output", {}).get("clip")
    if model.per_clip:
        assert mode is None, "a model whose last layer runs per clip has no output.clip"
        return res["clip"]
    return aggregate(res["output"], mode) if mode else None


@torch.no_grad()
def run_all(model, spec, x, clip_steps=True):
    """Return {'output': (T, *OUT) (absent when the last layer runs per clip), 'clip': (*OUT) or
    None, 'clip_steps': (T, *OUT) the clip read after each frame t, i.e. the whole computation
    on frames 0..t (with a clip output), 'attention': (T, A) (with attention layers in the
    per-frame chain), 'forecast': (K, *F) (with a forecast chain)}."""
    model.eval()
    res = model.run_clip(x)
    res["clip"] = clip_of(model, spec, res)
    if clip_steps and res["clip"] is not None:
        res["clip_steps"] = torch.stack(
            [clip_of(model, spec, model.run_clip(x[:t + 1], forecast=False))
             for t in range(x.shape[0] - 1)] + [res["clip"]])
    return res


def run(model, spec, x):
    """Return (per-frame outputs (T, *OUT) or None, clip output (*OUT) or None)."""
    res = run_all(model, spec, x, clip_steps=False)
    return res.get("output"), res["clip"]
