#!/usr/bin/python3
"""Format bench/run.sh's raw measurements as bench/RESULTS.md (Markdown on stdout).

    python3 bench/report.py bench/build/raw > bench/RESULTS.md

The raw directory holds, all written by run.sh:
  meta.txt              key=value lines: machine, compilers, flags, targets, peers
  fma.jsonl             fma_peak.c: the single-core AVX2 FMA peak
  bandwidth.jsonl       bandwidth.c: read bandwidth for L1/L2/L3/DRAM-sized buffers and for a
                        buffer the size of each model's weights ("weights:<model>")
  info-<model>.txt      `reelc info SPEC`: per-layer MACs and params, "weights: N bytes"
  spec-<model>.txt      the spec's path
  reel-<target>.rN.jsonl  time_model.c, one line per model (and per forecaster's forecast);
                        targets avx2-int8 and avx2-bf16: lstm512 and gru512 with compressed
                        weights (--weight-type), typed-info-<model>-<type>.txt their `reelc info`
  torch.rN.jsonl        torch_bench.py: every spec (its default path, and its oneDNN path:
                        "path": "mkldnn"), and the bare cells; torch-avx2.rN.jsonl the specs
                        with ATen and oneDNN capped at AVX2
  onednn.rN.jsonl       onednn_bench.c with the library's best ISA; onednn-avx2.rN.jsonl
                        capped at AVX2 (DNNL_MAX_CPU_ISA=AVX2)
  conv-shapes.jsonl     bench/conv_shapes.py: the distinct convolutions of the specs;
                        reel-convs.rN.jsonl each one alone as a reel model (time_model.c, avx2),
                        onednn-convs[-avx2].rN.jsonl and xnnpack-convs.rN.jsonl the peers
  xnnpack-resnet18.rN.jsonl  xnnpack_resnet18.c: lrcn_resnet18's backbone in XNNPACK
  (N: the round; each measurement is reported from its best round)

Derived numbers, per model and phase (a step, or one forecast frame):
  GFLOP/s          2 * MACs / median time; MACs from `reelc info` (the rows of the phase)
  % FMA peak       that rate over the measured AVX2 FMA peak
  % BW roofline    a batch-1 step reads every weight once: it cannot take less than
                   weight bytes / the read bandwidth measured on a buffer of that size (the
                   best of plain, prefetched and direction-alternating reads).  Shown
                   where that bound exceeds the compute bound (flops / FMA peak), i.e. for the
                   memory-bound recurrent cells; "-" (compute-bound) elsewhere.
  speed-up         peer time / reel time: above 1, reel is faster.
"""
import collections
import glob
import json
import os
import re
import sys

try:
    import yaml
except ImportError:  # only needed to split a forecaster's MACs by phase
    yaml = None

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CELLS = [("lstm512", "LSTM 512->512, one step, batch 1"),
         ("gru512", "GRU 512->512, one step, batch 1"),
         ("convlstm64", "ConvLSTM step, 32x32, C=H=64, 3x3 (gate conv 128->256)")]
NA_MISSING = "n/a (not installed)"
ALGORITHM_MARK = {"winograd": " W", "igemm": " I"}  # reelc info's conv algorithm, in the shape table


def read_jsonl(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip().startswith("{")]


# The fields that name a measurement; the rest (median_us, p10_us, ...) are its result.
KEY_FIELDS = ("model", "cell", "what", "layout", "target", "streams", "batch", "key", "path")


def read_rounds(raw, stem):
    """The records of <stem>.r<N>.jsonl over all rounds N, each measurement
    once: the round with the lowest median (records without one, such as
    versions and errors, from the first round that has them)."""
    best = {}
    paths = sorted(glob.glob(os.path.join(raw, f"{stem}.r*.jsonl")))
    if not paths:
        return None
    for path in paths:
        for r in read_jsonl(path):
            key = tuple(r.get(k) for k in KEY_FIELDS)
            old = best.get(key)
            if old is None or ("median_us" in r and ("median_us" not in old or
                                                     r["median_us"] < old["median_us"])):
                best[key] = r
    return list(best.values())


def read_meta(raw):
    meta = collections.defaultdict(lambda: "?")  # a key an older run.sh did not write: "?"
    with open(os.path.join(raw, "meta.txt")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            meta[k] = v
    return meta


def parse_info(path):
    """`reelc info` -> (rows [(name, op, params, macs)], weight bytes)."""
    rows, weights = [], None
    with open(path) as f:
        for line in f:
            m = re.match(r"^\s*\d+\s+(\S+)\s+(\S+)\s.*?\s(\d+)\s+(\d+)\s+(\d+)\s*$", line)
            if m:
                rows.append((m.group(1), m.group(2), int(m.group(3)), int(m.group(4))))
            m = re.match(r"^weights:\s*(\d+) bytes", line)
            if m:
                weights = int(m.group(1))
    return rows, weights


def forecast_layers(spec_path):
    """How many layers the spec's forecast chain has (0: none); they are the last rows of
    `reelc info`."""
    if yaml is None:
        return 0
    with open(os.path.join(ROOT, spec_path)) as f:  # spec paths are relative to the repo
        spec = yaml.safe_load(f)
    return len(spec.get("forecast", {}).get("layers", []))


class Model:
    """One spec: MACs and weight bytes per phase ('step', 'forecast_frame')."""

    def __init__(self, raw, name):
        self.name = name
        rows, total_weights = parse_info(os.path.join(raw, f"info-{name}.txt"))
        with open(os.path.join(raw, f"spec-{name}.txt")) as f:
            self.spec = f.read().strip()
        nf = forecast_layers(self.spec)
        observe, forecast = (rows[:-nf], rows[-nf:]) if nf else (rows, [])
        self.macs = {"step": sum(r[3] for r in observe)}
        # A single-phase step reads all the packed weights; a two-phase model reads each
        # phase's own (counted from its parameters, 4 bytes each).
        self.weight_bytes = {"step": total_weights if not nf else
                             4 * sum(r[2] for r in observe)}
        if nf:
            self.macs["forecast_frame"] = sum(r[3] for r in forecast)
            self.weight_bytes["forecast_frame"] = 4 * sum(r[2] for r in forecast)
        self.total_weights = total_weights


def fmt_us(v):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if v < 10:
        return f"{v:.2f}"
    if v < 1000:
        return f"{v:.1f}"
    return f"{v:,.0f}"


def fmt_ratio(peer, reel):
    if isinstance(peer, str) or isinstance(reel, str) or peer is None or reel is None:
        return "-"
    return f"{peer / reel:.2f}x"


def fmt_bytes(n):
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} B"


