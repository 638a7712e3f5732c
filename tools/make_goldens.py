"""Regenerate the PyTorch golden files under tests/golden/.

Usage (from anywhere):  /usr/bin/python3 tools/make_goldens.py

For every spec in specs/*.yaml and tests/specs/*.yaml (file stem S) it writes
  tests/golden/S.weights.safetensors  the model's state_dict, F32
  tests/golden/S.io.safetensors       input (T, *frame); output (T, OUT) unless
                                      output.per_frame is false; clip (OUT) if output.clip is set
plus clip_max_f16 / clip_max_bf16: clip_max's weights stored as F16 / BF16, with the expected
outputs computed from those rounded weights (reel converts them to f32 exactly) on clip_max's input.

Each spec gets its own seed (crc32 of its file name), so adding a spec changes no other golden.
The output is byte-identical from run to run (one thread, sorted tensors); every file is read
back with tools/safetensors_io.py and re-run to check it reproduces the expected tensors.
"""
import glob
import os
import sys
import zlib

import torch
import yaml

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402
import safetensors_io  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "golden")
T = 9  # frames per golden clip


def load_spec(path):
    with open(path) as f:
        spec = yaml.safe_load(f)
    assert spec.get("reel") == 1, f"{path}: not a reel 1 spec"
    return spec


def randomise(model):
    """Default PyTorch init, but make every option visible in the outputs."""
    for name, p in model.named_parameters():
        if name.split(".")[-1].startswith(("weight_ci", "weight_cf", "weight_co")):
            # The default +-1/sqrt(H) would make the peepholes nearly invisible.
            torch.nn.init.uniform_(p, -0.5, 0.5)
        if "bias" in name.split(".")[-1]:
            assert (p != 0).all(), f"{name} has a zero bias entry"


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


def generate(spec_path):
    """Build, initialise and run one spec. Returns (spec, model, x, per-frame, clip, seed)."""
    spec = load_spec(spec_path)
    seed = zlib.crc32(os.path.basename(spec_path).encode())
    torch.manual_seed(seed)
    model = reference.build_model(spec)
    randomise(model)
    x = torch.randn(T, *spec["input"]["frame"])
    if os.path.basename(spec_path) == "peephole_zero.yaml":
        p, clip = peephole_zero(spec, model, x)
    else:
        p, clip = reference.run(model, spec, x)
    return spec, model, x, p, clip, seed


def write_golden(stem, spec, spec_path, model, x, p, clip, seed, dtype="F32", exact=True):
    out = spec.get("output", {})
    per_frame = out.get("per_frame", True)
    meta = {"spec": os.path.relpath(spec_path, ROOT), "seed": f"0x{seed:08x}",
            "reference": f"torch {torch.__version__}"}
    io = {"input": x}
    if per_frame:
        io["output"] = p
    if clip is not None:
        io["clip"] = clip
    w_path = os.path.join(GOLDEN, f"{stem}.weights.safetensors")
    io_path = os.path.join(GOLDEN, f"{stem}.io.safetensors")
    safetensors_io.write(w_path, model.state_dict(), dict(meta, format="pt"), dtype=dtype)
    safetensors_io.write(io_path, io, dict(meta, T=T, per_frame=str(per_frame).lower(),
                                           clip=out.get("clip", "none"), weights_dtype=dtype))

    # Read both files back; the weights, loaded into a fresh model, must reproduce the io file.
    io_back, _ = safetensors_io.read(io_path)
    assert io_back.keys() == io.keys() and all(torch.equal(io_back[k], io[k]) for k in io)
    w_back, _ = safetensors_io.read(w_path)
    fresh = reference.build_model(spec)
    fresh.load_state_dict(w_back, strict=True)
    p2, clip2 = reference.run(fresh, spec, io_back["input"])
    same = torch.equal if exact else (lambda a, b: torch.allclose(a, b, rtol=0, atol=1e-6))
    assert same(p2, p) and (clip is None or same(clip2, clip)), f"{stem}: read-back mismatch"

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
    for path, stem in zip(paths, stems):
        spec, model, x, p, clip, seed = generate(path)
        # peephole_zero's expected output comes from nn.LSTM, so re-running it differs by rounding.
        write_golden(stem, spec, path, model, x, p, clip, seed, exact=(stem != "peephole_zero"))

        if stem == "clip_max":
            # Half-precision weight files: expected outputs from the rounded weights, same input.
            state = model.state_dict()
            for dtype, tdtype in (("F16", torch.float16), ("BF16", torch.bfloat16)):
                model.load_state_dict({k: v.to(tdtype).float() for k, v in state.items()})
                p16, clip16 = reference.run(model, spec, x)
                write_golden(f"clip_max_{dtype.lower()}", spec, path, model, x, p16, clip16,
                             seed, dtype=dtype)
            model.load_state_dict(state)

    total = sum(os.path.getsize(f) for f in glob.glob(os.path.join(GOLDEN, "*")))
    print(f"tests/golden: {total} bytes")


if __name__ == "__main__":
    main()
