"""Convolutional recurrent modules in reel's layouts (see docs/spec.md).

ConvLSTM            Shi et al. eq. 3, weight layout of ndrplz/ConvLSTM_pytorch: one conv over
                    cat([x, h]) (x channels first), 4H outputs in blocks [i; f; o; g], padding k//2,
                    optional peepholes (channel: (H,1,1), spatial: (H,rows,cols)); i and f see the
                    old cell c, o sees the new cell c'.
EncoderForecaster   Shi et al.'s two-phase model: a ConvLSTM encoder over the observed frames, a
                    ConvLSTM forecaster (no input of its own, layer-0 conv weight (4H_0, H_0, k, k))
                    starting from the encoder's final per-layer (h, c), and a 1x1 conv `head` over
                    the concatenation of all forecaster layers' h (layer 0 first).
ConvGRU             Ballas et al., layout of happyjin/ConvGRU-pytorch: conv_gates (2H, C+H) blocks
                    [r; z], conv_can (H, C+H) over cat([x, r*h]), h' = (1-z) h + z n; optionally
                    GRU-RCN mode with a per-layer external input and conv_below(maxpool2x2(h^{l-1})).

All modules take a batch dimension: frames are (B, C, rows, cols), sequences (T, B, C, rows, cols).
State is a list with one (h, c) pair (ConvLSTM) or one h (ConvGRU) per layer; None means zeros.
State-dict names (relative to the module): cell_list.{l}.conv.weight/bias,
cell_list.{l}.weight_ci/cf/co; for ConvGRU cell_list.{l}.conv_gates.*, conv_can.*, conv_below.weight.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

PEEPHOLES = ("none", "channel", "spatial")


def _as_list(hidden, layers):
    if isinstance(hidden, int):
        return [hidden] * (layers or 1)
    hidden = list(hidden)
    assert layers is None or layers == len(hidden), "hidden list length != layers"
    return hidden


class ConvLSTMCell(nn.Module):
    def __init__(self, in_ch, hidden, kernel, peephole="none", frame_hw=None):
        super().__init__()
        assert kernel % 2 == 1, "ConvLSTM kernels must be odd (padding k//2)"
        assert peephole in PEEPHOLES, peephole
        self.in_ch, self.hidden, self.kernel, self.peephole = in_ch, hidden, kernel, peephole
        self.conv = nn.Conv2d(in_ch + hidden, 4 * hidden, kernel, padding=kernel // 2, bias=True)
        if peephole != "none":
            if peephole == "channel":
                shape = (hidden, 1, 1)
            else:
                assert frame_hw is not None, "spatial peepholes need frame_hw=(rows, cols)"
                shape = (hidden, int(frame_hw[0]), int(frame_hw[1]))
            # Zero init: the cell starts as a plain ConvLSTM (trainable from there).
            self.weight_ci = nn.Parameter(torch.zeros(shape))
            self.weight_cf = nn.Parameter(torch.zeros(shape))
            self.weight_co = nn.Parameter(torch.zeros(shape))

    def forward(self, x, state):
        """x: (B, in_ch, r, c) or None (only when in_ch == 0); state (h, c) or None."""
        if state is None:
            assert x is not None, "need an input or a state to know the shape"
            B, _, r, c = x.shape
            h = x.new_zeros(B, self.hidden, r, c)
            cell = x.new_zeros(B, self.hidden, r, c)
        else:
            h, cell = state
        if x is None:
            assert self.in_ch == 0, "missing input"
            inp = h
        else:
            assert x.shape[1] == self.in_ch, (x.shape, self.in_ch)
            inp = torch.cat([x, h], dim=1)
        gi, gf, go, gg = self.conv(inp).chunk(4, dim=1)
        if self.peephole != "none":
            gi = gi + self.weight_ci * cell
            gf = gf + self.weight_cf * cell
        i, f, g = torch.sigmoid(gi), torch.sigmoid(gf), torch.tanh(gg)
        cell = f * cell + i * g
        if self.peephole != "none":
            go = go + self.weight_co * cell  # o sees the NEW cell
        o = torch.sigmoid(go)
        h = o * torch.tanh(cell)
        return h, cell


class ConvLSTM(nn.Module):
    """Stacked ConvLSTM. Layer 0 reads x (in_ch channels, may be 0), layer l>0 reads h^{l-1}.

    output: 'last' -> top layer's h; 'concat' -> cat of all layers' h along channels, layer 0 first.
    """

    def __init__(self, in_ch, hidden, kernel, peephole="none", frame_hw=None, layers=None,
                 output="last"):
        super().__init__()
        self.hidden = _as_list(hidden, layers)
        self.num_layers = len(self.hidden)
        self.in_ch, self.kernel, self.peephole = in_ch, kernel, peephole
        assert output in ("last", "concat"), output
        self.output = output
        self.cell_list = nn.ModuleList(
            ConvLSTMCell(in_ch if l == 0 else self.hidden[l - 1], self.hidden[l], kernel,
                         peephole, frame_hw) for l in range(self.num_layers))

    @property
    def out_channels(self):
        return sum(self.hidden) if self.output == "concat" else self.hidden[-1]

    def step(self, x, state=None):
        """One time step. x: (B, in_ch, r, c) or None; state: list of (h, c) or None.
        Returns (out, new_state)."""
        if state is None:
            state = [None] * self.num_layers
        new, inp = [], x
        for l, cell in enumerate(self.cell_list):
            h, c = cell(inp, state[l])
            new.append((h, c))
            inp = h
        if self.output == "concat":
            out = torch.cat([h for h, _ in new], dim=1)
        else:
            out = new[-1][0]
        return out, new

    def forward(self, frames, state=None):
        """frames: (T, B, C, r, c) -> (outputs (T, B, out_channels, r, c), final state)."""
        outs = []
        for t in range(frames.shape[0]):
            out, state = self.step(frames[t], state)
            outs.append(out)
        return torch.stack(outs), state


class EncoderForecaster(nn.Module):
    """forward(frames (T, B, C, r, c)) -> predicted frames (steps, B, out_ch, r, c)."""

    def __init__(self, in_ch, hidden, kernel, out_ch, steps, out_act="sigmoid", peephole="none",
                 frame_hw=None):
        super().__init__()
        assert out_act in ("sigmoid", "none"), out_act
        self.steps, self.out_act = steps, out_act
        self.encoder = ConvLSTM(in_ch, hidden, kernel, peephole, frame_hw)
        self.forecaster = ConvLSTM(0, self.encoder.hidden, kernel, peephole, frame_hw,
                                   output="concat")
        self.head = nn.Conv2d(sum(self.encoder.hidden), out_ch, 1)

    def encode(self, frames, state=None):
        _, state = self.encoder(frames, state)
        return state

    def forecast(self, state, steps=None):
        """Run the forecaster from the given (encoder) state; returns (steps, B, out_ch, r, c)."""
        preds = []
        for _ in range(self.steps if steps is None else steps):
            hs, state = self.forecaster.step(None, state)
            y = self.head(hs)
            preds.append(torch.sigmoid(y) if self.out_act == "sigmoid" else y)
        return torch.stack(preds)

    def forward(self, frames, steps=None):
        return self.forecast(self.encode(frames), steps)


class ConvGRUCell(nn.Module):
    def __init__(self, in_ch, hidden, kernel, below_ch=None):
        super().__init__()
        assert kernel % 2 == 1, "ConvGRU kernels must be odd (padding k//2)"
        self.in_ch, self.hidden = in_ch, hidden
        p = kernel // 2
        self.conv_gates = nn.Conv2d(in_ch + hidden, 2 * hidden, kernel, padding=p, bias=True)
        self.conv_can = nn.Conv2d(in_ch + hidden, hidden, kernel, padding=p, bias=True)
        self.conv_below = (nn.Conv2d(below_ch, 2 * hidden, kernel, padding=p, bias=False)
                           if below_ch else None)

    def forward(self, x, h, below=None):
        """x: (B, in_ch, r, c); h: (B, H, r, c) or None; below: h^{l-1} of this time step
        (GRU-RCN mode only; max-pooled 2x2 here)."""
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden, x.shape[2], x.shape[3])
        gates = self.conv_gates(torch.cat([x, h], dim=1))
        if self.conv_below is not None:
            gates = gates + self.conv_below(F.max_pool2d(below, kernel_size=2, stride=2))
        r_pre, z_pre = gates.chunk(2, dim=1)
        r, z = torch.sigmoid(r_pre), torch.sigmoid(z_pre)
        n = torch.tanh(self.conv_can(torch.cat([x, r * h], dim=1)))
        return (1 - z) * h + z * n


class ConvGRU(nn.Module):
    """Stacked ConvGRU.

    Plain (in_ch an int): layer 0 reads x, layer l>0 reads h^{l-1}.
    GRU-RCN (in_ch a list, one per layer): layer l reads its own external input x_l (step() takes
    a list), and layer l>=1 also gets conv_below(maxpool2x2(h^{l-1}_t)) on its r and z gates.
    """

    def __init__(self, in_ch, hidden, kernel, layers=None):
        super().__init__()
        self.hidden = _as_list(hidden, layers)
        self.num_layers = len(self.hidden)
        self.rcn = isinstance(in_ch, (list, tuple))
        cells = []
        for l in range(self.num_layers):
            if self.rcn:
                assert len(in_ch) == self.num_layers
                cells.append(ConvGRUCell(in_ch[l], self.hidden[l], kernel,
                                         self.hidden[l - 1] if l > 0 else None))
            else:
                cells.append(ConvGRUCell(in_ch if l == 0 else self.hidden[l - 1],
                                         self.hidden[l], kernel))
        self.cell_list = nn.ModuleList(cells)

    def step(self, x, state=None):
        """x: a tensor (plain) or a list of per-layer tensors (GRU-RCN); state: list of h or None.
        Returns (top layer h, new state)."""
        if state is None:
            state = [None] * self.num_layers
        new = []
        for l, cell in enumerate(self.cell_list):
            if self.rcn:
                h = cell(x[l], state[l], new[l - 1] if l > 0 else None)
            else:
                h = cell(x if l == 0 else new[l - 1], state[l])
            new.append(h)
        return new[-1], new


def _self_test():
    torch.manual_seed(0)
    B, T = 2, 3
    # ConvLSTM with zero peepholes == without peepholes; batch items independent.
    m0 = ConvLSTM(3, [4, 5], 3)
    for pp in ("channel", "spatial"):
        m1 = ConvLSTM(3, [4, 5], 3, peephole=pp, frame_hw=(6, 5))
        missing = m1.load_state_dict(m0.state_dict(), strict=False).missing_keys
        assert sorted(missing) == sorted(f"cell_list.{l}.weight_c{g}" for l in range(2)
                                         for g in "ifo"), missing
        x = torch.randn(T, B, 3, 6, 5)
        y0, s0 = m0(x)
        y1, s1 = m1(x)
        assert torch.allclose(y0, y1) and y0.shape == (T, B, 5, 6, 5)
    names = sorted(m1.state_dict())
    assert names[:3] == ["cell_list.0.conv.bias", "cell_list.0.conv.weight",
                         "cell_list.0.weight_cf"], names
    assert m1.cell_list[0].weight_ci.shape == (4, 6, 5)
    yb, _ = m0(x[:, 1:2])
    assert torch.allclose(yb[:, 0], y0[:, 1], atol=1e-6)
    # Encoder-forecaster shapes and names; backward works.
    ef = EncoderForecaster(16, [8, 8], 3, 16, steps=5)
    sd = ef.state_dict()
    assert sd["forecaster.cell_list.0.conv.weight"].shape == (32, 8, 3, 3)
    assert sd["encoder.cell_list.0.conv.weight"].shape == (32, 24, 3, 3)
    assert sd["head.weight"].shape == (16, 16, 1, 1)
    frames = torch.rand(4, B, 16, 7, 9)
    pred = ef(frames)
    assert pred.shape == (5, B, 16, 7, 9) and 0 < pred.min() and pred.max() < 1
    pred.mean().backward()
    assert ef.encoder.cell_list[0].conv.weight.grad is not None
    # ConvGRU, plain and GRU-RCN.
    g = ConvGRU(3, [4, 6], 3)
    assert g.state_dict()["cell_list.1.conv_gates.weight"].shape == (12, 10, 3, 3)
    out, st = g.step(torch.randn(B, 3, 5, 7))
    assert out.shape == (B, 6, 5, 7)
    r = ConvGRU([16, 32], [16, 32], 3)
    assert r.state_dict()["cell_list.1.conv_below.weight"].shape == (64, 16, 3, 3)
    out, st = r.step([torch.randn(B, 16, 8, 8), torch.randn(B, 32, 4, 4)])
    assert out.shape == (B, 32, 4, 4)
    print("convrnn self-test ok")


if __name__ == "__main__":
    _self_test()
