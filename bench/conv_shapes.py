"""The distinct convolutions of the per-frame chains of some specs, for the per-shape bench.

    python3 bench/conv_shapes.py REELC OUT_DIR SPEC...

Asks `REELC info --json` for each spec's convolutions (the "convs" list: every conv2d call
the per-frame chain makes, ConvLSTM and ConvGRU gate convs included), and writes to OUT_DIR:
  shapes.jsonl    one line per distinct shape: its key (the argument the peers' benchmarks
                  take), geometry, MACs per frame, the algorithm reel runs it with, and
                  the spec layers that have it
  conv_<i>.yaml   a one-layer reel spec with that convolution, which bench/run.sh times
                  with bench/time_model.c as reel's figure for the shape

A shape's key is C,H,W,O,kh,kw,sh,sw,dh,dw,pad_top,pad_bottom,pad_left,pad_right,groups:
an input of C channels of H x W (NCHW for reel and oneDNN, NHWC for XNNPACK) to O channels.
"""
import json
import os
import subprocess
import sys


def shapes_of(reelc, spec):
    out = subprocess.run([reelc, "info", spec, "--json", "--target", "avx2"], check=True,
                         capture_output=True, text=True).stdout
    info = json.loads(out)
    for conv in info["convs"]:
        yield info["model"], conv


def key(conv):
    return ",".join(str(v) for v in (*conv["in"], conv["out"][0], *conv["kernel"],
                                      *conv["stride"], *conv["dilation"], *conv["padding"],
                                      conv["groups"]))


def one_layer_spec(i, conv):
    c, h, w = conv["in"]
    return (f"# bench/conv_shapes.py: one convolution of the specs, timed alone\n"
            f"reel: 1\nmodel: conv_{i}\ninput: {{frame: [{c}, {h}, {w}]}}\nlayers:\n"
            f"  - {{name: conv, op: conv2d, out: {conv['out'][0]}, kernel: {conv['kernel']}, "
            f"stride: {conv['stride']}, dilation: {conv['dilation']}, "
            f"padding: {conv['padding']}, groups: {conv['groups']}}}\n"
            f"output: {{per_frame: true}}\n")


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    reelc, out_dir, specs = argv[0], argv[1], argv[2:]
    os.makedirs(out_dir, exist_ok=True)
    shapes = {}
    for spec in specs:
        for model, conv in shapes_of(reelc, spec):
            k = key(conv)
            if k not in shapes:
                shapes[k] = dict(conv, key=k, layers=[])
            shapes[k]["layers"].append(f"{model}:{conv['layer']}")
    with open(os.path.join(out_dir, "shapes.jsonl"), "w") as f:
        for i, (k, conv) in enumerate(shapes.items()):
            c, o = conv["in"][0], conv["out"]
            macs = (o[0] * o[1] * o[2]) * (c // conv["groups"]) * conv["kernel"][0] * conv["kernel"][1]
            with open(os.path.join(out_dir, f"conv_{i}.yaml"), "w") as y:
                y.write(one_layer_spec(i, conv))
            f.write(json.dumps(dict(index=i, key=k, model=f"conv_{i}", macs=macs,
                                    **{n: conv[n] for n in ("in", "out", "kernel", "stride",
                                                            "dilation", "padding", "groups",
                                                            "algorithm", "layers")})) + "\n")
    print(f"conv_shapes: {len(shapes)} distinct convolutions in {len(specs)} specs",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
