"""Regenerate the PyTorch golden files under tests/golden/.

Usage (from anywhere):  /usr/bin/python3 tools/make_goldens.py

For every spec in specs/*.yaml and tests/specs/*.yaml (file stem S; SKIP lists the exceptions)
it writes
  tests/golden/S.weights.safetensors  the model's state_dict, F32 (BatchNorm's
                                      num_batches_tracked as I64, as PyTorch saves it)
  tests/golden/S.io.safetensors       input (T, *frame); output (T, *OUT) unless
                                      output.per_frame is false; clip (*OUT) if output.clip is set;
                                      forecast (K, *FRAME) if the spec has a forecast: chain (run
                                      once, after all T observed frames)
plus clip_max_f16 / clip_max_bf16: clip_max's weights stored as F16 / BF16, with the expected
outputs computed from those rounded weights (reel converts them to f32 exactly) on clip_max's input.
T is 9 frames unless CLIP_FRAMES says otherwise. Weights are PyTorch's default init, with
peepholes widened, batch norms given random affine parameters and running statistics, and the
gains of emphasise() (ConvLSTM/ConvGRU convs x3, a conv feeding relu6 x8), so that every option
shows in the outputs well above the 1e-5 test tolerance (tools/check_goldens.py re-checks them).
lrcn_resnet18_narrow's golden comes from torchvision's own ResNet code (tools/resnet_spec.py)
and is checked against the spec-driven model.

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
import convrnn  # noqa: E402
import reference  # noqa: E402
import resnet_spec  # noqa: E402
import safetensors_io  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "golden")
T = 9  # frames per golden clip, unless:
CLIP_FRAMES = {"convlstm_forecaster": 4,  # 64x64 frames: keep the io file small
               "lrcn": 3,
               "lrcn_resnet18_narrow": 2}
SKIP = {"lrcn_resnet18": "11M parameters (45 MB); lrcn_resnet18_narrow is its golden"}
# stem -> "F16" | "BF16": store that golden's weights in half precision (half the bytes); its
# expected outputs are then computed from the rounded weights. Empty: every golden is F32.
WEIGHTS_DTYPE = {"convlstm_forecaster": "F16", "convgru_stack": "F16", "lrcn": "F16"}
HALF = {"F16": torch.float16, "BF16": torch.bfloat16}


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
    for name, p in model.named_parameters():
        if name.split(".")[-1].startswith(("weight_ci", "weight_cf", "weight_co")):
            # The default +-1/sqrt(H) would make the peepholes nearly invisible.
            torch.nn.init.uniform_(p, -0.5, 0.5)
        if "bias" in name.split(".")[-1]:
            assert (p != 0).all(), f"{name} has a zero bias entry"


RECURRENT_CONV_GAIN = 3.0
RELU6_GAIN = 8.0


@torch.no_grad()
def emphasise(spec, model):
    """Make the new ops' options visible at the test tolerance (1e-5 absolute):
    - ConvLSTM/ConvGRU convolutions get RECURRENT_CONV_GAIN x PyTorch's default weights, so the
      gates are not all near 0.5 and the cell state (which the peepholes see) is not tiny;
    - a conv2d or linear feeding a relu6 gets RELU6_GAIN x its weights and bias, so that some of
      its outputs exceed 6 and the clipping shows."""
    for _, m in model.named_modules():
        if isinstance(m, (convrnn.ConvLSTMCell, convrnn.ConvGRUCell)):
            for conv in m.children():
                conv.weight.mul_(RECURRENT_CONV_GAIN)
    layers = spec["layers"] + spec.get("forecast", {}).get("layers", [])
    for prev, layer in zip(layers, layers[1:]):
        if layer["op"] == "relu6" and "from" not in layer and prev["op"] in ("conv2d", "linear"):
            mod = model.get_submodule(prev["name"])
            for p in mod.parameters():
                p.mul_(RELU6_GAIN)


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
    return model, x, {"output": p, "clip": clip}


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
    if stem in WEIGHTS_DTYPE:
        with torch.no_grad():
            for v in model.state_dict().values():
                if v.is_floating_point():
                    v.copy_(v.to(HALF[WEIGHTS_DTYPE[stem]]).float())
    x = torch.randn(CLIP_FRAMES.get(stem, T), *spec["input"]["frame"])
    if stem == "peephole_zero":
        p, clip = peephole_zero(spec, model, x)
        res = {"output": p, "clip": clip}
    else:
        res = reference.run_all(model, spec, x)
    return spec, model, x, res, seed


def write_golden(stem, spec, spec_path, model, x, res, seed, dtype="F32", exact=True):
    out = spec.get("output", {})
    per_frame = out.get("per_frame", True)
    meta = {"spec": os.path.relpath(spec_path, ROOT), "seed": f"0x{seed:08x}",
            "reference": f"torch {torch.__version__}"}
    io = {"input": x}
    if per_frame:
        io["output"] = res["output"]
    if res["clip"] is not None:
        io["clip"] = res["clip"]
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
    fresh.load_state_dict(w_back, strict=True)
    res2 = reference.run_all(fresh, spec, io_back["input"])
    same = torch.equal if exact else (lambda a, b: torch.allclose(a, b, rtol=0, atol=1e-6))
    for k in ("output", "clip", "forecast"):
        if res.get(k) is not None:
            assert same(res2[k], res[k]), f"{stem}: read-back mismatch in {k}"

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
        if stem in SKIP:
            print(f"{stem}: skipped ({SKIP[stem]})")
            continue
        spec, model, x, res, seed = generate(path)
        # peephole_zero's and lrcn_resnet18_narrow's expected outputs come from other PyTorch
        # modules (nn.LSTM, torchvision), so re-running them here differs by rounding.
        assert stem not in WEIGHTS_DTYPE or stem not in ("peephole_zero", "lrcn_resnet18_narrow")
        write_golden(stem, spec, path, model, x, res, seed, dtype=WEIGHTS_DTYPE.get(stem, "F32"),
                     exact=stem not in ("peephole_zero", "lrcn_resnet18_narrow"))

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
