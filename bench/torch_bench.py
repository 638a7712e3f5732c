#!/usr/bin/python3
"""PyTorch timings for bench/run.sh: the same models and cells as reel's, one frame at a time.

    OMP_NUM_THREADS=1 taskset -c 1 /usr/bin/python3 bench/torch_bench.py [--seconds S] SPEC...

For each spec, tools/reference.py's spec-driven build_model() makes the PyTorch model (default
random init), and one frame step is timed: batch 1, float32, torch.no_grad(), one thread, the
recurrent state carried from step to step as in streaming. reference.py evaluates whole clips
layer by layer, so this file walks the same layer nodes one frame at a time (Stepper, below);
before timing, it checks that streaming a short clip gives reference.run_all()'s outputs (and
forecast). A spec with a forecast is also timed on its forecast, per predicted frame.
Specs that look across frames (attention, windows, temporal pools and convs, init_from, forecast
feedback) are not stepped: PyTorch is timed on run_all() over a whole clip of POOL frames, divided
by POOL ("clip_frames" in the output). That batches the per-frame layers over the clip, which
favours PyTorch.

Then the three benchmark cells as bare modules: nn.LSTM(512, 512) and nn.GRU(512, 512) for one
step, and the ConvLSTM cell on 32x32 with C = H = 64, 3x3 (reel_torch.nn's ConvLSTMCell: one
conv over cat[x, h], 128 -> 256 channels, then the gates), plus that cell's conv alone (to set
beside oneDNN, which has only the conv).

With --streams N..., each N streams advance together, one call per step with the batch
dimension N (what="streams", per call): the cells (lstm512, gru512: nn.LSTM / nn.GRU on (1, N,
512); convlstm64: the cell on N maps, and its conv through torch.utils.mkldnn on an mkldnn
tensor as well, oneDNN's layout) and, for the steppable specs named in --stream-models, the
model stepped on N frames at once (checked against N one-stream steppers first).

Timing as in bench/time_model.c: warm-up (at least 3 calls and 0.3 s), then about S seconds of
calls, each timed on its own (time.perf_counter_ns); median, p10, p90 in microseconds. Output:
one JSON object per line.
"""
import argparse
import json
import os
import re
import sys
import time

import torch
import torch.nn as nn
import torch.utils.mkldnn
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "python"))
from reel_torch import nn as rnn  # noqa: E402
import reference  # noqa: E402

WARMUP_MIN, WARMUP_SECONDS = 3, 0.3
MIN_TIMED, MAX_TIMED = 11, 200000
POOL = 16  # distinct random input frames, streamed round-robin


def cpu_capability():
    """ATen's kernel ISA, e.g. AVX2 (torch 1.13 reports it only in its config text)."""
    m = re.search(r"CPU capability usage: (\S+)", torch.__config__.show())
    return m.group(1) if m else "?"


def emit(**fields):
    print(json.dumps(fields), flush=True)


def measure(fn, seconds, per=1):
    """Time fn() call by call after a warm-up; returns a dict of statistics in microseconds,
    each sample divided by `per` (the frames one call produces)."""
    clock = time.perf_counter_ns
    warm, t0 = 0, clock()
    while warm < WARMUP_MIN or clock() - t0 < WARMUP_SECONDS * 1e9:
        fn()
        warm += 1
    est = (clock() - t0) / 1e9 / warm
    n = min(MAX_TIMED, max(MIN_TIMED, int(seconds / est)))
    samples = []
    for _ in range(n):
        t = clock()
        fn()
        samples.append((clock() - t) / 1e3 / per)
    samples.sort()

    def q(p):  # linear interpolation, as time_model.c's quantile()
        pos = p * (n - 1)
        i = int(pos)
        return samples[-1] if i + 1 >= n else samples[i] + (pos - i) * (samples[i + 1] - samples[i])

    return {"warmup": warm, "steps": n, "median_us": round(q(0.5), 3), "p10_us": round(q(0.1), 3),
            "p90_us": round(q(0.9), 3), "mean_us": round(sum(samples) / n, 3),
            "min_us": round(samples[0], 3)}


