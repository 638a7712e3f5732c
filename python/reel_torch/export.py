"""export(model, example, out_dir): a PyTorch module as reel's YAML spec and weights.

The module's forward takes one clip, [1, T, *frame] (batch-first, batch 1; [T, 1, *frame]
with time_first=True), and returns per-frame outputs [1, T, *out], a clip output [1, *out]
where it reduces over time (mean, max, or the last frame: the spec's clip aggregate, or a
clip temporal_pool when layers follow the reduction), or a forecast [1, steps, *frame]
(EncoderForecaster, Seq2Seq). The module is traced on `example` (reel_torch.trace) and each
node mapped onto reel layers; what cannot be mapped is reported all at once, each with its
module path, its type and the nearest reel op (ExportError).

Layer names are the module paths (`cnn.0`, `rnn`), so the weights keep their state_dict
names; functions get the graph's node names (`relu_1`, `add`). Each layer's line in the YAML
ends with a comment naming the PyTorch module or function it came from.
"""
import inspect
import math
import operator
import os
import re
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import nn as rnn
from .safetensors import save_file
from .trace import ConcreteTracer, TraceError


class ExportError(Exception):
    """Everything export could not map, one problem per line."""


# ---- what a graph value is, in reel's terms ------------------------------------------------------

@dataclass
class Val:
    """A traced value. kind: 'seq' (one tensor per step: frames, closed windows, or the clip
    read, by `rate`), 'reduced' (a seq reduced over time, `mode` of `src`, not yet a layer),
    'tuple', 'state' (an nn.LSTM's (h_n, c_n) item), 'const', 'bad' (an error upstream)."""
    kind: str
    layer: str = None         # the spec layer that outputs it ('input': the frame)
    chain: str = "layers"     # 'layers' or 'forecast'
    rate: str = "frame"       # 'frame', 'window' or 'clip'
    tdim: int = 0             # the torch dim of the steps
    lead: int = 0             # batch dims of size 1 between the steps and the frame
    frame: tuple = ()         # the reel shape of one step
    mode: str = None          # reduced: 'mean', 'max', 'last'
    src: "Val" = None         # reduced: what it reduces; state: the recurrent layer's output
    items: tuple = ()         # tuple
    which: str = None         # state: 'h' or 'c'
    value: object = None      # const
    pad: tuple = None         # seq: zeros (left, right, top, bottom) the next conv2d takes in

    def fdim(self, d, ndim):
        """Torch dim d of this value's tensor (ndim dims) as a frame dim (< 0: a time or
        batch dim)."""
        d = d + ndim if d < 0 else d
        return d - self.tdim - 1 - self.lead


BAD = Val("bad")

ACTIVATIONS = {  # module type -> (reel op, its keys from the module)
    nn.ReLU: ("relu", lambda m: {}),
    nn.ReLU6: ("relu6", lambda m: {}),
    nn.LeakyReLU: ("leaky_relu", lambda m: {"negative_slope": m.negative_slope}),
    nn.Sigmoid: ("sigmoid", lambda m: {}),
    nn.Tanh: ("tanh", lambda m: {}),
    nn.GELU: ("gelu", lambda m: {"approximate": m.approximate}),
    nn.SiLU: ("silu", lambda m: {}),
    nn.Hardswish: ("hardswish", lambda m: {}),
    nn.Hardsigmoid: ("hardsigmoid", lambda m: {}),
    nn.ELU: ("elu", lambda m: {"alpha": m.alpha}),
}
ACTIVATION_FUNCTIONS = {  # function or method name -> (reel op, keys from (args, kwargs))
    torch.relu: "relu", F.relu: "relu", "relu": "relu",
    F.relu6: "relu6",
    torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid", "sigmoid": "sigmoid",
    torch.tanh: "tanh", F.tanh: "tanh", "tanh": "tanh",
    F.silu: "silu", F.hardswish: "hardswish", F.hardsigmoid: "hardsigmoid",
    F.leaky_relu: "leaky_relu", F.gelu: "gelu", F.elu: "elu",
}
ACTIVATION_ARGS = {"leaky_relu": ("negative_slope", 0.01), "gelu": ("approximate", "none"),
                   "elu": ("alpha", 1.0)}
IDENTITY_MODULES = (nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d,
                    nn.AlphaDropout)
IDENTITY_CALLS = {F.dropout, F.dropout1d, F.dropout2d, F.dropout3d, "contiguous", "clone",
                  "detach", "float"}
RESHAPES = {torch.flatten, torch.reshape, torch.squeeze, torch.unsqueeze, torch.unflatten, "view",
            "reshape", "flatten", "unflatten", "squeeze", "unsqueeze", "view_as", "reshape_as"}
NEAREST = {  # types and functions reel lacks -> the nearest reel op, for the message
    "InstanceNorm2d": "groupnorm with groups = channels (affine=False: affine: false)",
    "Conv1d": "conv2d on a [C, 1, W] frame, or temporal_conv over time",
    "Conv3d": "temporal_conv (reel_torch.nn.TemporalConv)",
    "MultiheadAttention": "mha over a window (reel_torch.nn.WindowMultiheadAttention)",
    "Embedding": "linear on one-hot frames",
    "LogSoftmax": "softmax",
    "Softmin": "softmax",
    "RNN": "gru or lstm",
    "LSTMCell": "lstm: run an nn.LSTM over the sequence (reelc reads LSTMCell weights as a "
                "one-layer lstm)",
    "GRUCell": "gru: run an nn.GRU over the sequence (reelc reads GRUCell weights as a "
               "one-layer gru)",
    "AdaptiveMaxPool2d": "maxpool",
    "Hardtanh": "relu6 (for min 0, max 6)",
    "Softplus": "silu or elu",
    "Mish": "silu",
    "stack": "none: reel runs the model one frame at a time; instead of looping over frames "
             "and stacking, merge time into the batch (x.flatten(0, 1), then .view(1, T, ...))",
}


def _leaf(m):
    """Modules export maps whole: torch.nn's (fx's default) and reel_torch.nn's."""
    return type(m).__module__ == rnn.__name__


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _one(v):
    """An int, or [a, b] when the pair differs, as a spec writes it."""
    a, b = _pair(v)
    return a if a == b else [a, b]


def _scale(v):
    """A scale factor as the spec writes it: 2, not 2.0."""
    return int(v) if float(v).is_integer() else v


def _shape(v):
    return tuple(v.shape) if isinstance(v, torch.Tensor) else None


# ---- the exporter ----------------------------------------------------------------------------------

