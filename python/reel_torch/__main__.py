"""python3 -m reel_torch export|verify: the package's functions from the command line.

  python3 -m reel_torch export MODEL [--input SHAPE] [--frames T] [-o DIR] [--name NAME]
                               [--weights FILE] [--time-first] [--target T] [--no-verify]
  python3 -m reel_torch verify MODEL SPEC WEIGHTS [--input SHAPE] [--frames T]
                               [--weights FILE] [--time-first] [--target T]

MODEL is `module:factory` (an importable module, or a path to a .py file): factory() returns
the nn.Module, or (module, example clip). Without an example, the clip is T (--frames,
default 8) uniform random frames of the shape --input (e.g. 3,64,64), seed 0. --weights
loads a state_dict (safetensors, as reel_torch.safetensors.save_file writes) into the module
first. Exit status: 0 when the C matches PyTorch within the tolerance, 1 when it does not or
the module cannot be exported (the reasons on stderr), 2 for bad usage.
"""
import argparse
import importlib
import importlib.util
import os
import sys

import torch

from .export import ExportError, export
from .safetensors import load_file
from .verify import VerifyError, verify


def _load(target, parser):
    if ":" not in target:
        parser.error(f"MODEL must be module:factory, got {target!r}")
    mod_name, fn_name = target.rsplit(":", 1)
    try:
        if mod_name.endswith(".py") or os.sep in mod_name:
            spec = importlib.util.spec_from_file_location("reel_torch_model", mod_name)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(mod_name)
        factory = getattr(module, fn_name)
    except (ImportError, FileNotFoundError, AttributeError) as e:
        parser.error(f"cannot load {target}: {e}")
    made = factory()
    return made if isinstance(made, tuple) else (made, None)


def _example(args, example, parser):
    if example is not None:
        return example
    if not args.input:
        parser.error("the factory gives no example clip: pass --input SHAPE (one frame)")
    try:
        frame = [int(v) for v in args.input.split(",")]
    except ValueError:
        parser.error(f"--input must be sizes separated by commas, got {args.input!r}")
    g = torch.Generator().manual_seed(0)
    clip = torch.rand([args.frames, 1] + frame, generator=g)
    return clip if args.time_first else clip.transpose(0, 1)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m reel_torch",
                                     description="Export a PyTorch module to reel, and verify "
                                     "the C it compiles to against the module.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("export", "verify"):
        p = sub.add_parser(name)
        p.add_argument("model", help="module:factory")
        if name == "verify":
            p.add_argument("spec")
            p.add_argument("weights_file", metavar="WEIGHTS")
        p.add_argument("--input", help="one frame's shape, e.g. 3,64,64 (without an example)")
        p.add_argument("--frames", type=int, default=8, help="clip length T (default 8)")
        p.add_argument("--weights", help="a state_dict to load into the module first")
        p.add_argument("--time-first", action="store_true", help="the clip is [T, 1, *frame]")
        p.add_argument("--target", choices=("avx2", "generic"), help="reelc --target")
        p.add_argument("--tolerance", type=float, help="default 1e-5, 1e-4 with convolutions")
        if name == "export":
            p.add_argument("-o", "--out", default=".", help="output directory (default .)")
            p.add_argument("--name", help="the spec's model name (default: the class name)")
            p.add_argument("--no-verify", action="store_true", help="skip the comparison")
    args = parser.parse_args(argv)
    model, example = _load(args.model, parser)
    if args.weights:
        target = model.module if isinstance(model, torch.nn.DataParallel) else model
        try:   # an exported file has the unwrapped module's names
            target.load_state_dict(load_file(args.weights))
        except (RuntimeError, OSError, KeyError, ValueError) as e:
            print(f"reel_torch {args.command}: error: cannot load {args.weights} into the "
                  f"module: {str(e).splitlines()[0]}", file=sys.stderr)
            return 1
    clip = _example(args, example, parser)
    try:
        if args.command == "export":
            spec, weights = export(model, clip, args.out, args.name, args.time_first,
                                   verify=not args.no_verify, target=args.target,
                                   tolerance=args.tolerance)
            print(f"reel_torch: wrote {spec} and {weights}")
        else:
            verify(model, args.spec, args.weights_file, clip, args.target, args.time_first,
                   args.tolerance, check=True)
    except (ExportError, VerifyError) as e:
        print(f"reel_torch {args.command}: error: {e}", file=sys.stderr)
        if args.command == "verify" and not args.weights and isinstance(e, VerifyError):
            print(f"reel_torch verify: note: the module has the weights its factory gave it; "
                  f"to compare with {args.weights_file}, pass --weights {args.weights_file}",
                  file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
