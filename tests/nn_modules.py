"""Checks of reel_torch.nn as a training library (tests/export.test runs them): the export
round trips run batch 1, so here every module must give each batch item what it gives that
item alone, agree between batch_first and time-first, and train (gradients reach every
parameter); and the variants must reduce to their plain forms.

  /usr/bin/python3 tests/nn_modules.py   one line per check, "NAME ok" or "NAME FAILED: why"
"""
import os
import sys

import torch
import torch.nn as nn

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "python"))
from reel_torch import nn as rnn  # noqa: E402

B, T = 3, 5


def first(y):
    return y[0] if isinstance(y, tuple) else y


class MapQuery(nn.Module):
    """MapAttention with a query from the map itself (its mean), as a model uses it."""

    def __init__(self):
        super().__init__()
        self.batch_first = True
        self.q = nn.Linear(4, 3)
        self.attn = rnn.MapAttention("general", 3, 4, batch_first=True)

    def forward(self, maps):
        self.attn.batch_first = self.batch_first
        return self.attn(self.q(maps.mean(dim=(-2, -1))), maps)


def modules():
    """name -> (module built batch-first, its batch-first input)."""
    g = torch.Generator().manual_seed(0)
    seq = torch.randn(B, T, 6, generator=g)
    maps = torch.randn(B, T, 4, 6, 6, generator=g)
    return {
        "PeepholeLSTM": (rnn.PeepholeLSTM(6, 7, 2, batch_first=True), seq),
        "ConvLSTM": (rnn.ConvLSTM(4, [5, 3], 3, peephole="spatial", frame_hw=(6, 6),
                                  output="concat", batch_first=True), maps),
        "ConvGRU": (rnn.ConvGRU(4, [5, 3], 3, batch_first=True), maps),
        "EncoderForecaster": (rnn.EncoderForecaster(4, [5, 5], 3, 4, steps=2,
                                                    batch_first=True), maps),
        "TemporalPool-window": (rnn.TemporalPool("mean", frames=3, stride=2,
                                                 batch_first=True), maps),
        "TemporalPool-concat": (rnn.TemporalPool("concat", count=2, batch_first=True), seq),
        "TemporalConv": (rnn.TemporalConv(4, 5, frames=2, kernel_size=3, padding=1,
                                          batch_first=True), maps),
        "MapAttention": (MapQuery(), maps),
        "AttentionPool-linear": (rnn.AttentionPool(3, 6, batch_first=True), seq),
        "AttentionPool-learned": (rnn.AttentionPool(3, 6, "general", scale=True,
                                                    batch_first=True), seq),
        "AttentionLSTM-window": (rnn.AttentionLSTM(6, 8, "additive", window=3,
                                                   attention_hidden=5, batch_first=True), seq),
        "AttentionLSTM-map": (rnn.AttentionLSTM(4, 8, "location", positions=36,
                                                init_from=True, batch_first=True), maps),
        "Seq2Seq": (rnn.Seq2Seq(6, 8, window=3, steps=2, batch_first=True), seq),
    }


def check(name, m, x):
    torch.manual_seed(1)
    for p in m.parameters():   # peepholes start at zero: make every parameter matter
        if p.abs().sum() == 0:
            p.data.uniform_(-0.5, 0.5)
    y = first(m(x))
    for b in range(B):   # each item as if alone
        yb = first(m(x[b:b + 1]))
        if not torch.allclose(yb[0], y[b], atol=1e-5):
            return f"batch item {b} differs from the item alone"
    m.batch_first = False
    if hasattr(m, "encoder"):
        m.encoder.batch_first = m.forecaster.batch_first = False
    yt = first(m(x.transpose(0, 1)))   # (steps, B, ...), or (B, ...) without a time axis
    same = yt.shape == y.shape and torch.allclose(yt, y, atol=1e-6)
    if not same and not (yt.transpose(0, 1).shape == y.shape and
                         torch.allclose(yt.transpose(0, 1), y, atol=1e-6)):
        return "time-first differs from batch-first"
    if not any(True for _ in m.parameters()):
        return None
    y.sum().backward()
    # score.bias shifts every score alike, so the softmax cancels it: its gradient is zero up to
    # rounding (spec.md), which is all it must have
    dead = [n for n, p in m.named_parameters() if p.grad is None or
            (p.grad.abs().sum() == 0 and not n.endswith("score.bias"))]
    return f"no gradient for {', '.join(dead)}" if dead else None


def reductions():
    """Zero peepholes are the plain cells."""
    torch.manual_seed(2)
    x = torch.randn(T, B, 6)
    lstm, peep = nn.LSTM(6, 7, 2), rnn.PeepholeLSTM(6, 7, 2)
    sd = dict(lstm.state_dict())
    sd.update({f"weight_c{g}_l{k}": torch.zeros(7) for g in "ifo" for k in range(2)})
    peep.load_state_dict(sd)
    yield "PeepholeLSTM-zero-is-LSTM", torch.allclose(lstm(x)[0], peep(x)[0], atol=1e-6)
    maps = torch.randn(T, B, 4, 6, 6)
    plain = rnn.ConvLSTM(4, [5, 3], 3)
    for kind in ("channel", "spatial"):
        pp = rnn.ConvLSTM(4, [5, 3], 3, peephole=kind, frame_hw=(6, 6))
        pp.load_state_dict(plain.state_dict(), strict=False)
        yield f"ConvLSTM-{kind}-zero-is-plain", torch.allclose(plain(maps)[0], pp(maps)[0],
                                                               atol=1e-6)


def main():
    failed = 0
    for name, (m, x) in modules().items():
        why = check(name, m, x)
        print(f"{name} {'ok' if why is None else 'FAILED: ' + why}")
        failed += why is not None
    for name, ok in reductions():
        print(f"{name} {'ok' if ok else 'FAILED'}")
        failed += not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
