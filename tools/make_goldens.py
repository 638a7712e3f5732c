"""Regenerate the PyTorch golden files under tests/golden/.

Usage (from anywhere):  /usr/bin/python3 tools/make_goldens.py [STEM ...]
(with stems, only those goldens are written, e.g. a new spec's; the others are unchanged)

For every spec in specs/*.yaml and tests/specs/*.yaml (file stem S; SKIP lists the exceptions)
it writes
  tests/golden/S.weights.safetensors  the model's state_dict, F32 (BatchNorm's
                                      num_batches_tracked as I64, as PyTorch saves it)
  tests/golden/S.special.safetensors  the same on inputs with special values (NaN, +-inf,
                                      -0.0, subnormal, huge): see special_inputs()
  tests/golden/S.io.safetensors       input (T, *frame); output (T, *OUT) unless
                                      output.per_frame is false (its default when the last layer
                                      runs per clip, after a temporal_pool); clip (*OUT) if
                                      output.clip is set or the last layer runs per clip;
                                      clip_steps (T, *OUT) with clip: the clip read after each
                                      frame t, i.e. the whole computation on frames 0..t;
                                      attention (T, A) if the per-frame chain has attention layers:
                                      their weights per frame, concatenated in spec order;
                                      forecast (K, *FRAME) if the spec has a forecast: chain (run
                                      once, after all T observed frames)
plus clip_max_f16 / clip_max_bf16: clip_max's weights stored as F16 / BF16, with the expected
outputs computed from those rounded weights (reel converts them to f32 exactly) on clip_max's input,
and for the stems of COMPRESSED
  tests/golden/S.compressed.safetensors  int8.K and bf16.K for each output K of the io file: the
                                      model with its weight matrices and filters stored as reelc
                                      --weight-type int8 / bf16 stores them (compressed() below,
                                      a layer's `weight_type:` winning), on the io input; its
                                      metadata gives each type's max |output - float32 output|.
T is 9 frames unless CLIP_FRAMES says otherwise. Weights are PyTorch's default init, with
peepholes widened, batch norms given random affine parameters and running statistics, the
gains of emphasise() (ConvLSTM/ConvGRU convs x3, a conv feeding relu6 x8) and of
sharpen_attention() (attention score weights scaled until the softmax is peaked on the golden
clip), so that every option shows in the outputs well above the test tolerance:
tools/check_goldens.py re-checks the goldens, and check_visible() mutates each option of the
newer ops (window sizes, scale, the query, pool modes, strides, init_from) and requires each
mutation to change the golden by 10x the test tolerance.
lrcn_resnet18_narrow's golden comes from torchvision's own ResNet code (tools/resnet_spec.py)
and is checked against the spec-driven model.

Each spec gets its own seed (crc32 of its file name), so adding a spec changes no other golden.
The output is byte-identical from run to run (one thread, sorted tensors); every file is read
back with reel_torch.safetensors and re-run to check it reproduces the expected tensors.
"""
import copy
import glob
import os
import re
import sys
import zlib

import torch
import torch.nn.functional as F
import yaml

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "python"))
import reference  # noqa: E402
import resnet_spec  # noqa: E402
from reel_torch import nn as rnn, safetensors as safetensors_io  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "golden")
T = 9  # frames per golden clip, unless:
CLIP_FRAMES = {"convlstm_forecaster": 4,  # 64x64 frames: keep the io file small
               "convlstm_unet": 4,
               "lrcn": 3,
               "lrcn_resnet18_narrow": 2,
               "lrcn_mha": 12,             # a third of the frames past its window of 8
               "multilstm": 20,            # much longer than its window of 8
               "visual_attention": 6,
               "snippets_slowpool": 11,    # 4 windows of 4 frames (stride 2); frame 10 ignored
               "seq2seq_attention": 9,     # shorter than the encoder's window of 12
               "attention_dot_short": 3,   # shorter than the window of 5
               "attention_values_long": 24,
               "attention_additive_map": 7,
               "lstm_init_from": 5,
               "tpool_local": 9,
               "tpool_partial": 4,         # only the partial window (frames: 6)
               "bidirectional_clip": 5,    # only the partial window (frames: 8)
               "temporal_conv": 8,
               "seq2seq_dot": 14}