class Stepper:
    """Runs a reference.ReelModel one frame at a time, keeping every recurrent layer's state
    between frames. It mirrors ReelModel._run_chain, with T = 1 and the states carried over:
    per-frame ops see the frame as a batch of 1, recurrent modules are stepped with their state.
    """

    def __init__(self, model):
        self.model = model
        self.reset()

    def reset(self):
        self.states = {}  # layer name -> that layer's recurrent state

    def step(self, x):
        """x: one frame (1, *frame) -> that frame's output (1, *out)."""
        vals, prev = {"input": x}, x
        for node in self.model._nodes:
            ins = self._inputs(node, [prev] if node.srcs is None else [vals[s] for s in node.srcs])
            state = self.states.get(node.name)
            if node.op in ("lstm", "gru"):
                out, state = self._rnn_step(node.module, ins[0], state)
            elif node.op == "convlstm":
                if state is None and node.init_state:
                    state = self.states.get(node.init_state)
                out, state = node.module.step(ins[0], state)
            elif node.op == "convgru":
                out, state = node.module.step(ins if node.module.rcn else ins[0], state)
            else:
                out = self._apply(node, ins)
            if node.op in reference.RECURRENT:
                self.states[node.name] = state
            if node.name is not None:
                vals[node.name] = out
            prev = out
        return self._inputs(None, [prev])[0]

    def _inputs(self, node, ins):  # noqa: ARG002 (a hook: MkldnnStepper converts layouts)
        return ins

    def _apply(self, node, ins):
        return node.fn(*ins)

    @staticmethod
    def _rnn_step(mod, x, state):
        """One step of nn.LSTM / nn.GRU (state: their hx) or reference.PeepholeLSTM (state: a
        list of (h, c) per layer, the equations of PeepholeLSTM.forward)."""
        if not isinstance(mod, reference.PeepholeLSTM):
            t = 1 if mod.batch_first else 0  # the time axis, of length 1; x's rows are the batch
            out, state = mod(x.unsqueeze(t), state)
            return out.squeeze(t), state
        H = mod.hidden_size
        state = state or [(x.new_zeros(H), x.new_zeros(H))] * mod.num_layers
        inp, new = x[0], []
        for k, (h, c) in enumerate(state):
            p = lambda n: getattr(mod, f"{n}_l{k}")  # noqa: E731
            gi, gf, gg, go = (nn.functional.linear(inp, p("weight_ih"), p("bias_ih")) +
                              nn.functional.linear(h, p("weight_hh"), p("bias_hh"))).chunk(4)
            i = torch.sigmoid(gi + p("weight_ci") * c)
            f = torch.sigmoid(gf + p("weight_cf") * c)
            c = f * c + i * torch.tanh(gg)
            h = torch.sigmoid(go + p("weight_co") * c) * torch.tanh(c)
            new.append((h, c))
            inp = h
        return inp.unsqueeze(0), new

    def forecast(self):
        """The forecast from the frames seen so far: (steps, *frame). The observed states are
        kept (the forecaster works on a copy), as in the generated m_forecast."""
        m = self.model
        return m._run_chain(m._forecast, None, {}, dict(self.states), steps=m.forecast_steps)


class MkldnnStepper(Stepper):
    """Stepper through PyTorch's oneDNN path, as a user tuning inference would set it up:
    each batch norm that follows a conv folded into it (torch.nn.utils.fusion, the fold
    torch.jit.optimize_for_inference makes), the convs as torch.utils.mkldnn's MkldnnConv2d
    (weights reordered once into oneDNN's blocked layout), and the convs, relus, pools and adds
    of a [C, H, W] frame run on mkldnn tensors, converted to and from dense only where a run
    of them starts and ends. Everything else runs as in Stepper. `ok` is False when the spec
    has no conv that this path takes (its time would be Stepper's)."""

    OPS = ("conv2d", "batchnorm", "relu", "maxpool", "avgpool", "global_avgpool", "add")

    def __init__(self, model):
        super().__init__(model)
        self.fns = {}  # id(node) -> what runs it on mkldnn tensors
        nodes = model._nodes
        used = [s for n in nodes if n.srcs for s in n.srcs]
        for k, node in enumerate(nodes):
            if node.op not in self.OPS or len(node.shape) != 3:
                continue
            fn = node.fn
            if node.op == "conv2d":
                conv = node.module
                if conv.sides is not None or conv.extra != (0, 0):
                    continue  # F.pad first: not a oneDNN conv alone
                nxt = nodes[k + 1] if k + 1 < len(nodes) else None
                if nxt is not None and nxt.op == "batchnorm" and nxt.srcs is None and \
                        node.name not in used:
                    conv = torch.nn.utils.fusion.fuse_conv_bn_eval(conv, nxt.module)
                    self.fns[id(nxt)] = lambda x: x  # folded
                fn = torch.utils.mkldnn.MkldnnConv2d(conv, torch.float)
            elif node.op == "batchnorm":
                if id(node) in self.fns:
                    continue
                fn = torch.utils.mkldnn.MkldnnBatchNorm(node.module)
            self.fns[id(node)] = fn
        self.ok = any(n.op == "conv2d" and id(n) in self.fns for n in nodes)

    def _inputs(self, node, ins):
        if node is not None and id(node) in self.fns:
            return [x if x.is_mkldnn else x.to_mkldnn() for x in ins]
        return [x.to_dense() if x.is_mkldnn else x for x in ins]

    def _apply(self, node, ins):
        return self.fns.get(id(node), node.fn)(*ins)


