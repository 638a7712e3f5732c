"""The demo's model as a PyTorch user has it, exported by reel_torch and checked against the C.

    /usr/bin/python3 tools/forecast_export.py [SEED [OUT_DIR]]

Builds the forecaster as a module (frames [1, T, 1, 64, 64] -> 4x4 patches ->
reel_torch.nn.EncoderForecaster -> frames [1, 10, 1, 64, 64]), loads the trained weights
(specs/weights/convlstm_forecaster.safetensors, written by tools/train_forecaster.py), and
exports it with reel_torch.export to OUT_DIR/convlstm_forecaster.yaml and .safetensors
(default generated/convlstm_forecaster_export). The export compiles them with build/reelc,
runs the demo's clip for SEED (the observed frames of tools/bouncing.py's sequence, default
2026) through the C and through the module, and prints the forecast's max |C - PyTorch|.
TARGET=generic|avx2 picks reelc's kernels, as for tools/forecast_demo.sh.
"""
import os
import sys

import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import bouncing  # noqa: E402
import train_forecaster  # noqa: E402
from reel_torch import export  # noqa: E402
from reel_torch import nn as rnn  # noqa: E402
from reel_torch.safetensors import load_file  # noqa: E402


class Forecaster(nn.Module):
    """Shi et al.'s encoder-forecaster on 4x4 patches of 64x64 frames."""

    def __init__(self, weights):
        super().__init__()
        tensors = load_file(weights)
        hidden = [tensors[f"encoder.cell_list.{l}.conv.bias"].shape[0] // 4
                  for l in range(len([k for k in tensors if k.startswith("encoder.") and
                                      k.endswith(".conv.bias")]))]
        self.patches = nn.PixelUnshuffle(train_forecaster.FACTOR)
        self.model = rnn.EncoderForecaster(train_forecaster.PATCH_CH, hidden,
                                           train_forecaster.KERNEL, train_forecaster.PATCH_CH,
                                           train_forecaster.STEPS, batch_first=True)
        self.model.load_state_dict(tensors)   # trained as the bare EncoderForecaster
        self.frames = nn.PixelShuffle(train_forecaster.FACTOR)

    def forward(self, clip):
        p = self.patches(clip.flatten(0, 1)).unsqueeze(0)     # [1, T, 16, 16, 16]
        return self.frames(self.model(p)[0]).unsqueeze(0)     # [1, 10, 1, 64, 64]


def main(argv):
    seed = int(argv[0]) if argv else 2026
    out = argv[1] if len(argv) > 1 else os.path.join(ROOT, "generated",
                                                     "convlstm_forecaster_export")
    torch.set_num_threads(2)
    net = Forecaster(os.path.join(ROOT, "specs", "weights", "convlstm_forecaster.safetensors"))
    observed = torch.from_numpy(bouncing.make_sequence(seed)[:bouncing.OBSERVED])
    clip = observed.unsqueeze(1).unsqueeze(0)                 # [1, 10, 1, 64, 64]
    spec, weights = export(net, clip, out, name="convlstm_forecaster",
                           target=os.environ.get("TARGET") or None)
    print(f"exported {spec} and {weights}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