class _Exporter:
    def __init__(self, model, example, time_first):
        self.model, self.example, self.time_first = model, example, time_first
        self.modules = dict(model.named_modules())
        self.state = model.state_dict()
        self.layers = {"layers": [], "forecast": []}
        self.windows = {}         # layer name -> window size
        self.tensors = {}         # weights to write
        self.errors = []
        self.repeats = {}         # (kind, target, message) -> (its line, how many)
        self.called = set()       # module paths mapped so far (a module maps once)
        self.forecast = None      # {"steps": K, "feedback": bool}
        self.names = set()
        self.camera = None        # the CameraInput the frames pass first, if any
        self.frame = None         # the model's frame after it

    # -- problems, all collected ---------------------------------------------------------------
    def error(self, node, what, nearest=None):
        if node.op == "call_module":
            origin = f"{node.target} ({type(self.modules[node.target]).__name__})"
        elif node.op == "call_method":
            origin = f"{node.name} (Tensor.{node.target})"
        else:
            origin = f"{node.name} ({getattr(node.target, '__name__', node.target)})"
        line = f"{origin}: {what}" + (f"; nearest reel op: {nearest}" if nearest else "")
        key = (node.op, str(node.target), what)   # one line for a loop's every step
        if key in self.repeats:
            i, count = self.repeats[key]
            self.repeats[key] = (i, count + 1)
            self.errors[i] = f"{self.errors[i].split(' [and ')[0]} [and {count} more like it]"
        else:
            self.repeats[key] = (len(self.errors), 1)
            self.errors.append(line)
        return BAD

    # -- emitting layers ---------------------------------------------------------------------------
    def fresh(self, name):
        base, k = name, 1
        while name in self.names:
            name, k = f"{base}.{k}", k + 1
        self.names.add(name)
        return name

    def emit(self, node, x, op, keys=None, name=None, comment=None, inputs=None, chain=None):
        """A layer reading x (a seq Val, or the Vals in `inputs`); returns its name."""
        chain = chain or x.chain
        name = self.fresh(name or (node.target if node.op == "call_module" else node.name))
        layer = {"name": name, "op": op}
        srcs = [v.layer for v in (inputs or [x])]
        chain_layers = self.layers[chain]
        default = chain_layers[-1]["name"] if chain_layers else "input"
        if srcs != [default] and srcs != [None]:   # None: a forecast chain's input-less start
            layer["from"] = srcs if len(srcs) > 1 else srcs[0]
        layer.update(keys or {})
        layer["#"] = comment or self.describe(node)
        chain_layers.append(layer)
        return name

    def describe(self, node):
        if node.op == "call_module":
            m = self.modules[node.target]
            text = repr(m)
            return f"{node.target}: {text if chr(10) not in text else type(m).__name__}"
        if node.op == "call_method":
            return f"Tensor.{node.target}"
        return f"{getattr(node.target, '__module__', '') or ''}.{node.target.__name__}".lstrip(".")

    def weights(self, name, extra=None, node=None):
        """The tensors of layer `name`: the state_dict's under its module path (a module run a
        second time is a second layer, `<path>.1`, with a copy of them), and `extra`."""
        path = node.target if node is not None and node.op == "call_module" else name
        for k, v in self.state.items():
            if k.startswith(path + "."):
                self.tensors[name + k[len(path):]] = v.detach().float() \
                    if v.is_floating_point() else v
        for k, v in (extra or {}).items():
            self.tensors[f"{name}.{k}"] = v

    def out(self, x, name, frame, rate=None, tdim=None, lead=None, chain=None):
        return replace(x, kind="seq", layer=name, frame=tuple(frame), rate=rate or x.rate,
                       tdim=x.tdim if tdim is None else tdim, lead=x.lead if lead is None else lead,
                       chain=chain or x.chain, mode=None, src=None, pad=None)

    # -- values ------------------------------------------------------------------------------------
    def seq(self, node, v, what="input", pad_ok=False):
        """v as a per-step tensor: a pending reduction becomes a layer first (or stays pending for
        'last', which commutes with per-frame ops: see per_step)."""
        if v.kind == "seq" and v.pad and not pad_ok:
            self.error(node, "reads a zero-padded map: reel folds a zero pad into the conv2d "
                       "right after it only", "conv2d with padding [top, bottom, left, right]")
            return None
        if v.kind == "seq":
            return v
        if v.kind == "reduced" and v.mode in ("mean", "max"):
            return self.pool_clip(node, v)
        if v.kind == "bad":
            return None
        self.error(node, f"its {what} is not a tensor of frames reel can follow "
                   f"({v.kind})")
        return None

    def pool_clip(self, node, v):
        """A reduction over time that layers follow: a clip temporal_pool."""
        name = self.emit(node, v.src, "temporal_pool", {"mode": v.mode},
                         name=f"{node.name}.pool", comment=f"{node.name}: {v.mode} over time")
        return Val("seq", layer=name, chain=v.src.chain, rate="clip", tdim=0, lead=0,
                   frame=v.src.frame)

    def per_step(self, node, x, fn, pad_ok=False):
        """fn(x seq) -> Val for an op that works on each step alone: on a pending 'last'
        reduction it runs per frame and the reduction stays pending."""
        if x.kind == "reduced" and x.mode == "last":
            y = fn(replace(x.src, tdim=x.tdim, lead=x.lead))
            return y if y.kind == "bad" else replace(x, src=y, frame=y.frame)
        x = self.seq(node, x, pad_ok=pad_ok)
        return fn(x) if x is not None else BAD

    # -- the graph -----------------------------------------------------------------------------------
    def run(self):
        tracer = ConcreteTracer(_leaf)
        try:
            gm = tracer.trace_with(self.model, self.example)
        except TraceError as e:
            raise ExportError(f"cannot trace {type(self.model).__name__}.forward: {e}") from None
        vals = {}
        result = None
        for node in gm.graph.nodes:
            if node.op == "placeholder":
                if node.name in vals or len(vals):
                    raise ExportError("forward must take one argument, the clip")
                vals[node] = self.input_val()
            elif node.op == "output":
                result = self.result(node, self.arg(vals, node.args[0]))
            elif node.op == "get_attr":
                vals[node] = Val("const", value=node.meta["value"])
            else:
                vals[node] = self.map_node(node, vals)
        if self.errors:
            raise ExportError("\n".join(self.errors))
        return result

    def input_val(self):
        x = self.example
        if x.dim() < 3 or x.shape[0 if self.time_first else 1] < 1 or \
                x.shape[1 if self.time_first else 0] != 1:
            want = "[T, 1, *frame]" if self.time_first else "[1, T, *frame]"
            raise ExportError(f"the example must be one clip, {want}, got {list(x.shape)}")
        frame = tuple(x.shape[2:])
        if len(frame) not in (1, 3):
            raise ExportError(f"a frame is [N] or [C, H, W], got {list(frame)}")
        return Val("seq", layer="input", tdim=0 if self.time_first else 1,
                   lead=1 if self.time_first else 0, frame=frame)

    def arg(self, vals, a):
        if isinstance(a, torch.fx.Node):
            return vals[a]
        if isinstance(a, (tuple, list)):
            items = tuple(self.arg(vals, i) for i in a)
            if all(i.kind == "const" for i in items):   # a shape, a dim list, an index
                return Val("const", value=type(a)(i.value for i in items))
            return Val("tuple", items=items)
        return Val("const", value=a)

    def map_node(self, node, vals):
        args = [self.arg(vals, a) for a in node.args]
        kwargs = {k: self.arg(vals, a) for k, a in node.kwargs.items()}
        if any(v.kind == "bad" for v in args + list(kwargs.values())):
            if node.op == "call_module":   # what is wrong with the module itself, still
                problem = _module_problem(self.modules[node.target])
                if problem:
                    self.error(node, *problem)
            return BAD
        if all(v.kind == "const" for v in args + list(kwargs.values())) and \
                node.op != "call_module":
            return Val("const", value=node.meta["value"])
        if node.op == "call_module":
            return self.map_module(node, self.modules[node.target], args, kwargs)
        key = node.target
        if node.op == "call_function" and key in (operator.getitem, getattr):
            return self.map_getitem(node, args)
        return self.map_call(node, key, args, kwargs)

    # -- modules -----------------------------------------------------------------------------------
    def map_module(self, node, m, args, kw):
        if node.target in self.called and isinstance(m, _REEL_MODULES):
            return self.error(node, "is called a second time: a reel_torch.nn module maps onto "
                              "layers with their own state, once per model")
        self.called.add(node.target)
        x = args[0] if args else BAD
        if isinstance(m, IDENTITY_MODULES):
            return x
        if type(m) in ACTIVATIONS:
            op, keys = ACTIVATIONS[type(m)]
            return self.activation(node, x, op, keys(m))
        problem = _module_problem(m)
        if problem:
            return self.error(node, *problem)
        return getattr(self, "module_" + type(m).__name__)(node, m, x, args, kw)

    def activation(self, node, x, op, keys):
        keys = {k: v for k, v in keys.items() if v != ACTIVATION_ARGS.get(op, (None, None))[1]}

        def fn(x):
            return self.out(x, self.emit(node, x, op, keys), x.frame)
        return self.per_step(node, x, fn)

    def module_Linear(self, node, m, x, args, kw):
        def fn(x):
            if len(x.frame) not in (1, 2):
                return self.error(node, f"reads {list(x.frame)} per frame: reel's linear reads a "
                                  "vector or the rows of a matrix (flatten a map first)", "linear")
            keys = {"out": m.out_features}
            if m.bias is None:
                keys["bias"] = False
            name = self.emit(node, x, "linear", keys)
            self.weights(name, node=node)
            return self.out(x, name, tuple(x.frame[:-1]) + (m.out_features,))
        return self.per_step(node, x, fn)

    def module_Conv2d(self, node, m, x, args, kw):
        def fn(x):
            if len(x.frame) != 3:
                return self.error(node, f"reads {list(x.frame)} per frame, not [C, H, W]", "conv2d")
            keys = {"out": m.out_channels, "kernel": _one(m.kernel_size)}
            if _pair(m.stride) != (1, 1):
                keys["stride"] = _one(m.stride)
            if x.pad and m.padding == "same":
                return self.error(node, "has padding='same' after a zero pad: give the conv "
                                  "numeric padding", "conv2d")
            if x.pad:   # F.pad's (left, right, top, bottom) plus the conv's own
                ph, pw = (0, 0) if m.padding == "valid" else _pair(m.padding)
                left, right, top, bottom = x.pad
                keys["padding"] = [top + ph, bottom + ph, left + pw, right + pw]
            elif m.padding in ("same", "valid"):
                keys["padding"] = m.padding
            elif _pair(m.padding) != (0, 0):
                keys["padding"] = _one(m.padding)
            if _pair(m.dilation) != (1, 1):
                keys["dilation"] = _one(m.dilation)
            if m.groups != 1:
                keys["groups"] = m.groups
            if m.bias is None:
                keys["bias"] = False
            name = self.emit(node, x, "conv2d", keys)
            self.weights(name, node=node)
            return self.out(x, name, _shape(node.meta["value"])[-3:])
        return self.per_step(node, x, fn, pad_ok=True)

    def module_CameraInput(self, node, m, x, args, kw):
        """The spec's `input:` dtype, layout, scale, mean and std, when it reads the frames."""
        if x.kind != "seq" or x.layer != "input" or x.chain != "layers" or self.camera is not None:
            return self.error(node, "converts something other than the model's input frames: "
                              "reel converts frames as they come in (input: dtype, layout, mean, "
                              "std)", "input")
        frame = _shape(node.meta["value"])[-len(x.frame):]
        if frame[0] != m.channels:
            return self.error(node, f"has {m.channels} channels, but the frames have {frame[0]}",
                              "input")
        self.camera, self.frame = m, tuple(frame)
        return replace(x, frame=tuple(frame))

    def module_ZeroPad2d(self, node, m, x, args, kw):
        return self.zero_pad(node, x, m.padding)

    def zero_pad(self, node, x, sides):
        """A zero pad, (left, right[, top, bottom]): pending until the conv2d after it."""
        x = self.seq(node, x)
        if x is None:
            return BAD
        if len(x.frame) != 3 or len(sides) not in (2, 4) or min(sides) < 0:
            return self.error(node, "pads something other than a map's rows and columns with "
                              "zeros", "conv2d with padding [top, bottom, left, right]")
        sides = tuple(sides) + (0, 0) if len(sides) == 2 else tuple(sides)
        old = x.pad or (0, 0, 0, 0)
        return replace(x, pad=tuple(a + b for a, b in zip(old, sides)),
                       frame=_shape(node.meta["value"])[-3:])

    def module_ConvTranspose2d(self, node, m, x, args, kw):
        def fn(x):
            if len(x.frame) != 3 or m.padding_mode != "zeros" or (len(args) > 1 and
                                                                   args[1].kind != "const"):
                return self.error(node, "reads something other than a [C, H, W] map, pads other "
                                  "than with zeros, or is given an output_size", "conv_transpose2d")
            keys = {"out": m.out_channels, "kernel": _one(m.kernel_size)}
            for key, value, default in (("stride", m.stride, 1), ("padding", m.padding, 0),
                                        ("output_padding", m.output_padding, 0),
                                        ("dilation", m.dilation, 1)):
                if _pair(value) != (default, default):
                    keys[key] = _one(value)
            if m.groups != 1:
                keys["groups"] = m.groups
            if m.bias is None:
                keys["bias"] = False
            name = self.emit(node, x, "conv_transpose2d", keys)
            self.weights(name, node=node)
            return self.out(x, name, _shape(node.meta["value"])[-3:])
        return self.per_step(node, x, fn)

    def module_BatchNorm2d(self, node, m, x, args, kw):
        return self.batchnorm(node, m, x, 3)

    def module_BatchNorm1d(self, node, m, x, args, kw):
        return self.batchnorm(node, m, x, 1)

    def batchnorm(self, node, m, x, rank):
        def fn(x):
            if len(x.frame) != rank:
                return self.error(node, f"normalises {list(x.frame)} per frame: reel's batchnorm "
                                  "takes [C, H, W] or [N]", "batchnorm")
            keys = {} if m.eps == 1e-5 else {"eps": m.eps}
            name = self.emit(node, x, "batchnorm", keys)
            c = m.num_features
            extra = {} if m.affine else {"weight": torch.ones(c), "bias": torch.zeros(c)}
            self.weights(name, extra, node)
            return self.out(x, name, x.frame)
        return self.per_step(node, x, fn)

    def module_LayerNorm(self, node, m, x, args, kw):
        def fn(x):
            shape = tuple(m.normalized_shape)
            if len(shape) > len(x.frame) or tuple(x.frame[len(x.frame) - len(shape):]) != shape:
                return self.error(node, f"normalises over {list(shape)}, which is not the end of "
                                  f"the frame {list(x.frame)}", "layernorm")
            keys = {} if m.eps == 1e-5 else {"eps": m.eps}
            if len(shape) != len(x.frame):
                keys["dims"] = len(shape)
            if not m.elementwise_affine:
                keys["affine"] = False
            name = self.emit(node, x, "layernorm", keys)
            self.weights(name, node=node)
            return self.out(x, name, x.frame)
        return self.per_step(node, x, fn)

    def module_GroupNorm(self, node, m, x, args, kw):
        def fn(x):
            if len(x.frame) not in (1, 3) or x.frame[0] != m.num_channels:
                return self.error(node, f"normalises {list(x.frame)} per frame, not [C, H, W] or "
                                  f"[C] with C = {m.num_channels}", "groupnorm")
            keys = {"groups": m.num_groups}
            if m.eps != 1e-5:
                keys["eps"] = m.eps
            if not m.affine:
                keys["affine"] = False
            name = self.emit(node, x, "groupnorm", keys)
            self.weights(name, node=node)
            return self.out(x, name, x.frame)
        return self.per_step(node, x, fn)

    def module_PReLU(self, node, m, x, args, kw):
        def fn(x):
            keys = {} if m.num_parameters == 1 else {"num_parameters": m.num_parameters}
            name = self.emit(node, x, "prelu", keys)
            self.weights(name, node=node)
            return self.out(x, name, x.frame)
        return self.per_step(node, x, fn)

    def module_Softmax(self, node, m, x, args, kw):
        return self.softmax(node, x, m.dim)

    def softmax(self, node, x, dim):
        def fn(x):
            ndim = len(_shape(node.meta["value"]))
            d = ndim - 1 if dim is None else dim
            if len(x.frame) != 1 or x.fdim(d, ndim) != 0:
                return self.error(node, "is not a softmax over a vector's elements", "softmax")
            return self.out(x, self.emit(node, x, "softmax"), x.frame)
        return self.per_step(node, x, fn)

    def module_MaxPool2d(self, node, m, x, args, kw):
        return self.pool(node, x, "maxpool", m.kernel_size, m.stride, m.padding, m.ceil_mode,
                         dilation=m.dilation, indices=m.return_indices)

    def module_AvgPool2d(self, node, m, x, args, kw):
        return self.pool(node, x, "avgpool", m.kernel_size, m.stride, m.padding, m.ceil_mode,
                         count_include_pad=m.count_include_pad, divisor=m.divisor_override)

    def pool(self, node, x, op, kernel, stride, padding, ceil_mode, dilation=1,
             count_include_pad=True, divisor=None, indices=False):
        def fn(x):
            if len(x.frame) != 3:
                return self.error(node, f"pools {list(x.frame)} per frame, not [C, H, W]", op)
            if _pair(dilation) != (1, 1) or divisor is not None or indices:
                return self.error(node, "uses dilation, divisor_override or return_indices, "
                                  "which reel's pools lack", op)
            keys = {"kernel": _one(kernel)}
            if stride is not None and _pair(stride) != _pair(kernel):
                keys["stride"] = _one(stride)
            if _pair(padding) != (0, 0):
                keys["padding"] = _one(padding)
            if ceil_mode:
                keys["ceil_mode"] = True
            if op == "avgpool" and not count_include_pad:
                keys["count_include_pad"] = False
            name = self.emit(node, x, op, keys)
            return self.out(x, name, _shape(node.meta["value"])[-3:])
        return self.per_step(node, x, fn)

    def module_AdaptiveAvgPool2d(self, node, m, x, args, kw):
        return self.adaptive_avg(node, x, m.output_size)

    def adaptive_avg(self, node, x, size):
        def fn(x):
            if len(x.frame) != 3:
                return self.error(node, f"pools {list(x.frame)} per frame, not [C, H, W]",
                                  "global_avgpool")
            c, h, w = x.frame
            oh, ow = _pair(size)
            oh, ow = oh or h, ow or w
            if (oh, ow) == (1, 1):
                return self.out(x, self.emit(node, x, "global_avgpool"), (c, 1, 1))
            if h % oh or w % ow:
                return self.error(node, f"pools {h}x{w} to {oh}x{ow}, which is not a whole "
                                  "kernel", "avgpool")
            kernel = _one((h // oh, w // ow))
            name = self.emit(node, x, "avgpool", {"kernel": kernel})
            return self.out(x, name, (c, oh, ow))
        return self.per_step(node, x, fn)

    def module_Flatten(self, node, m, x, args, kw):
        return self.reshape(node, x)

    def module_Unflatten(self, node, m, x, args, kw):
        return self.reshape(node, x)

    def module_Upsample(self, node, m, x, args, kw):
        return self.interpolate(node, x, m.size, m.scale_factor, m.mode, m.align_corners)

    def module_UpsamplingNearest2d(self, node, m, x, args, kw):
        return self.interpolate(node, x, m.size, m.scale_factor, "nearest", None)

    def module_UpsamplingBilinear2d(self, node, m, x, args, kw):
        return self.interpolate(node, x, m.size, m.scale_factor, "bilinear", True)

    def interpolate(self, node, x, size, scale, mode, align_corners, recompute=None):
        def fn(x):
            if len(x.frame) != 3 or mode not in ("nearest", "bilinear") or recompute or \
                    (size is None) == (scale is None):
                return self.error(node, f"resizes {list(x.frame)} per frame with mode {mode!r}"
                                  f"{', recompute_scale_factor' if recompute else ''}: reel's "
                                  "upsample resizes maps, nearest or bilinear", "upsample")
            keys = {}
            if size is not None:
                keys["size"] = list(_pair(size))
            else:
                sh, sw = (float(v) for v in _pair(scale))
                keys["scale"] = _scale(sh) if sh == sw else [_scale(sh), _scale(sw)]
            if mode != "nearest":
                keys["mode"] = mode
                if align_corners:
                    keys["align_corners"] = True
            name = self.emit(node, x, "upsample", keys)
            return self.out(x, name, _shape(node.meta["value"])[-3:])
        return self.per_step(node, x, fn)

    def module_PixelShuffle(self, node, m, x, args, kw):
        return self.shuffle(node, x, "pixel_shuffle", m.upscale_factor)

    def module_PixelUnshuffle(self, node, m, x, args, kw):
        return self.shuffle(node, x, "pixel_unshuffle", m.downscale_factor)

    def shuffle(self, node, x, op, factor):
        def fn(x):
            if len(x.frame) != 3:
                return self.error(node, f"reads {list(x.frame)} per frame, not [C, H, W]", op)
            name = self.emit(node, x, op, {"factor": factor})
            return self.out(x, name, _shape(node.meta["value"])[-3:])
        return self.per_step(node, x, fn)

    # recurrent layers: their input's time axis must be the one the module steps over
    def time_axis(self, node, x, batch_first, what):
        x = self.seq(node, x)
        if x is None:
            return None
        if x.rate != "frame" or x.layer is None:
            self.error(node, f"runs over {x.rate}s: reel's {what} runs every frame", what)
            return None
        want = 1 if batch_first else 0
        if x.tdim != want:
            self.error(node, f"steps over dim {want} (batch_first={batch_first}), but the frames "
                       f"are on dim {x.tdim}: PyTorch would run them as a batch", what)
            return None
        return x

    def module_LSTM(self, node, m, x, args, kw):
        return self.dense_cell(node, m, x, args, "lstm")

    def module_GRU(self, node, m, x, args, kw):
        return self.dense_cell(node, m, x, args, "gru")

    def dense_cell(self, node, m, x, args, op):
        x = self.time_axis(node, x, m.batch_first, op)
        if x is None:
            return BAD
        if len(args) > 1 and args[1].kind != "const":
            return self.error(node, "is given an initial state: reel's starts from zeros (or "
                              "init_state / init_from)", op)
        if len(x.frame) != 1:
            return self.error(node, f"reads {list(x.frame)} per frame, not a vector", op)
        keys = {"hidden": m.hidden_size}
        if m.num_layers > 1:
            keys["layers"] = m.num_layers
        if getattr(m, "proj_size", 0):
            keys["proj"] = m.proj_size
        if not m.bias:
            keys["bias"] = False
        name = self.emit(node, x, op, keys)
        self.weights(name, node=node)
        seq = self.out(x, name, (getattr(m, "proj_size", 0) or m.hidden_size,))
        states = tuple(Val("state", src=seq, which=w, value=m.num_layers) for w in ("h", "c"))
        return Val("tuple", items=(seq, Val("tuple", items=states) if op == "lstm" else states[0]))

    def module_WindowLSTM(self, node, m, x, args, kw):
        return self.window_bidirectional(node, m, x, "lstm")

    def module_WindowGRU(self, node, m, x, args, kw):
        return self.window_bidirectional(node, m, x, "gru")

    def window_bidirectional(self, node, m, x, op):
        """A bidirectional lstm / gru over windows: its output, [frames, 2 hidden] per window."""
        x = self.time_axis(node, x, m.time_batch_first, op)
        if x is None:
            return BAD
        if len(x.frame) != 1:
            return self.error(node, f"reads {list(x.frame)} per frame, not a vector", op)
        keys = {"hidden": m.hidden_size}
        if m.num_layers > 1:
            keys["layers"] = m.num_layers
        keys.update(bidirectional=True, frames=m.frames)
        if m.stride != m.frames:
            keys["stride"] = m.stride
        if not m.bias:
            keys["bias"] = False
        name = self.emit(node, x, op, keys)
        self.weights(name, node=node)
        return self.out(x, name, (m.frames, 2 * m.hidden_size), rate="window")

    def module_PeepholeLSTM(self, node, m, x, args, kw):
        x = self.time_axis(node, x, m.batch_first, "lstm")
        if x is None:
            return BAD
        keys = {"hidden": m.hidden_size, "peephole": "diagonal"}
        if m.num_layers > 1:
            keys["layers"] = m.num_layers
        name = self.emit(node, x, "lstm", keys)
        self.weights(name)
        seq = self.out(x, name, (m.hidden_size,))
        states = tuple(Val("state", src=seq, which=w, value=m.num_layers) for w in ("h", "c"))
        return Val("tuple", items=(seq, Val("tuple", items=states)))

    def module_ConvLSTM(self, node, m, x, args, kw):
        x = self.time_axis(node, x, m.batch_first, "convlstm")
        if x is None:
            return BAD
        if len(x.frame) != 3:
            return self.error(node, f"reads {list(x.frame)} per frame, not [C, H, W]", "convlstm")
        keys = {"hidden": m.hidden if len(set(m.hidden)) > 1 else m.hidden[0],
                "kernel": m.kernel}
        if m.num_layers > 1:
            keys["layers"] = m.num_layers
        if m.peephole != "none":
            keys["peephole"] = m.peephole
        if m.output != "last":
            keys["output"] = m.output
        name = self.emit(node, x, "convlstm", keys)
        self.weights(name)
        seq = self.out(x, name, (m.out_channels,) + tuple(x.frame[1:]))
        return Val("tuple", items=(seq, Val("state", src=seq, which="convlstm")))

    def module_ConvGRU(self, node, m, x, args, kw):
        inputs = list(x.items) if m.rcn else [x]
        seqs = [self.time_axis(node, v, m.batch_first, "convgru") for v in inputs]
        if any(v is None for v in seqs):
            return BAD
        keys = {"hidden": m.hidden if len(set(m.hidden)) > 1 else m.hidden[0],
                "kernel": m.kernel}
        if m.num_layers > 1:
            keys["layers"] = m.num_layers
        name = self.emit(node, seqs[0], "convgru", keys, inputs=seqs)
        self.weights(name)
        seq = self.out(seqs[-1], name, _shape(node.meta["value"][0])[-3:])
        return Val("tuple", items=(seq, Val("state", src=seq, which="convgru")))

    def module_TemporalPool(self, node, m, x, args, kw):
        x = self.time_axis(node, x, m.batch_first, "temporal_pool") if m.frames else \
            self.seq(node, x)
        if x is None:
            return BAD
        if x.rate == "clip" or (m.frames and x.rate != "frame"):
            return self.error(node, f"pools values that come {x.rate}-wise", "temporal_pool")
        keys = {"mode": m.mode}
        if m.frames:
            keys["frames"] = m.frames
            if m.stride != m.frames:
                keys["stride"] = m.stride
            name = self.emit(node, x, "temporal_pool", keys)
            return self.out(x, name, x.frame, rate="window")
        if m.count is not None:
            keys["count"] = m.count
        name = self.emit(node, x, "temporal_pool", keys)
        frame = (m.count * x.frame[0],) + tuple(x.frame[1:]) if m.mode == "concat" else x.frame
        return self.out(x, name, frame, rate="clip", tdim=0, lead=0)

    def module_TemporalConv(self, node, m, x, args, kw):
        x = self.time_axis(node, x, m.batch_first, "temporal_conv")
        if x is None:
            return BAD
        keys = {"out": m.out_channels, "frames": m.kernel_size[0]}
        if m.stride[0] != 1:
            keys["stride"] = m.stride[0]
        if tuple(m.kernel_size[1:]) != (1, 1):
            keys["kernel"] = _one(m.kernel_size[1:])
        if m.spatial_padding not in (0, (0, 0), [0, 0]):
            keys["padding"] = m.spatial_padding if isinstance(m.spatial_padding, str) else \
                _one(m.spatial_padding)
        if m.bias is None:
            keys["bias"] = False
        name = self.emit(node, x, "temporal_conv", keys)
        self.weights(name)
        return self.out(x, name, _shape(node.meta["value"])[-3:], rate="window")

    def window_on(self, node, x, n):
        """`window: n` on the layer x comes from."""
        if x.layer == "input" or x.chain != "layers":
            self.error(node, "keeps a window of the input frames: put a layer before it (reel "
                       "keeps windows of layers)", "attention")
            return False
        if self.windows.get(x.layer, n) != n:
            self.error(node, f"needs a window of {n} on '{x.layer}', which has one of "
                       f"{self.windows[x.layer]}", "attention")
            return False
        self.windows[x.layer] = n
        return True

    def attention_keys(self, attn):
        if isinstance(attn, rnn.LocationAttention):
            return {"score": "location"}
        keys = {"score": attn.kind}
        if attn.scale:
            keys["scale"] = True
        if attn.kind == "additive":
            keys["hidden"] = attn.hidden
        return keys

    def module_WindowAttention(self, node, m, x, args, kw):
        return self.attention_module(node, m, args[0], args[1], self.values_arg(args, kw, 2),
                                     m.window)

    def module_AttentionPool(self, node, m, x, args, kw):
        query = None if m.attn.kind == "linear" else "learned"
        return self.attention_module(node, m, query, args[0], self.values_arg(args, kw, 1),
                                     m.window)

    def module_MapAttention(self, node, m, x, args, kw):
        return self.attention_module(node, m, args[0], args[1], self.values_arg(args, kw, 2))

    def module_WindowMultiheadAttention(self, node, m, x, args, kw):
        q = self.time_axis(node, x, m.time_batch_first, "mha")
        keys = args[1] if len(args) > 1 else kw.get("keys")
        values = args[2] if len(args) > 2 else kw.get("values")
        k = q if keys is None or keys.kind == "const" else \
            self.time_axis(node, keys, m.time_batch_first, "mha")
        v = k if values is None or values.kind == "const" else \
            self.time_axis(node, values, m.time_batch_first, "mha")
        if q is None or k is None or v is None or not (self.window_on(node, k, m.window) and
                                                       self.window_on(node, v, m.window)):
            return BAD
        layer = {"heads": m.num_heads}
        if q.layer != k.layer:
            layer["query"] = q.layer
        if v.layer != k.layer:
            layer["values"] = v.layer
        if m.in_proj_bias is None:
            layer["bias"] = False
        if not m.key_padding:
            layer["key_padding"] = False
        name = self.emit(node, k, "mha", layer)
        self.weights(name, node=node)
        seq = self.out(k, name, (m.embed_dim,))
        return Val("tuple", items=(seq, Val("const", value=None)))

    @staticmethod
    def values_arg(args, kw, i):
        return args[i] if len(args) > i else kw.get("values", Val("const", value=None))

    def attention_module(self, node, m, query, keys, values, window=None):
        """The attention layer of a reel_torch.nn attention module: keys and values from a
        layer's window (`window: N` on it) or a map's positions; query a Val, "learned" or
        None (score linear). Returns (its output, the weights reel reads with m_attention)."""
        k = self.time_axis(node, keys, m.batch_first, "attention")
        v = k if values.kind == "const" else self.time_axis(node, values, m.batch_first,
                                                              "attention")
        q = self.time_axis(node, query, m.batch_first, "attention") \
            if isinstance(query, Val) else query
        if k is None or v is None or (isinstance(query, Val) and q is None):
            return BAD
        if window is not None and not (self.window_on(node, k, window) and
                                       self.window_on(node, v, window)):
            return BAD
        if window is None and (len(k.frame) != 3 or len(v.frame) != 3 or
                               k.frame[1:] != v.frame[1:]):
            return self.error(node, "attends over something other than [D, H, W] maps with the "
                              "same positions", "attention")
        keys = {} if q is None else {"query": q if isinstance(q, str) else q.layer}
        if v.layer != k.layer:
            keys["values"] = v.layer
        keys.update(self.attention_keys(m.attn))
        name = self.emit(node, k, "attention", keys, name=f"{node.target}.attn")
        self.weights(name)
        seq = self.out(k, name, (v.frame[0],))
        return Val("tuple", items=(seq, Val("const", value=None)))

    def module_AttentionLSTM(self, node, m, x, args, kw):
        x = self.time_axis(node, x, m.batch_first, "attention")
        if x is None:
            return BAD
        if m.window is not None and not self.window_on(node, x, m.window):
            return BAD
        if m.window is None and len(x.frame) != 3:
            return self.error(node, f"attends over {list(x.frame)} per frame: without a window "
                              "the keys are a [D, H, W] map's positions", "attention")
        lstm = f"{node.target}.lstm"
        keys = {"query": lstm}
        keys.update(self.attention_keys(m.attn))
        attn = self.emit(node, x, "attention", keys, name=f"{node.target}.attn")
        self.weights(attn)
        ctx = self.out(x, attn, (x.frame[0],))
        lkeys = {"hidden": m.lstm.hidden_size}
        if m.init_from:
            lkeys["init_from"] = x.layer
        self.emit(node, ctx, "lstm", lkeys, name=lstm)
        self.weights(lstm)
        seq = self.out(ctx, lstm, (m.lstm.hidden_size,))
        return Val("tuple", items=(seq, Val("const", value=None)))

    def module_EncoderForecaster(self, node, m, x, args, kw):
        x = self.time_axis(node, x, m.batch_first, "convlstm")
        if x is None or self.no_second_forecast(node):
            return BAD
        hidden = m.encoder.hidden if len(set(m.encoder.hidden)) > 1 else m.encoder.hidden[0]
        common = {"hidden": hidden, "kernel": m.encoder.kernel}
        if m.encoder.num_layers > 1:
            common["layers"] = m.encoder.num_layers
        if m.encoder.peephole != "none":
            common["peephole"] = m.encoder.peephole
        enc = self.emit(node, x, "convlstm", dict(common), name=f"{node.target}.encoder")
        self.weights(enc)
        self.forecast = {"steps": m.steps, "feedback": False}
        f = Val("seq", layer=None, chain="forecast", rate="frame", tdim=x.tdim, lead=x.lead)
        fc = self.emit(node, f, "convlstm", dict(common, init_state=enc, output="concat"),
                       name=f"{node.target}.forecaster", chain="forecast")
        self.weights(fc)
        f = self.out(f, fc, (sum(m.forecaster.hidden),) + tuple(x.frame[1:]))
        head = self.emit(node, f, "conv2d", {"out": m.head.out_channels, "kernel": 1},
                         name=f"{node.target}.head", chain="forecast")
        self.weights(head)
        f = self.out(f, head, (m.head.out_channels,) + tuple(x.frame[1:]))
        if m.out_act == "sigmoid":
            f = self.out(f, self.emit(node, f, "sigmoid", name=f"{node.target}.sigmoid"), f.frame)
        return f

    def module_Seq2Seq(self, node, m, x, args, kw):
        x = self.time_axis(node, x, m.batch_first, "lstm")
        if x is None or self.no_second_forecast(node):
            return BAD
        if x.layer != "input" and x.frame != self.input_val().frame:
            return self.error(node, "reads something other than the frames: its decoder is fed "
                              "back its own predictions, which must be frames", "lstm")
        H = m.enc.hidden_size
        enc = self.emit(node, x, "lstm", {"hidden": H}, name=f"{node.target}.enc")
        self.weights(enc)
        self.windows[enc] = m.window
        self.forecast = {"steps": m.steps, "feedback": True}
        f = Val("seq", layer="input", chain="forecast", tdim=x.tdim, lead=x.lead, frame=x.frame)
        dec = self.emit(node, f, "lstm", {"hidden": H, "init_state": enc},
                        name=f"{node.target}.dec", chain="forecast")
        self.weights(dec)
        d = self.out(f, dec, (H,))
        akeys = {"query": dec}
        akeys.update(self.attention_keys(m.attn))
        attn = self.emit(node, Val("seq", layer=enc), "attention", akeys,
                         name=f"{node.target}.attn", chain="forecast")
        self.weights(attn)
        a = self.out(d, attn, (H,))
        cat = self.emit(node, a, "concat", name=f"{node.target}.combine", inputs=[a, d])
        c = self.out(d, cat, (2 * H,))
        out = self.emit(node, c, "linear", {"out": H, "bias": False},
                        name=f"{node.target}.attn_out")
        self.weights(out)
        t = self.out(c, out, (H,))
        t = self.out(t, self.emit(node, t, "tanh", name=f"{node.target}.tanh"), (H,))
        proj = self.emit(node, t, "linear", {"out": m.proj.out_features},
                         name=f"{node.target}.proj")
        self.weights(proj)
        return self.out(t, proj, (m.proj.out_features,))

    def no_second_forecast(self, node):
        if self.forecast is not None:
            self.error(node, "is a second forecast: a reel model has one forecast chain")
            return True
        return False

    # -- functions and methods -----------------------------------------------------------------
    def map_call(self, node, key, args, kw):
        x = args[0] if args else BAD
        name = key if isinstance(key, str) else getattr(key, "__name__", str(key))
        if key in IDENTITY_CALLS:
            return x
        if key in ACTIVATION_FUNCTIONS:
            op = ACTIVATION_FUNCTIONS[key]
            keys = {}
            if op in ACTIVATION_ARGS:
                arg, default = ACTIVATION_ARGS[op]
                v = kw.get(arg, args[1] if len(args) > 1 else Val("const", value=default))
                keys[arg] = v.value
            return self.activation(node, x, op, keys)
        if key in (torch.softmax, F.softmax, "softmax"):
            dim = kw.get("dim", args[1] if len(args) > 1 else Val("const", value=None)).value
            return self.softmax(node, x, dim)
        if key in RESHAPES:
            return self.reshape(node, x)
        if key in ("permute", "transpose", torch.transpose, torch.permute, "t"):
            return self.permute(node, key, x, args, kw)
        if key is F.interpolate:
            return self.interpolate(node, x, self.option(args, kw, 1, "size", None),
                                    self.option(args, kw, 2, "scale_factor", None),
                                    self.option(args, kw, 3, "mode", "nearest"),
                                    self.option(args, kw, 4, "align_corners", None),
                                    self.option(args, kw, 5, "recompute_scale_factor", None))
        if key is F.pad:
            mode = self.option(args, kw, 2, "mode", "constant")
            if mode != "constant" or self.option(args, kw, 3, "value", None) not in (None, 0, 0.0):
                return self.error(node, f"pads with mode {mode!r} or a nonzero value: reel pads "
                                  "with zeros", "conv2d padding")
            return self.zero_pad(node, x, self.option(args, kw, 1, "pad", ()))
        if key in (F.adaptive_avg_pool2d,):
            return self.adaptive_avg(node, x, self.option(args, kw, 1, "output_size", None))
        if key in (F.max_pool2d, F.avg_pool2d):
            k = self.option(args, kw, 1, "kernel_size", None)
            st = self.option(args, kw, 2, "stride", None) or k
            pad = self.option(args, kw, 3, "padding", 0)
            if key is F.max_pool2d:
                return self.pool(node, x, "maxpool", k, st, pad,
                                 self.option(args, kw, 5, "ceil_mode", False),
                                 dilation=self.option(args, kw, 4, "dilation", 1),
                                 indices=self.option(args, kw, 6, "return_indices", False))
            return self.pool(node, x, "avgpool", k, st, pad,
                             self.option(args, kw, 4, "ceil_mode", False),
                             count_include_pad=self.option(args, kw, 5, "count_include_pad", True),
                             divisor=self.option(args, kw, 6, "divisor_override", None))
        if key in (torch.cat, torch.concat):
            dim = kw.get("dim", args[1] if len(args) > 1 else Val("const", value=0)).value
            return self.concat(node, list(x.items), dim)
        if key in (operator.add, operator.iadd, torch.add, "add", operator.mul, operator.imul,
                   torch.mul, "mul"):
            op = "add" if key in (operator.add, operator.iadd, torch.add, "add") else "mul"
            return self.elementwise(node, op, args[:2])
        if key in ("mean", torch.mean, "amax", torch.amax, "max", torch.max):
            return self.reduce_time(node, key, args, kw)
        if key in ("select",):
            return self.select_time(node, x, args[1].value, args[2].value)
        return self.error(node, "has no reel op", NEAREST.get(name, "none close"))

    @staticmethod
    def option(args, kw, i, name, default):
        """A function's argument `name` (position i), as a constant."""
        v = kw.get(name, args[i] if len(args) > i else Val("const", value=default))
        return v.value

    def reshape(self, node, x):
        """A view of the same elements: the steps stay where they are and the frame is reshaped
        (flatten: [C, H, W] -> [CHW]; the same frame: no layer)."""
        def fn(x):
            shape = _shape(node.meta["value"])
            n = math.prod(x.frame)
            steps = math.prod(_shape(self.value_of(node.args[0])) or (1,)) // max(n, 1)
            # the steps' dim: everything before it is 1, everything after is the frame (-1:
            # no steps dim, a reduced value's frame alone)
            cands = [d for d in range(-1, len(shape)) if (d < 0 or shape[d] == steps) and
                     math.prod(shape[:max(d, 0)]) == 1 and math.prod(shape[d + 1:]) == n]
            if not cands:
                return self.error(node, f"mixes the frames' elements across time ({list(shape)})",
                                  "flatten")
            d = x.tdim if x.tdim in cands else [c for c in cands if c >= 0 or steps == 1][0]
            frame = list(shape[d + 1:])
            lead = 0
            while len(frame) > len(x.frame) and frame[0] == 1:
                frame, lead = frame[1:], lead + 1
            if tuple(frame) == tuple(x.frame):
                return replace(x, tdim=d, lead=lead)
            if len(frame) > 3:
                return self.error(node, f"reshapes {list(x.frame)} into {frame} per frame: reel's "
                                  "tensors have 1 to 3 dims", "reshape")
            op, keys = ("flatten", {}) if len(frame) == 1 else ("reshape", {"shape": frame})
            name = self.emit(node, x, op, keys)
            return self.out(x, name, frame, tdim=d, lead=lead)
        return self.per_step(node, x, fn)

    def permute(self, node, key, x, args, kw):
        """A permute or transpose that only moves dims of size 1 (batch and time, B = 1) keeps
        the elements in order: a reshape. Any other reorders the frame."""
        shape = _shape(self.value_of(node.args[0]))
        n = len(shape)
        if key in ("transpose", torch.transpose, "t"):
            a, b = (0, 1) if key == "t" else (args[1].value % n, args[2].value % n)
            order = list(range(n))
            order[a], order[b] = order[b], order[a]
        else:
            dims = [a.value for a in args[1:]] if len(args) > 2 else list(args[1].value)
            order = [d % n for d in dims]
        moved = [d for d in order if shape[d] != 1]
        if moved != sorted(moved):
            return self.error(node, "reorders the elements of a frame (reel keeps PyTorch's "
                              "order: NCHW maps, time outermost)", "none")
        return self.reshape(node, x)

    def value_of(self, a):
        return a.meta["value"] if isinstance(a, torch.fx.Node) else a

    def concat(self, node, xs, dim):
        seqs = [self.seq(node, v) for v in xs]
        if any(v is None for v in seqs):
            return BAD
        ndim = len(_shape(node.meta["value"]))
        if any(v.rate != seqs[0].rate or v.chain != seqs[0].chain for v in seqs) or \
                seqs[0].fdim(dim, ndim) != 0:
            return self.error(node, "does not concatenate along the frames' first dimension",
                              "concat")
        name = self.emit(node, seqs[0], "concat", inputs=seqs)
        first = sum(v.frame[0] for v in seqs)
        return self.out(seqs[0], name, (first,) + tuple(seqs[0].frame[1:]))

    def elementwise(self, node, op, xs):
        if any(v.kind == "const" for v in xs):
            return self.error(node, f"{op}s a constant: reel's {op} combines layers", op)
        seqs = [self.seq(node, v) for v in xs]
        if any(v is None for v in seqs):
            return BAD
        if any(v.frame != seqs[0].frame or v.rate != seqs[0].rate for v in seqs):
            return self.error(node, f"{op}s values of different shapes or rates (no "
                              "broadcasting in reel)", op)
        name = self.emit(node, seqs[0], op, inputs=seqs)
        return self.out(seqs[0], name, seqs[0].frame)

    def reduce_time(self, node, key, args, kw):
        x = args[0]
        dim = kw.get("dim", args[1] if len(args) > 1 else Val("const", value=None)).value
        mode = "mean" if key in ("mean", torch.mean) else "max"
        x = self.seq(node, x)
        if x is None:
            return BAD
        src = _shape(self.value_of(node.args[0]))
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        fdims = [x.fdim(d, len(src)) for d in dims] if dim is not None else []
        keepdim = kw.get("keepdim", args[2] if len(args) > 2 else Val("const", value=False)).value
        if dim is not None and all(fd >= 0 for fd in fdims):   # over the frame: a pool
            return self.frame_mean(node, x, sorted(fdims), keepdim) if mode == "mean" else \
                self.error(node, "takes a max over a frame's dimensions", "maxpool")
        if dim is None or len(dims) != 1 or (dims[0] + len(src)) % len(src) != x.tdim:
            return self.error(node, "reduces over more than the time axis", "temporal_pool")
        red = _reduced(x, mode, keepdim)
        if key in ("max", torch.max):   # (values, indices)
            return Val("tuple", items=(red, Val("const", value=None)))
        return red

    def frame_mean(self, node, x, fdims, keepdim):
        """x.mean over a map's H and W: global_avgpool (and flatten without keepdim)."""
        if len(x.frame) != 3 or fdims != [1, 2]:
            return self.error(node, "averages over dims other than a map's H and W",
                              "global_avgpool")
        name = self.emit(node, x, "global_avgpool")
        y = self.out(x, name, (x.frame[0], 1, 1))
        if keepdim:
            return y
        return self.out(y, self.emit(node, y, "flatten", name=f"{node.name}.flatten"),
                        (x.frame[0],))

    def select_time(self, node, x, dim, index):
        x = self.seq(node, x)
        if x is None:
            return BAD
        ndim = len(_shape(self.value_of(node.args[0])))
        if (dim + ndim) % ndim != x.tdim or index not in (-1,):
            return self.error(node, "picks a frame other than the last", "output clip: last")
        return _reduced(x, "last", False)

    def map_getitem(self, node, args):
        x, idx = args[0], args[1].value
        if x.kind == "tuple":
            if isinstance(idx, str):   # a namedtuple's field: max(...).values
                idx = {"values": 0, "indices": 1}.get(idx)
            if not isinstance(idx, int) or not -len(x.items) <= idx < len(x.items):
                return self.error(node, f"takes item {idx!r} of a tuple")
            return x.items[idx]   # None for outputs reel does not give: an error where used
        if x.kind == "state":
            return self.state_item(node, x, idx)
        if x.kind in ("seq", "reduced"):
            ndim = len(_shape(self.value_of(node.args[0])))
            idx = idx if isinstance(idx, tuple) else (idx,)
            picks = [(d, i) for d, i in enumerate(idx) if i is not Ellipsis and
                     not (isinstance(i, slice) and i == slice(None))]
            if Ellipsis not in idx and len(picks) == 1 and picks[0][0] == x.tdim and \
                    picks[0][1] == -1 and x.kind == "seq":   # x[:, -1]: the last frame
                return self.select_time(node, x, x.tdim, -1)
            if all(isinstance(i, int) and i in (0, -1) and x.fdim(d, ndim) < 0 and
                   d != x.tdim for d, i in picks):   # indexing a batch dim of size 1
                return self.reshape(node, x)
        return self.error(node, "indexes a tensor in a way reel cannot follow: x[:, -1] (the last "
                          "frame) is the clip's last output; a loop over frames x[:, t] is "
                          "written by merging time into the batch, x.flatten(0, 1)",
                          "output clip: last")

    def state_item(self, node, x, idx):
        if x.which not in ("h",) or not isinstance(idx, int) or \
                idx not in (-1, x.value - 1):
            return self.error(node, "uses a recurrent state other than the top layer's final h",
                              "output clip: last")
        src = x.src
        return Val("reduced", chain=src.chain, rate="clip", tdim=0, lead=0, frame=src.frame,
                   mode="last", src=src)

    # -- the result ----------------------------------------------------------------------------
    def result(self, node, v):
        if v.kind == "bad":
            return None
        if v.kind == "tuple":
            self.errors.append("forward returns a tuple: return one tensor (per-frame outputs, "
                               "a clip output or a forecast)")
            return None
        if v.kind == "reduced":
            if v.src.rate == "frame" and v.src.chain == "layers" and \
                    self.layers["layers"][-1]["name"] == v.src.layer:
                return {"per_frame": False, "clip": v.mode}
            if v.mode == "last":
                self.errors.append("forward returns the last frame of something other than the "
                                   "last per-frame layer")
                return None
            self.pool_clip(node, v)
            return {"per_frame": False}
        if v.chain == "forecast":
            return {"per_frame": False}
        if v.rate == "clip":
            return {"per_frame": False}
        if v.rate == "window":
            self.errors.append("forward returns one output per window: end with a clip "
                               "TemporalPool (reel's outputs are per frame or per clip)")
            return None
        if self.layers["layers"] and self.layers["layers"][-1]["name"] != v.layer:
            self.errors.append(f"forward returns '{v.layer}', which is not the last layer "
                               "computed: reel's output is its last layer")
            return None
        return {"per_frame": True}


def _module_problem(m):
    """Why module m cannot become a reel layer whatever it reads, as (message, nearest op), or
    None."""
    if type(m) not in _HANDLED and type(m) not in ACTIVATIONS and \
            not isinstance(m, IDENTITY_MODULES):
        return "has no reel op", NEAREST.get(type(m).__name__, "none close")
    if isinstance(m, (nn.LSTM, nn.GRU)) and m.bidirectional and \
            not isinstance(m, (rnn.WindowLSTM, rnn.WindowGRU)):
        return ("is bidirectional over the whole clip: reel runs a bidirectional layer over "
                "windows of frames (reel_torch.nn.Window" + type(m).__name__ + "(..., frames=N): "
                "N your longest clip for the whole clip)", type(m).__name__.lower())
    if isinstance(m, nn.Conv2d) and m.padding_mode != "zeros":
        return f"padding_mode '{m.padding_mode}': reel pads with zeros", "conv2d"
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and \
            (not m.track_running_stats or m.running_mean is None):
        return ("has no running statistics (track_running_stats=False): at inference reel uses "
                "running_mean and running_var", "batchnorm")
    return None


def _reduced(x, mode, keepdim):
    """x reduced over its steps, not yet a layer. Its tensor keeps the dims before the frame
    but the time dim (unless keepdim): the first of them, if any, stands for the steps (one)."""
    before = x.tdim + x.lead
    if keepdim:
        tdim, lead = x.tdim, x.lead
    else:
        tdim, lead = (-1, 0) if before == 0 else (0, before - 1)
    return Val("reduced", chain=x.chain, rate="clip", tdim=tdim, lead=lead, frame=x.frame,
               mode=mode, src=x)


_REEL_MODULES = (rnn.PeepholeLSTM, rnn.ConvLSTM, rnn.ConvGRU, rnn.TemporalPool,
                 rnn.TemporalConv, rnn.WindowAttention, rnn.AttentionPool, rnn.MapAttention,
                 rnn.WindowMultiheadAttention, rnn.AttentionLSTM, rnn.CameraInput,
                 rnn.WindowLSTM, rnn.WindowGRU,
                 rnn.EncoderForecaster, rnn.Seq2Seq)
_HANDLED = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm,
            nn.PReLU, nn.Softmax,
            nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Flatten, nn.Unflatten,
            nn.PixelShuffle,
            nn.PixelUnshuffle, nn.ZeroPad2d, nn.Upsample, nn.UpsamplingNearest2d,
            nn.UpsamplingBilinear2d, nn.LSTM, nn.GRU) + _REEL_MODULES


# ---- YAML ------------------------------------------------------------------------------------------

def _scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_scalar(i) for i in v) + "]"
    s = str(v)
    return s if re.fullmatch(r"[A-Za-z0-9_.]+", s) else '"' + s.replace('"', '\\"') + '"'