def check_stepper(model, spec, frames, stepper=None):
    """Streaming frames one by one (through `stepper`, a new Stepper by default) must give
    reference.run_all()'s outputs and forecast."""
    ref = reference.run_all(model, spec, frames)
    stepper = stepper or Stepper(model)
    outs = torch.cat([stepper.step(frames[t:t + 1]) for t in range(frames.shape[0])])
    err = (outs - ref["output"]).abs().max().item()
    if "forecast" in ref:
        err = max(err, (stepper.forecast() - ref["forecast"]).abs().max().item())
    if not err <= 1e-4:
        sys.exit(f"torch_bench: streaming {spec['model']} differs from reference.run_all "
                 f"by {err}")
    return err


def steppable(spec):
    """Whether Stepper knows every op and key of the spec."""
    layers = spec["layers"] + spec.get("forecast", {}).get("layers", [])
    across = ("attention", "mha", "temporal_pool", "temporal_conv")
    return not spec.get("forecast", {}).get("feedback") and not any(
        l["op"] in across or "window" in l or "init_from" in l for l in layers)


def bench_spec(path, seconds):
    with open(path) as f:
        spec = yaml.safe_load(f)
    name = spec["model"]
    torch.manual_seed(0)
    model = reference.build_model(spec)
    inp = spec["input"]
    frame = tuple(inp["frame"])
    if inp.get("layout") == "hwc":   # frames as the camera gives them, as m_step takes them
        frame = frame[1:] + frame[:1]
    frames = torch.randint(0, 256, (POOL, *frame), dtype=torch.uint8) \
        if inp.get("dtype") == "uint8" else torch.rand(POOL, *frame) * 2 - 1
    if not steppable(spec):
        with torch.no_grad():
            emit(peer="torch", model=name, what="step", clip_frames=POOL,
                 **measure(lambda: reference.run_all(model, spec, frames), seconds, per=POOL))
        return
    err = check_stepper(model, spec, frames[:2])

    stepper, k = Stepper(model), [0]

    def step():
        stepper.step(frames[k[0] % POOL:k[0] % POOL + 1])
        k[0] += 1

    emit(peer="torch", model=name, what="step", check_err=err, **measure(step, seconds))
    if torch.backends.mkldnn.is_available() and not model.forecast_steps:
        mk = MkldnnStepper(model)
        if mk.ok:
            err = check_stepper(model, spec, frames[:2], MkldnnStepper(model))
            stepper = mk
            emit(peer="torch", model=name, what="step", path="mkldnn", check_err=err,
                 **measure(step, seconds))
    if model.forecast_steps:
        emit(peer="torch", model=name, what="forecast_frame",
             **measure(stepper.forecast, seconds, per=model.forecast_steps))


def bench_cells(seconds):
    torch.manual_seed(0)
    n = 512
    x = torch.rand(1, 1, n) * 2 - 1
    lstm, gru = nn.LSTM(n, n).eval(), nn.GRU(n, n).eval()
    st = {"lstm": (torch.zeros(1, 1, n), torch.zeros(1, 1, n)), "gru": torch.zeros(1, 1, n)}

    def lstm_step():
        _, st["lstm"] = lstm(x, st["lstm"])

    def gru_step():
        _, st["gru"] = gru(x, st["gru"])

    emit(peer="torch", cell="lstm512", what="cell", module="nn.LSTM(512, 512)",
         **measure(lstm_step, seconds))
    emit(peer="torch", cell="gru512", what="cell", module="nn.GRU(512, 512)",
         **measure(gru_step, seconds))

    C = H = 64
    cell = rnn.ConvLSTMCell(C, H, 3).eval()
    xc = torch.rand(1, C, 32, 32) * 2 - 1
    st["conv"] = (torch.zeros(1, H, 32, 32), torch.zeros(1, H, 32, 32))

    def convlstm_step():
        st["conv"] = cell(xc, st["conv"])

    xh = torch.rand(1, C + H, 32, 32) * 2 - 1

    def conv_only():
        cell.conv(xh)

    emit(peer="torch", cell="convlstm64", what="cell",
         module="reel_torch.nn.ConvLSTMCell(64, 64, 3): conv 128->256 3x3 over cat[x, h] + gates",
         **measure(convlstm_step, seconds))
    emit(peer="torch", cell="convlstm64", what="conv_only",
         module="nn.Conv2d(128, 256, 3, padding=1)", **measure(conv_only, seconds))