SKIP = {"lrcn_resnet18": "11M parameters (45 MB); lrcn_resnet18_narrow is its golden"}
# stem -> "F16" | "BF16": store that golden's weights in half precision (half the bytes); its
# expected outputs are then computed from the rounded weights. Empty: every golden is F32.
WEIGHTS_DTYPE = {"convlstm_forecaster": "F16", "convlstm_unet": "F16", "convgru_stack": "F16", "lrcn": "F16",
                 "lrcn_mha": "F16",
                 "multilstm": "F16", "snippets_lstm": "F16", "visual_attention": "F16"}
HALF = {"F16": torch.float16, "BF16": torch.bfloat16}


# Goldens of compressed weights (reelc --weight-type): every model spec, and the test specs
# whose kernels or folds the models do not reach.
COMPRESSED = {"convgru_stack", "convlstm_forecaster", "convlstm_unet", "fc_lstm", "gru_stack", "lrcn",
              "lrcn_mha", "lstm_classifier", "multilstm", "seq2seq_attention", "snippets_convpool",
              "snippets_lstm", "snippets_slowpool", "visual_attention", "bidirectional",
              "conv_transpose", "lstm_proj", "temporal_conv", "mha", "conv_bn_pool",
              "normalised_input", "lstm_init_from", "attention_additive_map", "weight_types"}
# The tensors reelc compresses, by op (suffixes after "<layer>."): weight matrices and filters;
# biases, norms, peepholes and the additive attention's w_x and v stay float32.
COMPRESSIBLE = {
    "linear": r"weight", "conv2d": r"weight", "conv_transpose2d": r"weight",
    "temporal_conv": r"weight",
    "lstm": r"weight_(ih|hh|hr)(_l\d+(_reverse)?)?|init_[hc]\.weight",
    "gru": r"weight_(ih|hh)(_l\d+(_reverse)?)?|init_[hc]\.weight",
    "convlstm": r"cell_list\.\d+\.conv\.weight",
    "convgru": r"cell_list\.\d+\.conv_(gates|can|below)\.weight",
    "attention": r"(w_q|w_h)\.weight|weight",
    "mha": r"in_proj_weight|[qkv]_proj_weight|out_proj\.weight"}


def compress(t, weight_type):
    """A tensor as reelc stores it: bf16 rounded to nearest even; int8 symmetric per row of
    its first dimension, scale = max|row| / 127, q = round_half_even(w / scale), read back as
    q * scale (all float32 arithmetic)."""
    if weight_type == "bf16":
        return t.to(torch.bfloat16).float()
    rows = t.reshape(t.shape[0], -1)
    scale = rows.abs().amax(1) / 127
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    q = torch.where(scale[:, None] > 0, torch.round(rows / safe[:, None]), torch.zeros_like(rows))
    return (q * scale[:, None]).reshape(t.shape)


def compressed(spec, state, weight_type):
    """The state_dict a model compiled with --weight-type weight_type computes with."""
    layers = spec["layers"] + spec.get("forecast", {}).get("layers", [])
    out = dict(state)
    for layer in layers:
        pattern = COMPRESSIBLE.get(layer["op"])
        wt = layer.get("weight_type", weight_type)
        if pattern is None or wt == "f32":
            continue
        for key, t in state.items():
            name = layer["name"] + "."
            if key.startswith(name) and t.dim() >= 2 and re.fullmatch(pattern, key[len(name):]):
                out[key] = compress(t, wt)
    return out


def write_compressed(stem, spec, model, x, io):
    """tests/golden/S.compressed.safetensors (see the module docstring)."""
    state = {k: v.clone() for k, v in model.state_dict().items()}  # (not the live parameters)
    tensors, meta = {}, {"reference": f"torch {torch.__version__}"}
    for wt in ("int8", "bf16"):
        model.load_state_dict(compressed(spec, state, wt))
        res = reference.run_all(model, spec, x)
        dev = 0.0
        for k in io:
            if k != "input":
                tensors[f"{wt}.{k}"] = res[k]
                dev = max(dev, float((res[k] - io[k]).abs().max()))
        meta[f"deviation_{wt}"] = f"{dev:.3g}"
    model.load_state_dict(state)
    path = os.path.join(GOLDEN, f"{stem}.compressed.safetensors")
    safetensors_io.write(path, tensors, meta)
    print(f"{stem}: compressed weights, max output deviation from float32: int8 "
          f"{meta['deviation_int8']}, bf16 {meta['deviation_bf16']}; {os.path.getsize(path)} bytes")