def _layer_line(layer, windows, indent):
    items = [f"{k}: {_scalar(v)}" for k, v in layer.items() if k != "#"]
    if layer["name"] in windows:
        items.append(f"window: {windows[layer['name']]}")
    line = f"{indent}- {{{', '.join(items)}}}"
    return f"{line}  # {layer['#']}"


def _input_keys(camera):
    """The `input:` keys of a reel_torch.nn.CameraInput (none but the frame without one)."""
    if camera is None:
        return ""
    keys = {"dtype": camera.dtype, "layout": camera.layout}
    default = 1 / 255 if camera.dtype == "uint8" else 1.0
    if camera.scale != default:
        keys["scale"] = camera.scale
    for k, unit in (("mean", 0.0), ("std", 1.0)):   # the shortest decimals of the float32s
        v = [float(np.format_float_positional(x, unique=True)) for x in getattr(camera, k).numpy()]
        if any(x != unit for x in v):
            keys[k] = v[0] if len(set(v)) == 1 else v
    return "".join(f", {k}: {_scalar(v)}" for k, v in keys.items()
                   if (k, v) not in (("dtype", "float32"), ("layout", "chw")))


def _yaml(name, frame, ex, output):
    out = [f"# {name}: exported by reel_torch.export from a PyTorch module; each layer's",
           "# comment names the module (or function) it comes from.",
           "reel: 1", f"model: {name}",
           f"input: {{frame: {_scalar(list(frame))}{_input_keys(ex.camera)}}}", "layers:"]
    out += [_layer_line(l, ex.windows, "  ") for l in ex.layers["layers"]]
    if ex.forecast:
        out += ["forecast:", f"  steps: {ex.forecast['steps']}"]
        if ex.forecast["feedback"]:
            out.append("  feedback: true")
        out.append("  layers:")
        out += [_layer_line(l, ex.windows, "    ") for l in ex.layers["forecast"]]
    items = ", ".join(f"{k}: {_scalar(v)}" for k, v in output.items())
    out.append(f"output: {{{items}}}")
    return "\n".join(out) + "\n"


