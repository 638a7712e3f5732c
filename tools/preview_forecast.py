"""PyTorch preview of the trained forecaster: the same PNG strip as tools/forecast_demo.c.

Generates the bouncing-shapes clip for SEED with tools/bouncing.py (the same frames as the C
demo's generator), runs reel_torch.nn's EncoderForecaster with the trained weights, prints
the per-frame MSE next to the "repeat the last observed frame" baseline, and writes a PNG:
row 1 the 10 observed frames, row 2 the 10 predicted ones, row 3 the 10 true ones (the
layout, glyphs and gray levels of forecast_demo.c, so the two images can be compared pixel by
pixel).  --repeat-last draws the baseline's frames instead of the model's.

    /usr/bin/python3 tools/preview_forecast.py [--seed 2026] [--out generated/forecast_torch.png]
"""
import argparse
import os
import struct
import sys
import zlib

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "python"))
import bouncing  # noqa: E402
from reel_torch import safetensors as safetensors_io  # noqa: E402
import train_forecaster  # noqa: E402

ROOT = train_forecaster.ROOT
SIZE, OBSERVED, STEPS = bouncing.SIZE, bouncing.OBSERVED, train_forecaster.STEPS

# Layout constants of tools/forecast_demo.c.
SCALE, MARGIN, GAP = 2, 6, 4
CELL = SIZE * SCALE
LABEL = 7 * SCALE + 6
ROWS, COLS = 3, max(OBSERVED, STEPS)
WIDTH = 2 * MARGIN + COLS * CELL + (COLS - 1) * GAP
HEIGHT = 2 * MARGIN + ROWS * (LABEL + CELL) + (ROWS - 1) * GAP
BACKGROUND, INK = 48, 230
GLYPHS = {"B": (30, 17, 17, 30, 17, 17, 30), "C": (14, 17, 16, 16, 16, 17, 14),
          "D": (30, 17, 17, 17, 17, 17, 30), "E": (31, 16, 16, 30, 16, 16, 31),
          "H": (17, 17, 17, 31, 17, 17, 17), "I": (14, 4, 4, 4, 4, 4, 14),
          "O": (14, 17, 17, 17, 17, 17, 14), "P": (30, 17, 17, 30, 16, 16, 16),
          "R": (30, 17, 17, 30, 20, 18, 17), "S": (15, 16, 16, 14, 1, 1, 30),
          "T": (31, 4, 4, 4, 4, 4, 4), "U": (17, 17, 17, 17, 17, 17, 14),
          "V": (17, 17, 17, 17, 17, 10, 4)}


def gray(frames):
    v = np.clip(np.asarray(frames, dtype=np.float32), np.float32(0), np.float32(1))
    return (v * np.float32(255) + np.float32(0.5)).astype(np.uint8)


def strip(observed, predicted, truth):
    img = np.full((HEIGHT, WIDTH), BACKGROUND, dtype=np.uint8)
    for row, (name, frames) in enumerate((("OBSERVED", observed), ("PREDICTED", predicted),
                                          ("TRUTH", truth))):
        top = MARGIN + row * (LABEL + CELL + GAP)
        x = MARGIN
        for ch in name:
            if ch in GLYPHS:
                bits = np.array([[(r >> (4 - c)) & 1 for c in range(5)] for r in GLYPHS[ch]])
                big = np.kron(bits, np.ones((SCALE, SCALE), dtype=int)).astype(bool)
                img[top + 3:top + 3 + 7 * SCALE, x:x + 5 * SCALE][big] = INK
            x += 6 * SCALE
        for f, frame in enumerate(gray(frames)):
            left = MARGIN + f * (CELL + GAP)
            img[top + LABEL:top + LABEL + CELL, left:left + CELL] = np.kron(
                frame, np.ones((SCALE, SCALE), dtype=np.uint8))
    return img


def write_png(path, img):
    """8-bit grayscale PNG with only the standard library."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    h, w = img.shape
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--weights",
                    default=os.path.join(ROOT, "specs/weights/convlstm_forecaster.safetensors"))
    ap.add_argument("--out", default=os.path.join(ROOT, "generated/forecast_torch.png"))
    ap.add_argument("--repeat-last", action="store_true",
                    help="draw the repeat-the-last-frame baseline instead of the model")
    args = ap.parse_args()
    torch.set_num_threads(2)

    seq = bouncing.make_sequence(args.seed)  # (20, 64, 64)
    truth = seq[OBSERVED:OBSERVED + STEPS]
    if args.repeat_last:
        pred = np.repeat(seq[OBSERVED - 1:OBSERVED], STEPS, axis=0)
    else:
        model = train_forecaster.build_model()
        tensors, _ = safetensors_io.read(args.weights)
        model.load_state_dict(tensors, strict=True)
        model.eval()
        x = torch.from_numpy(seq)[:, None, None]  # (20, 1, 1, 64, 64)
        pred = train_forecaster.predict(model, x)[:, 0, 0].numpy()
    print(f"seed {args.seed}")
    print("step  model MSE  repeat-last MSE")
    mm, bb = [], []
    for k in range(STEPS):
        m = float(((pred[k].astype(np.float64) - truth[k]) ** 2).mean())
        b = float(((seq[OBSERVED - 1].astype(np.float64) - truth[k]) ** 2).mean())
        mm.append(m)
        bb.append(b)
        print(f"{k + 1:4d}  {m:9.5f}  {b:15.5f}")
    print(f"mean  {np.mean(mm):9.5f}  {np.mean(bb):15.5f}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    write_png(args.out, strip(seq[:OBSERVED], pred, truth))
    print(f"wrote {args.out} (rows: observed, predicted, ground truth)")


if __name__ == "__main__":
    main()