def load_spec(path):
    with open(path) as f:
        spec = yaml.safe_load(f)
    assert spec.get("reel") == 1, f"{path}: not a reel 1 spec"
    return spec


@torch.no_grad()
def randomise(model):
    """Default PyTorch init, but make every option visible in the outputs."""
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            # Identity-like defaults would hide folding errors: random affine and statistics.
            m.weight.uniform_(0.5, 1.5)
            m.bias.normal_(0.0, 0.5)
            m.running_mean.normal_(0.0, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    for name, m in model.named_modules():
        if isinstance(m, (torch.nn.LayerNorm, torch.nn.GroupNorm)) and m.weight is not None:
            # ones and zeros would hide a scale or shift taken from the wrong element
            m.weight.uniform_(0.5, 1.5)
            m.bias.normal_(0.0, 0.5)
        if isinstance(m, torch.nn.MultiheadAttention) and m.in_proj_bias is not None:
            # PyTorch zeroes these biases: a bias taken from the wrong projection would not show.
            m.in_proj_bias.uniform_(-0.5, 0.5)
            m.out_proj.bias.uniform_(-0.5, 0.5)
        if isinstance(m, torch.nn.PReLU):
            # PReLU's default 0.25 everywhere would hide a weight taken from the wrong channel.
            m.weight.uniform_(-1.0, 1.0)
    for name, p in model.named_parameters():
        if name.split(".")[-1].startswith(("weight_ci", "weight_cf", "weight_co")):
            # The default +-1/sqrt(H) would make the peepholes nearly invisible.
            torch.nn.init.uniform_(p, -0.5, 0.5)
        if "bias" in name.split(".")[-1]:
            assert (p != 0).all(), f"{name} has a zero bias entry"


RECURRENT_CONV_GAIN = 3.0
# The gain of a conv2d or linear feeding an activation whose shape shows away from 0: relu6
# clips at 6; gelu's two forms differ most around |x| ~ 2.
# stem -> {layer: gain} on its weights (and bias): lrcn_mha's softmax over a head of default
# weights leaves probabilities so near 1/10 that its window's size would not show.
LAYER_GAIN = {"lrcn_mha": {"head": 8.0}}
ACTIVATION_GAIN = {"relu6": 8.0, "gelu": 4.0, "silu": 4.0, "hardswish": 4.0, "hardsigmoid": 4.0, "elu": 4.0}


@torch.no_grad()
def emphasise(spec, model):
    """Make the new ops' options visible at the test tolerance (1e-5 absolute):
    - ConvLSTM/ConvGRU convolutions get RECURRENT_CONV_GAIN x PyTorch's default weights, so the
      gates are not all near 0.5 and the cell state (which the peepholes see) is not tiny;
    - a conv2d or linear feeding an activation of ACTIVATION_GAIN gets that gain on its weights
      and bias, so that its outputs reach where the activation's shape shows (a relu6's exceed
      6 and the clipping shows)."""
    for _, m in model.named_modules():
        if isinstance(m, (rnn.ConvLSTMCell, rnn.ConvGRUCell)):
            for conv in m.children():
                conv.weight.mul_(RECURRENT_CONV_GAIN)
    layers = spec["layers"] + spec.get("forecast", {}).get("layers", [])
    for prev, layer in zip(layers, layers[1:]):
        gain = ACTIVATION_GAIN.get(layer["op"])
        if gain and "from" not in layer and prev["op"] in ("conv2d", "linear"):
            mod = model.get_submodule(prev["name"])
            for p in mod.parameters():
                p.mul_(gain)


ATTENTION_GAINS = (1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)
ATTENTION_PEAK = 0.3


def peakedness(a):
    """How far attention weights a (frames, n) are from uniform towards one-hot, averaged over
    the frames with at least 2 valid entries (a window's unfilled entries are exactly 0):
    (max - 1/n) / (1 - 1/n), 0 for uniform, 1 for one-hot. None without such frames."""
    valid = (a > 0).sum(1).double()
    keep = valid >= 2
    if not keep.any():
        return None
    mx, inv = a.max(1).values.double()[keep], 1 / valid[keep]
    return ((mx - inv) / (1 - inv)).mean().item()


def _attention_weights(model, spec, x):
    """Every attention layer's weights on clip x: {key: (frames or forecast steps, n)}."""
    res = reference.run_all(model, spec, x, clip_steps=False)
    out, col = {}, {"attention": 0, "forecast_attention": 0}
    for node in model._nodes + model._forecast:
        if node.op in ("attention", "mha"):
            k = "attention" if node.chain == "frame" else "forecast_attention"
            out[node.key] = res[k][:, col[k]:col[k] + node.n]
            col[k] += node.n
    return out


def _producer(model, key):
    """The nearest module with weights at or before layer `key` (through weightless layers)."""
    node = model._by_key[key]
    while node.module is None or not list(node.module.parameters()):
        node = model._by_key[node.in_keys[0]]
    return node.module


@torch.no_grad()
def sharpen_attention(spec, model, x):
    """PyTorch's default init makes attention weights nearly uniform, which would hide errors in
    the scores, the masking and the window order. For each attention layer, scale its score
    weights (general: w_q; additive: v; location: weight and bias; dot, which has none: the
    linear or conv layers computing its keys and its query) by the smallest gain of
    ATTENTION_GAINS that makes its weights on the golden clip x at least ATTENTION_PEAK of the
    way from uniform to one-hot (see peakedness). A dot attention between lstm/gru states
    (seq2seq_dot) has nothing to scale: the states are bounded by 1 and saturate when their
    weights grow, so it stays close to uniform (check_visible still requires its options to
    show). Uses no random numbers. Returns {layer: (gain or None, peakedness)}."""
    report = {}
    for node in model._nodes + model._forecast:
        if node.op not in ("attention", "mha"):
            continue
        mod, score = node.module, node.layer.get("score", "dot")
        if node.op == "mha":  # the query and key projections
            params = [mod.in_proj_weight] if mod.in_proj_weight is not None else \
                [mod.q_proj_weight, mod.k_proj_weight]
        elif score == "general":
            params = [mod.w_q.weight]
        elif score == "additive":
            params = [mod.v.weight]
        elif score == "location":
            params = [mod.weight, mod.bias]
        elif score == "linear":
            params = [mod.score.weight]
        else:  # dot: the linear or conv layers computing the keys and the query (or the query)
            mods = {id(m): m for m in (_producer(model, node.keys),
                                       _producer(model, node.query) if node.query else None)
                    if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))}
            params = [p for m in mods.values() for p in m.parameters()]
            params += [mod.query] if hasattr(mod, "query") else []
        if not params:  # dot over lstm/gru states, bounded by 1: no gain makes it peaked
            peak = peakedness(_attention_weights(model, spec, x)[node.key])
            report[node.key] = (None, peak)
            continue
        base = [p.clone() for p in params]
        # mha reports the mean over its heads, which peak on different frames
        need = ATTENTION_PEAK / node.layer.get("heads", 1)
        for gain in ATTENTION_GAINS:
            for p, b in zip(params, base):
                p.copy_(b * gain)
            peak = peakedness(_attention_weights(model, spec, x)[node.key])
            if peak is None or peak >= need:
                break
        assert peak is None or peak >= need, f"{node.key}: attention stays flat ({peak})"
        report[node.key] = (gain, peak)
    return report