def bench_streams(counts, specs, seconds):
    """N streams per call: the cells and the steppable specs at batch N (module docstring)."""
    torch.manual_seed(0)
    n = 512
    lstm, gru = nn.LSTM(n, n).eval(), nn.GRU(n, n).eval()
    C = H = 64
    cell = rnn.ConvLSTMCell(C, H, 3).eval()
    conv_mkldnn = torch.utils.mkldnn.to_mkldnn(cell.conv) if torch.backends.mkldnn.is_available() \
        else None
    for N in counts:
        x = torch.rand(1, N, n) * 2 - 1
        st = {"lstm": (torch.zeros(1, N, n), torch.zeros(1, N, n)), "gru": torch.zeros(1, N, n),
              "conv": (torch.zeros(N, H, 32, 32), torch.zeros(N, H, 32, 32))}
        xc = torch.rand(N, C, 32, 32) * 2 - 1

        def lstm_step():
            _, st["lstm"] = lstm(x, st["lstm"])

        def gru_step():
            _, st["gru"] = gru(x, st["gru"])

        def convlstm_step():
            st["conv"] = cell(xc, st["conv"])

        emit(peer="torch", cell="lstm512", what="streams", streams=N, **measure(lstm_step, seconds))
        emit(peer="torch", cell="gru512", what="streams", streams=N, **measure(gru_step, seconds))
        emit(peer="torch", cell="convlstm64", what="streams", streams=N,
             **measure(convlstm_step, seconds))
        if conv_mkldnn is not None:  # the gate conv alone, in oneDNN's blocked layout
            xm = (torch.rand(N, C + H, 32, 32) * 2 - 1).to_mkldnn()
            emit(peer="torch", cell="convlstm64", what="streams_conv_mkldnn", streams=N,
                 **measure(lambda: conv_mkldnn(xm), seconds))
    for path in specs:
        with open(path) as f:
            spec = yaml.safe_load(f)
        if not steppable(spec) or spec["input"].get("dtype") == "uint8":
            continue
        torch.manual_seed(0)
        model = reference.build_model(spec)
        frame = tuple(spec["input"]["frame"])
        for N in counts:
            frames = torch.rand(POOL, N, *frame) * 2 - 1
            batch = Stepper(model)
            one = [Stepper(model) for _ in range(min(N, 3))]
            err = 0.0
            for t in range(2):  # the batch's first streams against steppers of their own
                out = batch.step(frames[t])
                for k, st1 in enumerate(one):
                    err = max(err, (st1.step(frames[t, k:k + 1])[0] - out[k]).abs().max().item())
            if not err <= 1e-4:
                sys.exit(f"torch_bench: {spec['model']} at batch {N} differs from one stream by {err}")
            k = [0]

            def step():
                batch.step(frames[k[0] % POOL])
                k[0] += 1

            emit(peer="torch", model=spec["model"], what="streams", streams=N, check_err=err,
                 **measure(step, seconds))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="timed budget per measurement")
    ap.add_argument("--no-cells", action="store_true", help="skip the bare-module cells")
    ap.add_argument("--streams", type=int, nargs="+", default=[], metavar="N",
                    help="also time N streams per call: the cells and --stream-models")
    ap.add_argument("--stream-models", nargs="*", default=[], metavar="SPEC",
                    help="spec files to time at each --streams count")
    ap.add_argument("specs", nargs="*", help="reel spec files")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    emit(peer="torch", what="version", version=torch.__version__,
         threads=torch.get_num_threads(), mkldnn=torch.backends.mkldnn.is_available(),
         cpu_capability=cpu_capability())
    with torch.no_grad():
        for path in args.specs:
            bench_spec(path, args.seconds)
        if not args.no_cells:
            bench_cells(args.seconds)
        if args.streams:
            bench_streams(args.streams, args.stream_models, args.seconds)


if __name__ == "__main__":
    main()
