"""Procedural bouncing-shapes clips (Moving-MNIST style, nothing to download).

make_sequence(seed) returns a float32 array (FRAMES, 64, 64) with values in [0, 1]: one or two
shapes (filled square, disc or plus-shaped cross, 10-16 px) moving at a constant velocity and
bouncing off the frame's walls.  tools/forecast_demo.c has a line-for-line C port
(bb_sequence) that gives the same frames, bit for bit, for the same seed: every draw comes
from splitmix64 and all the geometry is IEEE double arithmetic (+, -, *, /, sqrt) in the same
order, rounded to float32 only at the end.  Keep the two in step when changing either one.

The recipe, in the order of the random draws:
  shapes = 1 + rand(2)
  per shape: kind = rand(3) (0 square, 1 disc, 2 cross); size = 10 + 6u;
             half = size/2; lo = half; hi = 64 - half;
             x = lo + (hi - lo)u; y = lo + (hi - lo)u;
             repeat vx = 7u - 3.5; vy = 7u - 3.5 until 1.5^2 <= vx^2 + vy^2 <= 3.5^2
  frame t renders every shape at its position, then each shape moves by (vx, vy) and is
  reflected off [lo, hi] (position mirrored, velocity negated).
Here u is a uniform double in [0, 1) (top 53 bits of a splitmix64 output) and rand(n) is the
output modulo n.  A pixel (px, py) covers [px, px+1) x [py, py+1); its value is the shape's
(anti-aliased) coverage: the exact area for the square and the cross's two bars, and
clamp(half + 0.5 - distance of the pixel centre) for the disc; shapes combine with max.

Run it as a script to print a checksum of a few sequences (to compare with the C port):
    /usr/bin/python3 tools/bouncing.py [SEED...]
"""
import sys

import numpy as np

SIZE = 64       # frames are SIZE x SIZE, one channel
FRAMES = 20     # frames per sequence
OBSERVED = 10   # the first OBSERVED are the input, the rest are to be predicted

_MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & _MASK

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return z ^ (z >> 31)

    def uniform(self):
        """A double in [0, 1): the top 53 bits of the next output."""
        return (self.next_u64() >> 11) * (1.0 / 9007199254740992.0)

    def rand(self, n):
        return self.next_u64() % n


def _shapes(rng):
    shapes = []
    for _ in range(1 + rng.rand(2)):
        kind = rng.rand(3)
        size = 10.0 + 6.0 * rng.uniform()
        half = size / 2.0
        lo, hi = half, SIZE - half
        x = lo + (hi - lo) * rng.uniform()
        y = lo + (hi - lo) * rng.uniform()
        while True:
            vx = 7.0 * rng.uniform() - 3.5
            vy = 7.0 * rng.uniform() - 3.5
            s2 = vx * vx + vy * vy
            if 2.25 <= s2 <= 12.25:
                break
        shapes.append([kind, size, half, lo, hi, x, y, vx, vy])
    return shapes


# Pixel edges as float64 grids: column index along axis 1 (x), row index along axis 0 (y).
_PX = np.arange(SIZE, dtype=np.float64)[None, :]
_PY = np.arange(SIZE, dtype=np.float64)[:, None]


def _cover(p, centre, half):
    """Length of [p, p+1) inside [centre - half, centre + half], per pixel, in [0, 1]."""
    v = np.minimum(p + 1.0, centre + half) - np.maximum(p, centre - half)
    return np.clip(v, 0.0, 1.0)


def _render(frame, kind, size, half, x, y):
    if kind == 0:
        v = _cover(_PX, x, half) * _cover(_PY, y, half)
    elif kind == 1:
        dx = _PX + 0.5 - x
        dy = _PY + 0.5 - y
        v = np.clip(half + 0.5 - np.sqrt(dx * dx + dy * dy), 0.0, 1.0)
    else:
        arm = size / 6.0  # bars one third of the size thick
        v = np.maximum(_cover(_PX, x, half) * _cover(_PY, y, arm),
                       _cover(_PX, x, arm) * _cover(_PY, y, half))
    np.maximum(frame, v, out=frame)


def _bounce(pos, vel, lo, hi):
    pos = pos + vel
    if pos < lo:
        return 2.0 * lo - pos, -vel
    if pos > hi:
        return 2.0 * hi - pos, -vel
    return pos, vel


def make_sequence(seed, frames=FRAMES):
    """The clip for `seed`: float32 array (frames, SIZE, SIZE), values in [0, 1]."""
    rng = SplitMix64(seed)
    shapes = _shapes(rng)
    out = np.zeros((frames, SIZE, SIZE), dtype=np.float32)
    for t in range(frames):
        frame = np.zeros((SIZE, SIZE), dtype=np.float64)
        for s in shapes:
            kind, size, half, lo, hi, x, y, vx, vy = s
            _render(frame, kind, size, half, x, y)
            s[5], s[7] = _bounce(x, vx, lo, hi)
            s[6], s[8] = _bounce(y, vy, lo, hi)
        out[t] = frame.astype(np.float32)
    return out


def make_batch(seeds, frames=FRAMES):
    """Clips for several seeds: float32 array (frames, len(seeds), 1, SIZE, SIZE) (T, B, C, H, W)."""
    return np.stack([make_sequence(s, frames) for s in seeds], axis=1)[:, :, None]


def checksum(seq):
    """Sum of all values, and sum weighted by flat index mod 97 + 1 (both as doubles)."""
    flat = seq.astype(np.float64).ravel()
    w = (np.arange(flat.size) % 97 + 1).astype(np.float64)
    return float(flat.sum()), float((flat * w).sum())


if __name__ == "__main__":
    seeds = [int(a) for a in sys.argv[1:]] or [0, 1, 2, 2026]
    for s in seeds:
        a, b = checksum(make_sequence(s))
        print(f"seed {s}: sum {a:.6f} weighted {b:.6f}")