# Each mutation must move a golden tensor by 10x the tolerance tests/golden.test applies to the
# spec: 1e-4 for convolutional specs (its test: `op: *conv` in the spec text), else 1e-5.
VISIBLE_FACTOR = 10


def _mutations(spec, T):
    """(description, mutated spec or None, state_dict edit or None) for the new ops' options that
    the golden clip of T frames should pin down (a window longer than the clip cannot)."""
    out = []

    def variant(what, i, **changes):
        m = copy.deepcopy(spec)
        (m["layers"] + m.get("forecast", {}).get("layers", []))[i].update(changes)
        out.append((what, m, None))

    # every window of size N at once (an attention's keys and values have the same N)
    for n in sorted({L["window"] for L in spec["layers"] if L.get("window")}):
        for n2 in (n + 1, n - 1):
            if T > n and n2 >= 1:
                m = copy.deepcopy(spec)
                for L in m["layers"]:
                    if L.get("window") == n:
                        L["window"] = n2
                out.append((f"window {n2} instead of {n}", m, None))
    one_value = False  # the clip pool gets a single value (the partial window): max == mean
    for i, L in enumerate(spec["layers"] + spec.get("forecast", {}).get("layers", [])):
        name = L.get("name", f"{L['op']}{i}")
        one_value |= (L["op"] in ("temporal_pool", "temporal_conv") or bool(L.get("bidirectional"))) \
            and T < L.get("frames", 0)
        query_weight = "query" if L.get("query") == "learned" else \
            {"general": "w_q.weight", "additive": "w_h.weight", "location": "weight",
             "linear": "score.weight"}.get(L.get("score", "dot"))
        if L["op"] == "attention" and query_weight:
            out.append((f"{name} without its query", None,
                        lambda sd, k=f"{L['name']}.{query_weight}":
                        {n: (v * 0 if n == k else v) for n, v in sd.items()}))
        if L["op"] == "mha":
            variant(f"{name} key_padding {not L.get('key_padding', True)}", i,
                    key_padding=not L.get("key_padding", True))
            heads = L["heads"]
            other = heads * 2 if heads == 1 else heads // 2
            variant(f"{name} heads {other}", i, heads=other)
        if L["op"] == "attention" and L.get("score", "dot") in ("dot", "general"):
            variant(f"{name} scale {not L.get('scale', False)}", i,
                    scale=not L.get("scale", False))
        if L["op"] == "temporal_pool" and L.get("mode", "max") != "concat" and \
                not ("frames" not in L and one_value):
            other = "mean" if L.get("mode", "max") == "max" else "max"
            variant(f"{name} mode {other}", i, mode=other)
        if L["op"] in ("temporal_pool", "temporal_conv") and "frames" in L:
            w = L["frames"]
            s = L.get("stride", w if L["op"] == "temporal_pool" else 1)
            if T >= w + s:  # at least two windows
                variant(f"{name} stride {s + 1}", i, stride=s + 1)
            if L["op"] == "temporal_pool" and T > w:
                variant(f"{name} frames {w + 1}", i, frames=w + 1)
        if L.get("bidirectional"):   # (its frames set the head's size: no variant)
            w, st = L["frames"], L.get("stride", L["frames"])
            if T >= w + st:
                variant(f"{name} stride {st + 1}", i, stride=st + 1)
            out.append((f"{name} without its backward direction", None,
                        lambda sd, n=L["name"]: {k: (v * 0 if k.startswith(f"{n}.") and
                                                     k.endswith("_reverse") else v)
                                                 for k, v in sd.items()}))
        if L["op"] == "lstm" and L.get("init_from"):
            out.append((f"{name} without init_from", None,
                        lambda sd, n=L["name"]: {k: (v * 0 if k.startswith(f"{n}.init_") else v)
                                                 for k, v in sd.items()}))
    return out


