"""verify(model, spec, weights, clip): does the C reel generates compute what the module does?

It compiles the spec and weights with reelc, builds the C with the system's compiler and a
small driver (driver.c), runs the clip through it frame by frame and through the module as a
whole, and compares every output the spec has: the per-frame outputs, the clip (after the last
frame), the forecast (after it), and the attention weights of every frame when the module's
reel_torch.nn attention modules give them. It returns (and prints) the max absolute error of
each, and passes when each is within `tolerance` times max(1, max |PyTorch|): 1e-5 for dense
models, 1e-4 when the spec has a convolution (float32 sums over many more terms).

reelc is found as $REELC, then build/reelc of this source tree, then on the PATH; the C
compiler is $CC or cc.
"""
import os
import shutil
import struct
import subprocess
import tempfile

import torch
import yaml

from . import nn as rnn

CONV_OPS = {"conv2d", "conv_transpose2d", "convlstm", "convgru", "temporal_conv"}
HERE = os.path.dirname(os.path.abspath(__file__))


class VerifyError(Exception):
    """The C and PyTorch disagree beyond the tolerance, or the C could not be built."""


class Report(dict):
    """{output name: max |C - PyTorch|}, with .tolerance, .scale ({name: max |PyTorch|}) and
    .ok (every error within tolerance * max(1, scale))."""

    def __init__(self, tolerance):
        super().__init__()
        self.tolerance, self.scale = tolerance, {}

    @property
    def ok(self):
        return all(e <= self.tolerance * max(1.0, self.scale[k]) for k, e in self.items())

    def lines(self):
        return [f"{k}: max |C - PyTorch| {e:.3g} (|PyTorch| up to {self.scale[k]:.3g}, "
                f"tolerance {self.tolerance:g}): "
                f"{'ok' if e <= self.tolerance * max(1.0, self.scale[k]) else 'FAILED'}"
                for k, e in self.items()]


def find_reelc():
    for path in (os.environ.get("REELC"),
                 os.path.join(os.path.dirname(os.path.dirname(HERE)), "build", "reelc"),
                 shutil.which("reelc")):
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise VerifyError("reelc not found: build it (make), put it on the PATH or set REELC")


def _run(cmd, what):
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise VerifyError(f"{what} failed ({' '.join(cmd)}):\n{res.stderr.strip()}")
    return res


def run_c(spec, weights, frames, target=None, workdir=None):
    """Compile spec + weights and run frames (T, *frame) through the C. Returns {'output':
    (T, OUT), 'attention': (T, A), 'clip': (CLIP,), 'forecast': (K, FC)}, the ones the model
    has."""
    with open(spec) as f:
        model = yaml.safe_load(f)["model"]
    tmp = tempfile.TemporaryDirectory(prefix="reel_verify_") if workdir is None else None
    out_dir = workdir or tmp.name
    try:
        cmd = [find_reelc(), "compile", spec, "-w", weights, "-o", out_dir]
        _run(cmd + (["--target", target] if target else []), "reelc compile")
        sources = sorted(os.path.join(out_dir, f) for f in os.listdir(out_dir) if f.endswith(".c"))
        avx2 = any(f.endswith("_avx2.c") for f in sources)
        exe = os.path.join(out_dir, "driver")
        _run([os.environ.get("CC", "cc"), "-std=c99", "-O2", *(["-mavx2", "-mfma"] if avx2 else []),
              f"-DREEL_MODEL={model}", f"-DREEL_MODEL_UP={model.upper()}",
              f'-DREEL_MODEL_H="{model}.h"', f"-I{out_dir}", "-o", exe,
              os.path.join(HERE, "driver.c"), *sources, "-lm"], "cc")
        x = frames.detach().float().contiguous()
        inp, outp = os.path.join(out_dir, "in.f32"), os.path.join(out_dir, "out.bin")
        x.numpy().tofile(inp)
        _run([exe, inp, str(x.shape[0]), outp], "the compiled model")
        with open(outp, "rb") as f:
            data = f.read()
    finally:
        if tmp is not None:
            tmp.cleanup()
    n_out, n_att, n_clip, fc_steps, fc_size = struct.unpack_from("<5i", data)
    v = torch.frombuffer(bytearray(data[20:]), dtype=torch.float32)
    T, res, pos = x.shape[0], {}, 0
    for key, count, shape in (("output", T * n_out, (T, n_out)), ("attention", T * n_att, (T, n_att)),
                              ("clip", n_clip, (n_clip,)),
                              ("forecast", fc_steps * fc_size, (fc_steps, fc_size))):
        if count:
            res[key] = v[pos:pos + count].view(shape)
        pos += count
    return res