def level_of(nbytes, meta):
    for name, key in (("L1", "l1d"), ("L2", "l2"), ("L3", "l3")):
        if nbytes <= int(meta[key]):
            return name
    return "DRAM"


def streams_section(w, meta, models, reel, best, torch_recs, dnnl, peak):
    """The many-streams table and its targets: N streams through m_step_many against N m_step
    calls, oneDNN's primitives at batch N and PyTorch at batch N, as frames per second."""
    counts = [int(n) for n in meta.get("streams", "").split() if n.isdigit()]
    names = [m for m in meta.get("stream_models", "").split() if m in models]
    if not counts or not names or best != "avx2":
        return

    def rec(name, what, n):
        r = reel["avx2"].get((name, f"{what}:{n}"), {})
        return r.get("median_us")

    def torch_rec(name, n, what="streams"):
        for r in torch_recs or []:
            if r.get("what") == what and r.get("streams") == n and name in (r.get("model"),
                                                                            r.get("cell")):
                return r.get("median_us")
        return None

    def dnnl_batch(which, name, n):
        rs = [r for r in (dnnl[which] or []) if r.get("what") == "batch" and
              r.get("cell") == name and r.get("batch") == n and "median_us" in r]
        return rs[0]["median_us"] if rs else None

    def fps(n, us):
        return n / (us * 1e-6) if us else None

    def x(a, b):
        return f"{a / b:.2f}x" if a and b else "n/a"

    w("## Many streams")
    w("")
    w("N streams of one model, each with its own context, advance one frame per call: reel's "
      "`m_step_many` (the dense LSTM, GRU and linear layers read their weights once per batch "
      "of streams; other layers run stream by stream) against N `m_step` calls, oneDNN's RNN "
      "primitive (the cells; convlstm64: its gate conv alone, N images, preferred layout) and "
      "PyTorch with batch N (one thread; convlstm64's conv also through `torch.utils.mkldnn`, "
      "whichever is faster). Frames per second per core = N / median time of a call; the "
      "ratios are reel's frames/s over the peer's. % FMA peak counts the model's MACs "
      "(direct-conv terms) per frame.")
    w("")
    w("| model | N | step_many us | frames/s | vs N = 1 | % FMA peak | vs N m_step | "
      "vs oneDNN AVX2 | vs oneDNN native | vs PyTorch |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    summary = {}
    for name in names:
        one = fps(1, rec(name, "step_many", 1))
        for n in counts:
            us = rec(name, "step_many", n)
            f = fps(n, us)
            if f is None:
                w(f"| {name} | {n} | n/a | | | | | | | |")
                continue
            pct = 100 * 2.0 * models[name].macs["step"] * f / (peak * 1e9)
            each = fps(n, rec(name, "step_each", n))
            da, dn = (fps(n, dnnl_batch(k, name, n)) for k in ("avx2", "native"))
            tp = [fps(n, torch_rec(name, n))]
            if name == "convlstm64":  # the conv alone through mkldnn: a lower bound on the cell
                tp.append(fps(n, torch_rec(name, n, "streams_conv_mkldnn")))
            tp = max((t for t in tp if t), default=None)
            summary[(name, n)] = dict(fps=f, one=one, pct=pct, each=each, da=da, dn=dn, tp=tp)
            w(f"| {name} | {n} | {fmt_us(us)} | {f:,.0f} | {x(f, one)} | {pct:.1f}% | "
              f"{x(f, each)} | {x(f, da)} | {x(f, dn)} | {x(f, tp)} |")
    w("")
    w("| target | measured | verdict | why |")
    w("|---|---|---|---|")

    def row(target, value, goal, why=""):
        if value is None:
            w(f"| {target} | not measured | - | |")
        elif value >= goal:
            w(f"| {target} | {value:.2f} | met | |")
        else:
            w(f"| {target} | {value:.2f} | missed by {goal - value:.2f} | {why} |")

    def peer_pct(name, n, key):
        """The peer's % of the FMA peak, from its frames/s."""
        f = get(name, n, key)
        return 100 * 2.0 * models[name].macs["step"] * f / (peak * 1e9) if f else None

    def get(name, n, key, over=None):
        s = summary.get((name, n))
        if not s or not s.get(key) or (over and not s.get(over)):
            return None
        return s[key] / s[over] if over else s[key]

    for cell in ("lstm512", "gru512"):
        if cell not in names:
            continue
        one_pct = get(cell, 1, "pct") if 1 in counts else None
        if 16 in counts:
            why = (f"one stream already runs at {one_pct:.0f}% of the FMA peak (its weights stay "
                   f"in this machine's L3, not DRAM), so no number of streams can be more than "
                   f"{100 / one_pct:.1f}x faster per frame" if one_pct else "")
            row(f"{cell}: frames/s at N = 16 over N = 1 >= 4.5x", get(cell, 16, "fps", "one"), 4.5,
                why)
        if 64 in counts:
            p16 = get(cell, 16, "pct") if 16 in counts else None
            row(f"{cell}: % FMA peak at N = 64 >= 80", get(cell, 64, "pct"), 80.0,
                (f"{p16:.0f}% at N = 16 as well: the tile sets the rate, not the stream count "
                 f"(a GRU tile feeds 9 FMAs per 3 weight and 3 broadcast loads, an LSTM tile "
                 f"12 per 4 and 3), and the gate math runs outside the FMA sweeps")
                if p16 else "")
        for n in counts:
            pct, dpct = get(cell, n, "pct"), peer_pct(cell, n, "da")
            why = (f"reel at {pct:.0f}% of the AVX2 FMA peak, oneDNN at {dpct:.0f}%"
                   if pct and dpct else "")
            row(f"{cell}: N = {n}, over oneDNN AVX2's RNN primitive >= {1.1 if n <= 16 else 1.0}x",
                get(cell, n, "fps", "da"), 1.1 if n <= 16 else 1.0, why)
        for n in counts:
            row(f"{cell}: N = {n}, over PyTorch >= 3x", get(cell, n, "fps", "tp"), 3.0)
    for name in names:
        if name not in ("lstm512", "gru512") and 16 in counts:
            pct = get(name, 1, "pct") if 1 in counts else None
            if pct and pct > 100:  # Winograd F(2x2, 3x3): 2.25x fewer FMAs than direct
                why = (f"one stream runs at {pct:.0f}% of the FMA peak in direct-conv terms, "
                       f"{pct / 2.25:.0f}% of its Winograd F(2x2, 3x3) bound: one filter pass "
                       f"for N images cannot cut its FMAs, only raise that share: "
                       f"{225 / pct:.2f}x if the whole step, gate math included, ran at the peak")
            else:
                why = ("its conv filters stay in L1 and each is reused over every output of "
                       "its map, so one filter pass for N images adds no reuse; it runs at "
                       + (f"{pct:.0f}% of the FMA peak (direct-conv terms) " if pct else "")
                       + "for its memory passes (pools, conv epilogues) and its short first-"
                       "conv sums, which batching does not change")
            row(f"{name}: N = 16, over 16 separate m_step >= 1.2x", get(name, 16, "fps", "each"),
                1.2, why)
    w("")


def conv_tables(raw):
    """(shapes, reel's time by one-layer model, the peers' times by shape key: "da" oneDNN
    AVX2, "dn" oneDNN native, "xn" XNNPACK); shapes is empty when the run timed none."""
    shapes = read_jsonl(os.path.join(raw, "conv-shapes.jsonl"))
    reel = {r["model"]: r for r in read_rounds(raw, "reel-convs") or [] if "median_us" in r}
    peers = {name: {r["key"]: r["median_us"] for r in read_rounds(raw, stem) or []
                    if r.get("what") == "conv" and "median_us" in r}
             for name, stem in (("da", "onednn-convs-avx2"), ("dn", "onednn-convs"),
                                ("xn", "xnnpack-convs"))}
    return shapes, reel, peers


def resnet_conv_sums(raw):
    """lrcn_resnet18's convolutions, each layer at its shape's time, summed per frame (us):
    {"reel", "da", "dn", "xn"} -> the sum, or None where a shape of it was not timed."""
    shapes, reel, peers = conv_tables(raw)
    sums = {k: 0.0 for k in ("reel", "da", "dn", "xn")}
    for sh in shapes:
        n = sum(1 for l in sh["layers"] if l.startswith("lrcn_resnet18:"))
        if not n:
            continue
        times = {"reel": reel.get(sh["model"], {}).get("median_us"),
                 **{k: peers[k].get(sh["key"]) for k in ("da", "dn", "xn")}}
        for k, v in times.items():
            sums[k] = None if sums[k] is None or not v else sums[k] + n * v
    return sums if any(sh for sh in shapes if any(
        l.startswith("lrcn_resnet18:") for l in sh["layers"])) else None


def convs_section(w, raw, peak):
    """Every distinct convolution of the specs, alone: reel (its avx2 kernel, as a one-layer
    model) next to oneDNN and XNNPACK on the same shape, one image, one thread."""
    shapes, reel, peers = conv_tables(raw)
    if not shapes:
        return

    def us(v):
        return fmt_us(v) if v else "n/a"

    def x(peer, mine):
        return f"{peer / mine:.2f}x" if peer and mine else "n/a"

    w("## Convolutions by shape")
    w("")
    w("Each distinct convolution of the specs' per-frame chains (ConvLSTM and ConvGRU gate "
      "convs included), timed alone, one image, one thread: reel as a one-layer model "
      "(`--target avx2`, its step: the conv plus copying the output out), oneDNN 2.6 with "
      "its own choice of algorithm and blocked layouts (AVX2 and native ISA), XNNPACK "
      "(NHWC, native ISA: it has no AVX2 cap). Shape: C x H x W -> O, kernel, stride, "
      "padding (top, bottom, left, right), groups when not 1. % FMA peak counts the direct "
      "conv's MACs, so Winograd (W) can pass 100%; I marks the implicit-GEMM kernel. Ratios: peer time / reel time, above 1x "
      "reel is faster.")
    w("")
    w("| # | shape | layers | MMAC | reel us | % FMA peak | oneDNN AVX2 us | vs oneDNN AVX2 "
      "| oneDNN native us | vs native | XNNPACK us | vs XNNPACK |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for sh in shapes:
        r = reel.get(sh["model"], {}).get("median_us")
        da, dn, xn = (peers[k].get(sh["key"]) for k in ("da", "dn", "xn"))
        c, h, wd = sh["in"]
        geo = (f"{c}x{h}x{wd} -> {sh['out'][0]}, {sh['kernel'][0]}x{sh['kernel'][1]}"
               f"/{sh['stride'][0]}, pad {','.join(map(str, sh['padding']))}"
               + (f", groups {sh['groups']}" if sh["groups"] > 1 else "")
               + (f", dilation {sh['dilation'][0]}" if max(sh["dilation"]) > 1 else ""))
        layers = sh["layers"]
        shown = ", ".join(layers[:3]) + (f" (+{len(layers) - 3})" if len(layers) > 3 else "")
        pct = 100 * 2.0 * sh["macs"] / (r * 1e-6) / (peak * 1e9) if r else None
        w(f"| {sh['index']} | {geo} | {shown} | {sh['macs'] / 1e6:.2f} | "
          f"{us(r)}{ALGORITHM_MARK.get(sh['algorithm'], '')} | {f'{pct:.0f}%' if pct else 'n/a'} | "
          f"{us(da)} | {x(da, r)} | {us(dn)} | {x(dn, r)} | {us(xn)} | {x(xn, r)} |")
    w("")
    totals = resnet_conv_sums(raw)
    if totals:
        def tot(k):
            return f"{totals[k] / 1000:.2f} ms" if totals[k] else "n/a"
        w(f"lrcn_resnet18's convolutions, each layer at its shape's time, summed: reel "
          f"{tot('reel')}, oneDNN AVX2 {tot('da')}, oneDNN native {tot('dn')}, XNNPACK "
          f"{tot('xn')} per frame.")
        w("")


def main():
    raw = sys.argv[1] if len(sys.argv) > 1 else "bench/build/raw"
    meta = read_meta(raw)
    targets = meta["targets"].split()
    best = "avx2" if "avx2" in targets else "generic"

    fma = read_jsonl(os.path.join(raw, "fma.jsonl"))[0]
    peak = fma["gflops"]
    bw = {r["label"]: r for r in read_jsonl(os.path.join(raw, "bandwidth.jsonl"))}

    # reel[target][(model, what)] = record (or {"error": ...})
    reel = {}
    wtargets = meta.get("weight_targets", "").split()
    for t in ("generic", "avx2", *wtargets):
        recs = read_rounds(raw, f"reel-{t}") or []
        reel[t] = {}
        for r in recs:
            what = r.get("what", "step")
            if what in ("step_many", "step_each"):  # one per stream count
                what = f"{what}:{r['streams']}"
            reel[t][(r["model"], what)] = r
    torch_recs = read_rounds(raw, "torch")
    torch_isa = {"native": torch_recs, "avx2": read_rounds(raw, "torch-avx2")}
    dnnl = {"native": read_rounds(raw, "onednn"), "avx2": read_rounds(raw, "onednn-avx2")}

    models = {}
    for path in sorted(glob.glob(os.path.join(raw, "info-*.txt"))):
        name = os.path.basename(path)[5:-4]
        models[name] = Model(raw, name)

    def reel_us(t, name, what):
        if t not in targets:
            return "n/a (no avx2 target)" if t == "avx2" else "n/a"
        r = reel[t].get((name, what))
        if r is None:
            return "n/a"
        return r["median_us"] if "error" not in r else f"failed ({r['error']})"

    def torch_rec(name, what, key="model", isa="native"):
        """PyTorch's fastest path (default or oneDNN's) for it, or a reason as a string."""
        if meta.get("have_torch") != "1":
            return NA_MISSING
        if torch_isa[isa] is None:
            return "n/a (failed)" if isa == "native" or torch_recs is None else "n/a"
        recs = [r for r in torch_isa[isa] if r.get(key) == name and r.get("what") == what and
                "median_us" in r]
        return min(recs, key=lambda r: r["median_us"]) if recs else "n/a"

    def torch_us(name, what, key="model", isa="native"):
        r = torch_rec(name, what, key, isa)
        return r if isinstance(r, str) else r["median_us"]

    def dnnl_rec(which, cell, layout=None):
        if meta.get("have_onednn") != "1":
            return None
        for r in dnnl[which] or []:
            if r.get("cell") == cell and r.get("what") != "batch" and \
                    (layout is None or r.get("layout") == layout):
                return r
        return None

    def dnnl_us(which, cell, layout=None):
        if meta.get("have_onednn") != "1":
            return NA_MISSING
        r = dnnl_rec(which, cell, layout)
        return r["median_us"] if r else "n/a (failed)"

    def uses_winograd(t, name):
        """Whether the generated C of this run calls the Winograd conv."""
        path = os.path.join(raw, "..", t, name, f"{name}.c")
        if not os.path.exists(path):
            return False
        with open(path) as f:
            return "reel_f32_conv2d_winograd_avx2(" in f.read()

    def derived(name, what, us):
        """(GFLOP/s, % FMA peak, % BW roofline, level) for a reel time in us."""
        m = models[name]
        if isinstance(us, str) or us is None:
            return "-", "-", "-", "-"
        flops = 2.0 * m.macs[what]
        wbytes = m.weight_bytes[what]
        gflops = flops / (us * 1e-6) * 1e-9
        label = f"weights:{name}"
        bw_gbs = bw[label]["gbs"] if label in bw and what == "step" else None
        if bw_gbs is None:  # forecast phase: the level's bandwidth
            bw_gbs = bw[level_of(wbytes, meta)]["gbs"]
        t_mem = wbytes / (bw_gbs * 1e9) * 1e6
        t_comp = flops / (peak * 1e9) * 1e6
        level = level_of(wbytes, meta)
        pct_bw = f"{100 * t_mem / us:.0f}%" if t_mem > t_comp else "compute-bound"
        return f"{gflops:.2f}", f"{100 * gflops / peak:.1f}%", pct_bw, level

    def roofline_pct(name, us):
        """A step's time at the roofline (the longer of reading its weights at the bandwidth
        measured on a buffer of their size, and its FMAs at the peak) over its time, in %."""
        if isinstance(us, str) or us is None or f"weights:{name}" not in bw:
            return None
        m = models[name]
        t_mem = m.weight_bytes["step"] / (bw[f"weights:{name}"]["gbs"] * 1e9) * 1e6
        t_comp = 2.0 * m.macs["step"] / (peak * 1e9) * 1e6
        return 100 * max(t_mem, t_comp) / us

    out = []
    w = out.append
    cpu = meta["cpu_model"]
    w("# reel benchmark results")
    w("")
    w(f"Written by `make bench` (bench/run.sh) on {meta['date']}. Every number below is from "
      f"this machine, one core (`taskset -c {meta['pinned_cpu'] or '(unpinned)'}`), one thread, "
      f"batch 1, float32; times are the **median** per step over many steps after a warm-up "
      f"(about {meta['seconds']} s of timed steps per measurement; p10/p90 at the end). "
      f"Every reel, PyTorch and oneDNN measurement ran in {meta['rounds']} rounds, one after "
      f"the other, and each shows its best round's median: slow phases of a shared machine "
      f"then fall on reel and the peers alike (reel's generic target: one round).")
    w("")
    busy = re.search(rf"\bcpu{meta['pinned_cpu']} (\d+)%", meta["busy_before"])
    if busy and int(busy.group(1)) > 10:
        w(f"**Warning: the pinned core was {busy.group(1)}% busy with other work just before "
          f"the timings** (see \"CPU busy\" below): the medians of long steps, the FMA median "
          f"and the p90s are inflated; short steps and the best-of-repetitions peak and "
          f"bandwidths are the least affected. Rerun on a quiet machine for clean numbers.")
        w("")
    w("## Machine")
    w("")
    w("| | |")
    w("|---|---|")
    w(f"| CPU | {cpu} ({meta['cpus']} logical CPUs; under a hypervisor: {meta['hypervisor']}; "
      f"AVX-512: {meta['avx512']}) |")
    w(f"| caches (core {meta['pinned_cpu'] or '?'}) | L1d {fmt_bytes(int(meta['l1d']))}, "
      f"L2 {fmt_bytes(int(meta['l2']))}, L3 {fmt_bytes(int(meta['l3']))} |")
    w(f"| kernel | {meta['kernel']} |")
    w(f"| C compiler | {meta['cc']} |")
    w(f"| generated models built with | generic: `{meta['cflags_generic']}`; "
      f"avx2: `{meta['cflags_avx2']}` |")
    w(f"| FMA / bandwidth loops built with | `{meta['micro_cflags']}` |")
    w(f"| reelc | {meta['reelc']}; targets: {', '.join(targets)}"
      f"{'' if 'avx2' in targets else ' (`--target avx2` rejected: generic only)'} |")
    tv = next((r for r in torch_recs or [] if r.get("what") == "version"), None)
    w("| PyTorch | " + (f"{tv['version']} (Debian python3-torch), {tv['threads']} thread, "
                         f"ATen CPU capability {tv['cpu_capability']}, no_grad"
                         if tv else NA_MISSING) + " |")
    dv = {k: next((r for r in v or [] if r.get("what") == "version"), None)
          for k, v in dnnl.items()}
    w("| oneDNN | " + (f"{dv['native']['version']} (Debian libdnnl-dev, C API, OpenMP, "
                        f"OMP_NUM_THREADS=1); ISA {dv['native']['isa']} by default, "
                        f"{dv['avx2']['isa'] if dv['avx2'] else '?'} with DNNL_MAX_CPU_ISA=AVX2"
                        if dv["native"] else NA_MISSING) + " |")
    w(f"| CPU busy over 1 s (all processes) | before the timings: {meta.get('busy_before', '?')}; "
      f"after: {meta.get('busy_after', '?')} |")
    w("")
    w("### Peak and bandwidth, measured by the harness")
    w("")
    w(f"FP32 FMA peak, AVX2 (`bench/fma_peak.c`, 12 independent ymm FMA chains): "
      f"**{peak:.1f} GFLOP/s** (best of {fma['reps']} repetitions; median "
      f"{fma['median_gflops']:.1f})." +
      (f" Core clock estimated at {fma['clock_ghz']:.2f} GHz (a dependent imul chain): two "
       f"256-bit FMA pipes would give 32 flops/cycle = {32 * fma['clock_ghz']:.1f} GFLOP/s."
       if fma.get("clock_ghz") else ""))
    w("")
    w("Streaming read bandwidth (`bench/bandwidth.c`, 32-byte loads, best of the repetitions), "
      "read three ways: front to back (plain), with software prefetch, and alternating front "
      "to back with back to front (each pass starts on what the last one left in the caches, "
      "as reel's LSTM/GRU steps do). The best way is the roofline:")
    w("")
    w("| buffer | size | GB/s (best) | GB/s (median) | best way | plain | prefetch | alternate |")
    w("|---|---|---|---|---|---|---|---|")

    def bw_row(name, r):
        ways = " | ".join(f"{r[k]:.1f}" if k in r else "-"
                          for k in ("plain_gbs", "prefetch_gbs", "alternate_gbs"))
        w(f"| {name} | {fmt_bytes(r['bytes'])} | {r['gbs']:.1f} | {r['median_gbs']:.1f} "
          f"| {r.get('mode', '-')} | {ways} |")
    for label in ("L1", "L2", "L3", "DRAM"):
        if label in bw:
            bw_row(label, bw[label])
    for label, r in bw.items():
        if label.startswith("weights:"):
            bw_row(f"{label.split(':', 1)[1]}'s weights ({level_of(r['bytes'], meta)})", r)
    w("")

    # ---- the targets -------------------------------------------------------------------------
    w("## Targets")
    w("")
    w(f"Each target of the fast path, checked against this run's numbers (reel's **{best}** "
      f"target). A miss states the gap; where the run shows why, so does the last column.")
    w("")
    w("| target | measured | verdict | why |")
    w("|---|---|---|---|")
    native_isa = dv["native"]["isa"] if dv.get("native") else ""
    wide = "avx512" in native_isa

    def ratio(peer, mine):
        ok = not isinstance(peer, str) and not isinstance(mine, str) and peer and mine
        return peer / mine if ok else None

    def verdict(value, goal, fmt):
        if value is None:
            return "-", "not measured"
        return fmt(value), "met" if value >= goal else f"missed by {fmt(goal - value)}"

    for cell in ("lstm512", "gru512"):
        if cell not in models:
            continue
        r = reel_us(best, cell, "step")
        pb = derived(cell, "step", r)[2]
        pct = float(pb[:-1]) if pb.endswith("%") else None
        m, v = verdict(pct, 90.0, lambda x: f"{x:.0f}%")
        v = re.sub(r"^(missed by )1%$", r"\g<1>1 point", v).replace("%", " points")
        why = ""
        rec = reel[best].get((cell, "step"), {})
        if v != "met" and "p10_us" in rec:
            p10 = derived(cell, "step", rec["p10_us"])[2]
            why = (f"the step time varies with the shared machine's memory traffic: its "
                   f"fastest tenth of steps ({fmt_us(rec['p10_us'])} us) reach {p10} of the "
                   f"roofline")
            bwrec = bw.get(f"weights:{cell}")
            if bwrec and not isinstance(r, str):  # the roofline is the loop's best rep
                t_med = models[cell].weight_bytes["step"] / (bwrec["median_gbs"] * 1e9) * 1e6
                why += (f"; the median step is at {100 * t_med / r:.0f}% of the read loop's "
                        f"median rate on that buffer ({bwrec['median_gbs']:.1f} GB/s)")
        w(f"| {cell}: >= 90% of the weight-bandwidth roofline | {m} | {v} | {why} |")
        for which, label in (("avx2", "oneDNN AVX2"), ("native", "oneDNN native")):
            x = ratio(dnnl_us(which, cell), r)
            m, v = verdict(x, 1.05, lambda y: f"{y:.2f}x")
            why = ""
            if v != "met" and x is not None and pct is not None:
                why = (f"reel is at {pct:.0f}% of the bandwidth roofline: only fewer weight "
                       f"bytes could go faster")
            w(f"| {cell}: >= 1.05x faster than {label}'s RNN primitive | {m} | {v} | {why} |")
        x = ratio(torch_us(cell, "cell", key="cell"), r)
        m, v = verdict(x, 5.0, lambda y: f"{y:.2f}x")
        why = ""
        if v != "met" and x is not None and pct is not None:
            why = f"reel is at {pct:.0f}% of the bandwidth roofline: the gap is PyTorch's speed"
        w(f"| {cell}: >= 5x faster than PyTorch | {m} | {v} | {why} |")
    for cell in ("lstm64", "gru64", "lstm32"):  # small cells: weights in L1 or L2
        if cell not in models:
            continue
        r = reel_us(best, cell, "step")
        pct = roofline_pct(cell, r)
        m, v = verdict(pct, 80.0, lambda x: f"{x:.0f}%")
        v = re.sub(r"^(missed by )1%$", r"\g<1>1 point", v).replace("%", " points")
        why = ""
        if v != "met" and pct is not None:
            why = (f"{fmt_us(r)} us a step: past the weights' {fmt_bytes(models[cell].weight_bytes['step'])} "
                   f"({level_of(models[cell].weight_bytes['step'], meta)}), the step's fixed costs (the "
                   f"gates' sigmoid and tanh, the call) are a large share at this size")
        w(f"| {cell}: a step >= 80% of its roofline (the weights' read from "
          f"{level_of(models[cell].weight_bytes['step'], meta)} or the FMAs, the longer) | {m} | {v} | "
          f"{why} |")
    if "convlstm64" in models:
        r = reel_us(best, "convlstm64", "step")
        pp = derived("convlstm64", "step", r)[1]
        pct = float(pp[:-1]) if pp.endswith("%") else None
        why = ""
        if pct is not None and uses_winograd(best, "convlstm64"):
            # the gate conv is nearly all the MACs; Winograd F(2x2, 3x3) executes 16 of 36
            why = (f"the gate conv runs as Winograd F(2x2, 3x3), which executes 16/36 of the "
                   f"direct conv's FMAs: {pct:.0f}% of the peak in direct-conv terms, "
                   f"{pct * 16 / 36:.0f}% in FMAs executed (its transforms are adds and "
                   f"shuffles)")
            pct = pct * 16 / 36
        m, v = verdict(pct, 80.0, lambda x: f"{x:.1f}%")
        v = re.sub(r"^(missed by )1%$", r"\g<1>1 point", v).replace("%", " points")
        w(f"| convlstm64: >= 80% of the FMA peak on the taps actually computed (the whole step, "
          f"gates included) | {m} | {v} | {why} |")
        for which, label in (("avx2", "oneDNN AVX2"), ("native", "oneDNN native")):
            x = ratio(dnnl_us(which, "convlstm64", "any"), r)
            m, v = verdict(x, 1.0, lambda y: f"{y:.2f}x")
            why = ""
            if v != "met" and which == "native" and wide:
                why = (f"oneDNN runs {native_isa} here: 16-lane FMAs, twice the width of "
                       f"reel's AVX2 target and of the peak above")
            w(f"| convlstm64: the whole step faster than {label}'s conv alone | {m} | {v} | "
              f"{why} |")
        x = ratio(torch_us("convlstm64", "cell", key="cell"), r)
        m, v = verdict(x, 1.0, lambda y: f"{y:.2f}x")
        why = ""
        if v != "met" and x is not None:
            tc = torch_us("convlstm64", "conv_only", key="cell")
            flops = 2.0 * models["convlstm64"].macs["step"]
            if not isinstance(tc, str) and flops / (tc * 1e-6) * 1e-9 > peak:
                why = (f"PyTorch's conv alone runs at {flops / (tc * 1e-6) * 1e-9:.0f} GFLOP/s, "
                       f"above the AVX2 FMA peak: its oneDNN backend uses {native_isa or 'wider vectors'}")
        w(f"| convlstm64: faster than PyTorch (not a target: a benchmark cell, not a spec) "
          f"| {m} | {v} | {why} |")
    if "lrcn_resnet18" in models:
        r = reel_us(best, "lrcn_resnet18", "step")
        for isa, label in (("avx2", "capped at AVX2"), ("native", "native")):
            rec = torch_rec("lrcn_resnet18", "step", isa=isa)
            x = ratio(rec["median_us"], r) if not isinstance(rec, str) else None
            goal = 1.15 if isa == "avx2" else 1.0
            m, v = verdict(x, goal, lambda y: f"{y:.2f}x")
            path = rec.get("path", "default") if not isinstance(rec, str) else ""
            why = f"PyTorch's fastest path here: {path}" if path else ""
            if v != "met" and isa == "native" and wide:
                why += (f"; its oneDNN runs {native_isa}: 16-lane FMAs, twice the width of "
                        f"reel's AVX2 target")
            w(f"| lrcn_resnet18: a frame >= {goal}x faster than PyTorch's fastest path "
              f"({label}){' (not a target)' if isa == 'native' else ''} | {m} | {v} | {why} |")
        xb = next((x["median_us"] for x in read_rounds(raw, "xnnpack-resnet18") or []
                   if "median_us" in x), None)
        m, v = verdict(ratio(xb, r), 1.15, lambda y: f"{y:.2f}x")
        sums = resnet_conv_sums(raw)
        why = (f"XNNPACK runs its native ISA{' (' + native_isa + ')' if wide else ''}; it has "
               f"no AVX2 cap")
        if sums and sums["xn"] and sums["reel"]:
            why += (f"; the backbone's convs timed alone by both and summed: reel "
                    f"{sums['reel'] / 1000:.2f} ms, XNNPACK {sums['xn'] / 1000:.2f} ms")
        w(f"| lrcn_resnet18: a frame (the whole step) >= 1.15x faster than XNNPACK's backbone "
          f"alone (its convs, max pool, adds and average pool) | {m} | {v} | {why} |")
        pp = derived("lrcn_resnet18", "step", r)[1]
        pct = float(pp[:-1]) if pp.endswith("%") else None
        m, v = verdict(pct, 85.0, lambda x: f"{x:.0f}%")
        v = re.sub(r"^(missed by )1%$", r"\g<1>1 point", v).replace("%", " points")
        w(f"| lrcn_resnet18: the whole step >= 85% of the FMA peak in direct-conv terms | {m} | "
          f"{v} | the step streams {fmt_bytes(models['lrcn_resnet18'].weight_bytes['step'])} of "
          f"weights a frame |")
    for isa, label in (("avx2", "capped at AVX2"), ("native", "native")):
        slowest = None
        for name, mdl in models.items():
            if not mdl.spec.startswith("specs/"):
                continue
            for what in mdl.macs:
                x = ratio(torch_us(name, what, isa=isa), reel_us(best, name, what))
                if x is not None and (slowest is None or x < slowest[0]):
                    slowest = (x, f"`{mdl.spec}` {what}")
        if slowest:
            v = "met" if slowest[0] > 1.0 else f"missed by {1.0 - slowest[0]:.2f}x"
            w(f"| every spec in specs/ faster per frame than PyTorch's fastest path ({label})"
              f"{' (not a target)' if isa == 'native' else ''} | slowest: {slowest[1]}, "
              f"{slowest[0]:.2f}x | {v} | |")
    compressed = {}  # (cell, type) -> (speed-up over float32, weight bytes ratio)
    for cell in ("lstm512", "gru512"):
        for wt in ("int8", "bf16"):
            if f"avx2-{wt}" not in wtargets or cell not in models:
                continue
            rec = reel[f"avx2-{wt}"].get((cell, "step"), {})
            f32 = reel_us("avx2", cell, "step")
            x = ratio(f32, rec.get("median_us")) if "error" not in rec else None
            info = os.path.join(raw, f"typed-info-{cell}-{wt}.txt")
            wb = parse_info(info)[1] if os.path.exists(info) else None
            compressed[(cell, wt)] = (x, models[cell].total_weights / wb if wb else None, rec)
            goal, bytes_goal = (2.5, 3.9) if wt == "int8" else (1.6, 2.0)
            m, v = verdict(x, goal, lambda y: f"{y:.2f}x")
            w(f"| {cell}: the step with {wt} weights >= {goal}x faster than with float32 "
              f"| {m} | {v} | |")
            m, v = verdict(compressed[(cell, wt)][1], bytes_goal * 0.995, lambda y: f"{y:.2f}x")
            w(f"| {cell}: {wt} weights {bytes_goal}x smaller (bytes packed) | {m} | {v} | |")
    w("| all goldens pass on `--target avx2` with the same tolerances | not timed here | "
      "`make test` (golden.test, oracle.test on both targets) | |")
    w("")

    # ---- many streams ------------------------------------------------------------------------
    streams_section(w, meta, models, reel, best, torch_recs, dnnl, peak)

    # ---- convolutions by shape ---------------------------------------------------------------
    convs_section(w, raw, peak)

    # ---- compressed weights ------------------------------------------------------------------
    if compressed:
        w("## Compressed weights")
        w("")
        w("The batch-1 recurrent cells built for avx2 with `--weight-type int8` (one float scale "
          "per row) and `bf16`: the same step reading a quarter or a half of the weight bytes, "
          "widened to float32 as they are loaded. Speed-up: the float32 step's median time over "
          "this one's.")
        w("")
        w("| cell | weights | bytes packed | step us (median) | p10..p90 us | speed-up over "
          "float32 | bytes vs float32 |")
        w("|---|---|---|---|---|---|---|")
        for cell in ("lstm512", "gru512"):
            if cell not in models:
                continue
            rec = reel["avx2"].get((cell, "step"), {})
            w(f"| {cell} | float32 | {fmt_bytes(models[cell].total_weights)} | "
              f"{fmt_us(rec.get('median_us', 'n/a'))} | {fmt_us(rec.get('p10_us', 'n/a'))}.."
              f"{fmt_us(rec.get('p90_us', 'n/a'))} | 1x | 1x |")
            for wt in ("int8", "bf16"):
                if (cell, wt) not in compressed:
                    continue
                x, br, rec = compressed[(cell, wt)]
                wb = models[cell].total_weights / br if br else None
                w(f"| {cell} | {wt} | {fmt_bytes(wb) if wb else 'n/a'} | "
                  f"{fmt_us(rec.get('median_us', 'n/a'))} | {fmt_us(rec.get('p10_us', 'n/a'))}.."
                  f"{fmt_us(rec.get('p90_us', 'n/a'))} | "
                  f"{f'{x:.2f}x' if x else 'n/a'} | {f'{br:.2f}x smaller' if br else 'n/a'} |")
        w("")

    # ---- the cells ---------------------------------------------------------------------------
    bl = f"reel {best}"
    w("## Cells")
    w("")
    w(f"GFLOP/s, % of the FMA peak and % of the bandwidth roofline are reel's, for its "
      f"**{best}** target{'' if best == 'avx2' else ' (no avx2 target in this reelc yet)'}. "
      f"Speed-ups are peer time / {bl} time: above 1x, reel is faster. \"oneDNN AVX2\" is "
      f"capped with DNNL_MAX_CPU_ISA=AVX2, like reel's kernels and the FMA peak above; "
      f"\"oneDNN native\" may use wider vectors, so it can pass 100% of that peak.")
    w("")
    w("| cell | reel generic us | reel avx2 us | PyTorch us | oneDNN AVX2 us | "
      "oneDNN native us | GFLOP/s | % FMA peak | weights | % BW roofline | "
      "speed-up vs PyTorch | vs oneDNN AVX2 | vs oneDNN native |")
    w("|---|" + "---|" * 12)
    for name, desc in CELLS:
        if name not in models:
            continue
        g = reel_us("generic", name, "step")
        a = reel_us("avx2", name, "step")
        r = a if best == "avx2" else g
        tu = torch_us(name, "cell", key="cell")
        layout = "any" if name == "convlstm64" else None
        da, dn = dnnl_us("avx2", name, layout), dnnl_us("native", name, layout)
        gf, pp, pb, _ = derived(name, "step", r)
        lvl = level_of(models[name].weight_bytes["step"], meta)
        mark = "*" if name == "convlstm64" and not isinstance(da, str) else ""
        w(f"| {name}: {desc} | {fmt_us(g)} | {fmt_us(a)} | {fmt_us(tu)} | {fmt_us(da)}{mark} | "
          f"{fmt_us(dn)}{mark} | {gf} | {pp} | {fmt_bytes(models[name].weight_bytes['step'])} "
          f"({lvl}) | {pb} | {fmt_ratio(tu, r)} | {fmt_ratio(da, r)} | {fmt_ratio(dn, r)} |")
    w("")
    notes = []
    if meta.get("have_onednn") == "1":
        na = dnnl_rec("avx2", "convlstm64", "nchw")
        nn_ = dnnl_rec("native", "convlstm64", "nchw")
        ia = dnnl_rec("avx2", "convlstm64", "any")
        inn = dnnl_rec("native", "convlstm64", "any")
        notes.append(
            "\\* oneDNN has no ConvLSTM: its convlstm64 time is the gate convolution alone "
            "(128->256, 3x3, pad 1, direct), without the gate math, with the layout the library "
            f"prefers for activations (`any`: {ia['impl'] if ia else '?'} / "
            f"{inn['impl'] if inn else '?'}). With plain NCHW activations, as reel's, it takes "
            f"{fmt_us(na['median_us'] if na else None)} us (AVX2, {na['impl'] if na else '?'}) / "
            f"{fmt_us(nn_['median_us'] if nn_ else None)} us (native, "
            f"{nn_['impl'] if nn_ else '?'}).")
        rnn = [dnnl_rec(k, c) for k in ("avx2", "native") for c in ("lstm512", "gru512")]
        if all(rnn):
            notes.append("oneDNN RNN implementations: LSTM " + rnn[0]["impl"] + " (AVX2) / " +
                         rnn[2]["impl"] + " (native); LBR GRU " + rnn[1]["impl"] + " / " +
                         rnn[3]["impl"] + ".")
    tc = torch_us("convlstm64", "conv_only", key="cell")
    if not isinstance(tc, str):
        notes.append(f"PyTorch's convlstm64 cell is reel_torch.nn's ConvLSTMCell (conv + "
                     f"gates); its conv alone takes {fmt_us(tc)} us. Its LSTM/GRU cells are "
                     f"bare nn.LSTM / nn.GRU modules stepped with their state.")
    for n in notes:
        w(n)
        w("")

    # ---- every spec --------------------------------------------------------------------------
    w("## Every spec")
    w("")
    w("Each spec compiled with `--random-weights 1` and timed one frame at a time with its state "
      "carried over (bench/time_model.c); PyTorch runs the same spec through tools/reference.py's "
      "`build_model`, stepped frame by frame (bench/torch_bench.py), two ways: its default "
      "path, and its oneDNN path where a spec has convs it takes (batch norms folded into the "
      "convs before them, `torch.utils.mkldnn` convs on mkldnn tensors); each PyTorch column "
      "shows the faster, marked (oneDNN) when that is the oneDNN path. PyTorch AVX2: ATen "
      "and oneDNN capped at AVX2 (`ATEN_CPU_CAPABILITY=avx2 DNNL_MAX_CPU_ISA=AVX2`) like "
      "reel's kernels; native: their own choice. Forecasters also time `m_forecast`, per "
      "predicted frame.")
    w("")
    w("| spec | phase | MACs | weights | reel generic us | reel avx2 us | PyTorch AVX2 us | "
      "PyTorch native us | GFLOP/s | % FMA peak | % BW roofline | vs PyTorch AVX2 | "
      "vs PyTorch native |")
    w("|---|" + "---|" * 12)
    for name, m in sorted(models.items(), key=lambda kv: (kv[1].spec.startswith("bench/"),
                                                          kv[0])):
        for what in m.macs:
            g = reel_us("generic", name, what)
            a = reel_us("avx2", name, what)
            r = a if best == "avx2" else g
            ta, tn = (torch_rec(name, what, isa=i) for i in ("avx2", "native"))
            clipped = any(x.get("model") == name and x.get("clip_frames")
                          for x in torch_recs or [])

            def shown(rec):
                if isinstance(rec, str):
                    return rec
                return (fmt_us(rec["median_us"]) + (" *" if clipped else "") +
                        (" (oneDNN)" if rec.get("path") == "mkldnn" else ""))

            tua, tun = (t if isinstance(t, str) else t["median_us"] for t in (ta, tn))
            gf, pp, pb, _ = derived(name, what, r)
            lvl = level_of(m.weight_bytes[what], meta)
            phase = "step" if what == "step" else "forecast, per frame"
            w(f"| `{m.spec}` | {phase} | {m.macs[what] / 1e6:,.2f} M | "
              f"{fmt_bytes(m.weight_bytes[what])} ({lvl}) | {fmt_us(g)} | {fmt_us(a)} | "
              f"{shown(ta)} | {shown(tn)} | {gf} | {pp} | {pb} | "
              f"{fmt_ratio(tua, r)} | {fmt_ratio(tun, r)} |")
    w("")
    wino = sorted(n for n in models if uses_winograd(best, n))
    if wino:
        w("GFLOP/s and % FMA peak count direct-convolution MACs (`reelc info`). " +
          ", ".join(wino) + " run some 3x3 convs as Winograd F(2x2, 3x3), which executes 16 "
          "of every 36 of those FMAs, so their rates are direct-conv equivalents and can pass "
          "100%.")
        w("")
    w("\\* PyTorch cannot step these one frame at a time through `build_model` (attention, "
      "windows, temporal pools): its time is a whole clip of 16 frames through "
      "`reference.run_all`, divided by 16. That batches the per-frame layers over the clip, "
      "which favours PyTorch.")
    w("")

    # ---- raw ---------------------------------------------------------------------------------
    w("## All measurements")
    w("")
    w("| what | median us | p10 us | p90 us | timed steps |")
    w("|---|---|---|---|---|")
    for t in targets:
        for (name, what), r in sorted(reel[t].items()):
            if "error" in r:
                w(f"| reel {t} {name} {what} | {r['error']} | | | |")
            else:
                w(f"| reel {t} {name} {what} | {fmt_us(r['median_us'])} | {fmt_us(r['p10_us'])} "
                  f"| {fmt_us(r['p90_us'])} | {r['steps']} |")
    for isa, recs in torch_isa.items():
        for r in recs or []:
            if "median_us" in r:
                label = r.get("model") or r.get("cell")
                path = " oneDNN path" if r.get("path") == "mkldnn" else ""
                w(f"| PyTorch {isa}{path} {label} {r['what']} | {fmt_us(r['median_us'])} | "
                  f"{fmt_us(r['p10_us'])} | {fmt_us(r['p90_us'])} | {r['steps']} |")
    for k, recs in dnnl.items():
        for r in recs or []:
            if "median_us" in r:
                w(f"| oneDNN {k} {r['cell']} ({r['layout']}, {r['impl']}) | "
                  f"{fmt_us(r['median_us'])} | {fmt_us(r['p10_us'])} | {fmt_us(r['p90_us'])} "
                  f"| {r['steps']} |")
    w("")
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