@torch.no_grad()
def check_visible(stem, spec_path, spec, model, x, res):
    """Every option of the new ops must show in the golden: mutate it (spec or weights), re-run,
    and require a change of VISIBLE_FACTOR x the test tolerance in some golden tensor."""
    with open(spec_path) as f:
        tol = 1e-4 if re.search(r"op: *conv", f.read()) else 1e-5
    smallest = None
    for what, mspec, edit in _mutations(spec, x.shape[0]):
        m = reference.build_model(mspec or spec)
        sd = model.state_dict()
        m.load_state_dict(edit(sd) if edit else sd, strict=True)
        res2 = reference.run_all(m, mspec or spec, x)
        d = max(((res[k] - res2[k]).abs().max().item() for k in
                 ("output", "clip", "clip_steps", "attention", "forecast")
                 if res.get(k) is not None and res2.get(k) is not None and
                 res[k].shape == res2[k].shape), default=0.0)
        assert d >= VISIBLE_FACTOR * tol, f"{stem}: '{what}' changes the golden by only {d:.2e}"
        smallest = d if smallest is None else min(smallest, d)
        print(f"{stem}: mutation '{what}': max change {d:.3g}")
    return smallest


def peephole_zero(spec, model, x):
    """Special case: weights from an nn.LSTM, peepholes exactly zero, expected output from
    nn.LSTM itself, so the golden proves that the peephole cell reduces to PyTorch's LSTM."""
    (layer,) = spec["layers"]
    lstm = torch.nn.LSTM(spec["input"]["frame"][0], layer["hidden"], layer["layers"]).eval()
    state = {f"{layer['name']}.{k}": v for k, v in lstm.state_dict().items()}
    for k in range(layer["layers"]):
        for g in ("ci", "cf", "co"):
            state[f"{layer['name']}.weight_{g}_l{k}"] = torch.zeros(layer["hidden"])
    model.load_state_dict(state, strict=True)
    with torch.no_grad():
        expected = lstm(x.unsqueeze(1))[0].squeeze(1)
    # Our peephole module on the same weights must agree up to float32 rounding.
    ours, _ = reference.run(model, spec, x)
    assert torch.allclose(ours, expected, rtol=0, atol=1e-6), (ours - expected).abs().max()
    return expected, None