def _attention_weights(model, clip, time_first):
    """Run the module, collecting what its reel_torch.nn attention modules return as weights,
    in call order: (its output, (T, A) weights or None)."""
    found = []

    def hook(mod, inputs, output):
        w = output[1]
        found.append(w[:, 0] if not mod.batch_first else w[0])   # (T, n) of batch item 0

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (rnn.WindowAttention, rnn.AttentionPool, rnn.MapAttention,
                                  rnn.AttentionLSTM))]
    try:
        with torch.no_grad():
            y = model(clip)
    finally:
        for h in handles:
            h.remove()
    return y, (torch.cat(found, dim=1) if found else None)


def verify(model, spec, weights, clip, target=None, time_first=False, tolerance=None,
           check=False, quiet=False):
    """Compare the C compiled from spec + weights with `model` on `clip` ([1, T, *frame], or
    [T, 1, *frame] with time_first). model(clip) must return what the spec outputs: per-frame
    outputs [1, T, *out] (or [T, 1, *out]), a clip output [1, *out] (spec `clip`, or a per-clip
    model), or a forecast [1, steps, *frame]. target: reelc's --target (None: its default).
    Prints one line per output unless quiet; with check, raises VerifyError when any error is
    over the tolerance. Returns the Report."""
    with open(spec) as f:
        s = yaml.safe_load(f)
    ops = {l["op"] for l in s["layers"] + s.get("forecast", {}).get("layers", [])}
    if tolerance is None:
        tolerance = 1e-4 if ops & CONV_OPS else 1e-5
    was_training = model.training
    model.eval()
    try:
        y, attention = _attention_weights(model, clip, time_first)
    finally:
        model.train(was_training)
    frames = clip[:, 0] if time_first else clip[0]
    want = list(s["input"]["frame"])
    if s["input"].get("layout") == "hwc":   # as the camera gives them: channel-last
        want = want[1:] + want[:1]
    if list(frames.shape[1:]) != want:
        raise VerifyError(f"the clip's frames are {list(frames.shape[1:])}, but {spec} reads "
                          f"frames of {want}")
    c = run_c(spec, weights, frames, target)
    per_frame = s.get("output", {}).get("per_frame", True) and "output" in c and \
        y.numel() == c["output"].numel()
    if "forecast" in s:
        ref, key = (y[:, 0] if time_first else y[0]), "forecast"
    elif per_frame:
        ref, key = (y[:, 0] if time_first else y[0]), "output"
    else:
        ref, key = y[0], "clip"
    report = Report(tolerance)
    pairs = [(key, ref)]
    if attention is not None and "attention" in c and attention.shape == c["attention"].shape:
        pairs.append(("attention", attention))
    for k, r in pairs:
        if k not in c:
            raise VerifyError(f"the spec gives no {k} output, but the module returns one")
        got, want = c[k].reshape(-1), r.detach().float().reshape(-1)
        if got.numel() != want.numel():
            raise VerifyError(f"{k}: the C gives {got.numel()} values, PyTorch {want.numel()} "
                              f"({list(r.shape)})")
        both_nan = got.isnan() & want.isnan()
        diff = (got - want).abs().masked_fill(both_nan, 0).nan_to_num(nan=float("inf"))
        report[k] = float(diff.max()) if diff.numel() else 0.0
        report.scale[k] = float(want.abs().nan_to_num(nan=0, posinf=0, neginf=0).max())
    if not quiet:
        for line in report.lines():
            print(f"reel_torch.verify: {os.path.basename(spec)}: {line}")
    if check and not report.ok:
        raise VerifyError("; ".join(report.lines()))
    return report