def _model_name(model, name):
    if name is None:
        name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_",
                      type(model).__name__).lower()
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", name) or name.startswith("reel_"):
        raise ExportError(f"model name {name!r}: expected a C identifier of at most 64 bytes "
                          "not starting with reel_ (pass name=)")
    return name


def export(model, example, out_dir, name=None, time_first=False, verify=True, target=None,
           tolerance=None):
    """Trace `model` on `example` (one clip: [1, T, *frame], or [T, 1, *frame] with
    time_first) and write out_dir/<name>.yaml and out_dir/<name>.safetensors, the spec and the
    weights reelc compiles. name: the spec's model name (default: the class name in
    snake_case). With verify (the default), reel_torch.verify then compiles them, runs
    `example` through the C and the module, prints the max |C - PyTorch| of every output and
    raises VerifyError over the tolerance. Returns (yaml path, weights path).
    Raises ExportError listing every module or function it cannot map, with its path, its
    type and the nearest reel op."""
    if isinstance(model, nn.DataParallel):   # as it was trained: export what it wraps
        model = model.module
    params = [p for p in inspect.signature(model.forward).parameters.values()
              if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(params) != 1:
        raise ExportError(f"{type(model).__name__}.forward takes {len(params)} required "
                          f"arguments ({', '.join(p.name for p in params)}): it must take one, "
                          "the clip")
    name = _model_name(model, name)
    was_training = model.training
    model.eval()
    try:
        ex = _Exporter(model, example.detach().float(), time_first)
        output = ex.run()
        frame = ex.frame or ex.input_val().frame
        if ex.errors:
            raise ExportError("\n".join(ex.errors))
        os.makedirs(out_dir, exist_ok=True)
        spec = os.path.join(out_dir, f"{name}.yaml")
        weights = os.path.join(out_dir, f"{name}.safetensors")
        with open(spec, "w") as f:
            f.write(_yaml(name, frame, ex, output))
        save_file(ex.tensors, weights)
    finally:
        model.train(was_training)
    if verify:
        from .verify import verify as run_verify
        run_verify(model, spec, weights, example, target=target, time_first=time_first,
                   tolerance=tolerance, check=True)
    return spec, weights