def resnet_narrow(spec, seed):
    """Special case: the model is torchvision's ResNet-18 code (narrow widths, fc = Identity)
    + nn.LSTM + nn.Linear, random weights and BN statistics; the expected outputs are its own.
    The spec-driven model on the same weights must agree up to float32 rounding."""
    cfg = resnet_spec.NARROW
    with open(os.path.join(ROOT, cfg["path"])) as f:
        assert f.read() == resnet_spec.spec_text(cfg), "run tools/resnet_spec.py"
    model = resnet_spec.torchvision_lrcn(cfg["base"], cfg["hidden"], cfg["classes"])
    randomise(model)
    x = torch.randn(CLIP_FRAMES["lrcn_resnet18_narrow"], *spec["input"]["frame"])
    with torch.no_grad():
        p = model(x)
    clip = reference.aggregate(p, spec["output"]["clip"])
    ours = reference.build_model(spec)
    ours.load_state_dict(model.state_dict(), strict=True)
    p2, clip2 = reference.run(ours, spec, x)
    assert torch.allclose(p2, p, rtol=0, atol=1e-6), (p2 - p).abs().max()
    assert torch.allclose(clip2, clip, rtol=0, atol=1e-6)
    steps = torch.stack([reference.aggregate(p[:t + 1], spec["output"]["clip"])
                         for t in range(p.shape[0])])
    return model, x, {"output": p, "clip": clip, "clip_steps": steps}


def clip_input(spec, frames):
    """A random clip as m_step takes it: N(0, 1) floats, or a uint8 camera's bytes (as floats,
    integers 0 to 255; channel-last with layout hwc)."""
    inp = spec["input"]
    shape = list(inp["frame"])
    if inp.get("layout") == "hwc":
        shape = shape[1:] + shape[:1]
    if inp.get("dtype") == "uint8":   # stored as U8 in the io file (a quarter of F32)
        # blocks of a colour each (4 x 4 per frame) under a little noise: i.i.d. noise frames
        # would all pool to the same features, and a window over them could not show its size
        chw = list(inp["frame"])
        blocks = torch.randint(0, 256, (frames, chw[0]) + (4, 4)[:len(chw) - 1]).float()
        if len(chw) == 3:
            blocks = F.interpolate(blocks, size=chw[1:], mode="nearest")
        x = (blocks * 0.8 + torch.randint(0, 52, (frames, *chw)).float()).round()
        if inp.get("layout") == "hwc":
            x = x.movedim(1, -1).contiguous()
        return x.to(torch.uint8)
    return torch.randn(frames, *shape)


def generate(spec_path):
    """Build, initialise and run one spec. Returns (spec, model, x, results, seed), results
    {"output": per-frame, "clip": clip or None, "forecast": forecast (if any)}."""
    spec = load_spec(spec_path)
    stem = os.path.basename(spec_path)[:-5]
    seed = zlib.crc32(os.path.basename(spec_path).encode())
    torch.manual_seed(seed)
    if stem == "lrcn_resnet18_narrow":
        model, x, res = resnet_narrow(spec, seed)
        return spec, model, x, res, seed
    model = reference.build_model(spec)
    randomise(model)
    emphasise(spec, model)
    with torch.no_grad():
        for layer, gain in LAYER_GAIN.get(stem, {}).items():
            for p in model.get_submodule(layer).parameters():
                p.mul_(gain)
    x = clip_input(spec, CLIP_FRAMES.get(stem, T))
    for key, (gain, peak) in sharpen_attention(spec, model, x).items():
        print(f"{stem}: attention {key}: gain {gain}, peakedness "
              f"{'-' if peak is None else round(peak, 3)}")
    if stem in WEIGHTS_DTYPE:
        with torch.no_grad():
            for v in model.state_dict().values():
                if v.is_floating_point():
                    v.copy_(v.to(HALF[WEIGHTS_DTYPE[stem]]).float())
    if stem == "peephole_zero":
        p, clip = peephole_zero(spec, model, x)
        assert clip is None
        res = {"output": p, "clip": clip}
    else:  # (a layer's own weight_type applies without --weight-type too)
        raw = {k: v.clone() for k, v in model.state_dict().items()}
        model.load_state_dict(compressed(spec, raw, "f32"))
        res = reference.run_all(model, spec, x)
        model.load_state_dict(raw)
    return spec, model, x, res, seed


SPECIAL_VARIANTS = ("nan", "inf", "extreme")
# No special-value golden for the largest io files (three more copies of 50-230 KB each): their
# ops have special goldens in smaller specs, which golden.test checks cover every op.
SPECIAL_SKIP = {"convlstm_forecaster", "lrcn", "snippets_convpool", "convgru_stack",
                "snippets_lstm", "visual_attention"}


def special_inputs(x, seed):
    """The golden input with special values at random positions (a seed of its own, so the
    plain golden is unchanged): 'nan', a NaN in frame T // 3; 'inf', +inf and -inf in that
    frame; 'extreme', in every frame an eighth of the values -0.0, subnormal (1e-40) or huge
    (1e30) with either sign, sizes that overflow no float32 sum of the specs."""
    g = torch.Generator().manual_seed(seed ^ 0x5E5E5E5E)
    T, flat = x.shape[0], x.reshape(x.shape[0], -1)
    n, j = flat.shape[1], x.shape[0] // 3
    pos = torch.randperm(n, generator=g)
    out = {}
    v = flat.clone()
    v[j, pos[0]] = float("nan")
    out["nan"] = v
    v = flat.clone()
    v[j, pos[1 % n]] = float("inf")
    v[j, pos[2 % n]] = float("-inf")
    out["inf"] = v
    v = flat.clone()
    extremes = torch.tensor([-0.0, 1e-40, -1e-40, 1e30, -1e30])
    for t in range(T):
        at = torch.randperm(n, generator=g)[:max(1, n // 8)]
        v[t, at] = extremes[torch.randint(len(extremes), (len(at),), generator=g)]
    out["extreme"] = v
    return {k: t.reshape(x.shape) for k, t in out.items()}


def write_special(stem, spec, model, x, seed, meta, outputs):
    """tests/golden/S.special.safetensors: for each variant V of special_inputs, V.input and
    PyTorch's V.K for each output K of the io file (output, clip, clip_steps, ...)."""
    tensors = {}
    for name, xv in special_inputs(x, seed).items():
        res = reference.run_all(model, spec, xv)
        tensors[f"{name}.input"] = xv
        for k in outputs:
            tensors[f"{name}.{k}"] = res[k]
    path = os.path.join(GOLDEN, f"{stem}.special.safetensors")
    safetensors_io.write(path, tensors, dict(meta, variants=" ".join(SPECIAL_VARIANTS)))
    nan = sum(int(torch.isnan(t).sum()) for k, t in tensors.items() if not k.endswith(".input"))
    print(f"{stem}: special values, {os.path.getsize(path)} bytes, {nan} NaN outputs")


def write_golden(stem, spec, spec_path, model, x, res, seed, dtype="F32", exact=True):
    out = spec.get("output", {})
    # A model whose last layer runs per clip (after a temporal_pool) has no per-frame output.
    per_clip = getattr(model, "per_clip", False)  # (lrcn_resnet18_narrow: torchvision's model)
    per_frame = out.get("per_frame", not per_clip)
    assert not (per_frame and per_clip), f"{stem}: per_frame with a per-clip last layer"
    meta = {"spec": os.path.relpath(spec_path, ROOT), "seed": f"0x{seed:08x}",
            "reference": f"torch {torch.__version__}"}
    io = {"input": x}
    if per_frame:
        io["output"] = res["output"]
    if res["clip"] is not None:
        io["clip"] = res["clip"]
        io["clip_steps"] = res["clip_steps"]
        assert torch.equal(res["clip_steps"][-1], res["clip"])
    if "attention" in res:
        io["attention"] = res["attention"]
    io_meta = dict(meta, T=x.shape[0], per_frame=str(per_frame).lower(),
                   clip=out.get("clip", "none"), weights_dtype=dtype)
    if "forecast" in res:
        io["forecast"] = res["forecast"]
        io_meta["forecast_steps"] = res["forecast"].shape[0]
    w_path = os.path.join(GOLDEN, f"{stem}.weights.safetensors")
    io_path = os.path.join(GOLDEN, f"{stem}.io.safetensors")
    safetensors_io.write(w_path, model.state_dict(), dict(meta, format="pt"), dtype=dtype)
    safetensors_io.write(io_path, io, io_meta)

    # Read both files back; the weights, loaded into a fresh model, must reproduce the io file.
    io_back, _ = safetensors_io.read(io_path)
    assert io_back.keys() == io.keys() and all(torch.equal(io_back[k], io[k]) for k in io)
    w_back, _ = safetensors_io.read(w_path)
    fresh = reference.build_model(spec)
    fresh.load_state_dict(compressed(spec, w_back, "f32"), strict=True)
    res2 = reference.run_all(fresh, spec, io_back["input"])
    same = torch.equal if exact else (lambda a, b: torch.allclose(a, b, rtol=0, atol=1e-6))
    for k in ("output", "clip", "clip_steps", "attention", "forecast"):
        if res.get(k) is not None:
            assert same(res2[k], res[k]), f"{stem}: read-back mismatch in {k}: {(res2[k] - res[k]).abs().max()}"

    # (a uint8 camera frame holds no special values)
    if (dtype == "F32" or stem in WEIGHTS_DTYPE) and stem not in SPECIAL_SKIP and \
            spec["input"].get("dtype") != "uint8":  # (nor clip_max's
        # half-precision copies)
        write_special(stem, spec, fresh, x, seed, meta, [k for k in io if k != "input"])

    n_params = sum(v.numel() for v in w_back.values())
    shapes = " ".join(f"{k}{tuple(v.shape)}" for k, v in io.items())
    print(f"{stem}: seed 0x{seed:08x}, {n_params} {dtype} params, {shapes}, "
          f"{os.path.getsize(w_path)}+{os.path.getsize(io_path)} bytes")


def main():
    torch.set_num_threads(1)  # threaded GEMMs may round differently: keep the bytes stable
    os.makedirs(GOLDEN, exist_ok=True)
    paths = sorted(glob.glob(os.path.join(ROOT, "specs", "*.yaml"))) + \
        sorted(glob.glob(os.path.join(ROOT, "tests", "specs", "*.yaml")))
    stems = [os.path.basename(p)[:-5] for p in paths]
    assert len(set(stems)) == len(stems), "spec file names must be unique across both dirs"
    wanted = sys.argv[1:]
    unknown = [s for s in wanted if s not in stems]
    if unknown:
        sys.exit(f"make_goldens.py: no spec named {', '.join(unknown)}")
    for path, stem in zip(paths, stems):
        if wanted and stem not in wanted:
            continue
        if stem in SKIP:
            print(f"{stem}: skipped ({SKIP[stem]})")
            continue
        spec, model, x, res, seed = generate(path)
        # peephole_zero's and lrcn_resnet18_narrow's expected outputs come from other PyTorch
        # modules (nn.LSTM, torchvision), so re-running them here differs by rounding.
        assert stem not in WEIGHTS_DTYPE or stem not in ("peephole_zero", "lrcn_resnet18_narrow")
        write_golden(stem, spec, path, model, x, res, seed, dtype=WEIGHTS_DTYPE.get(stem, "F32"),
                     exact=stem not in ("peephole_zero", "lrcn_resnet18_narrow"))
        if stem != "lrcn_resnet18_narrow":
            check_visible(stem, path, spec, model, x, res)
        if stem in COMPRESSED:
            io, _ = safetensors_io.read(os.path.join(GOLDEN, f"{stem}.io.safetensors"))
            write_compressed(stem, spec, model, x, io)

        if stem == "clip_max":
            # Half-precision weight files: expected outputs from the rounded weights, same input.
            state = model.state_dict()
            for dtype, tdtype in (("F16", torch.float16), ("BF16", torch.bfloat16)):
                model.load_state_dict({k: v.to(tdtype).float() for k, v in state.items()})
                res16 = reference.run_all(model, spec, x)
                write_golden(f"clip_max_{dtype.lower()}", spec, path, model, x, res16,
                             seed, dtype=dtype)
            model.load_state_dict(state)

    total = sum(os.path.getsize(f) for f in glob.glob(os.path.join(GOLDEN, "*")))
    print(f"tests/golden: {total} bytes")


if __name__ == "__main__":
    main()
