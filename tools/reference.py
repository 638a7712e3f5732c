"""PyTorch reference implementation of reel specs (see /work/shared/SEMANTICS.md).

build_model(spec) turns a parsed spec into a module whose state_dict() names are exactly
the weight names reel expects (<layer name>.<PyTorch parameter name>); run(model, spec, x)
evaluates it on one clip x of shape (T, *frame) and returns (per-frame outputs, clip aggregate).
Everything runs in float32, batch 1, states starting at zero.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

POINTWISE = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
             "softmax": lambda x: torch.softmax(x, dim=-1),
             "dropout": lambda x: x}  # dropout is the identity at inference
CLIP_MODES = ("mean", "max", "last", "weighted")


class PeepholeLSTM(nn.Module):
    """Multi-layer LSTM with diagonal peepholes (Graves; Shi et al. eq. 2).

    Parameters are named like nn.LSTM's plus weight_ci/cf/co_l{k} of shape (H), so that an
    nn.LSTM state_dict plus zero peepholes loads unchanged. i and f see the old cell c,
    o sees the new cell c'. Input (T, N) for batch 1, output (T, H) of the top layer.
    """

    def __init__(self, input_size, hidden_size, num_layers=1):
        super().__init__()
        self.hidden_size, self.num_layers = hidden_size, num_layers
        H = hidden_size
        for k in range(num_layers):
            n_in = input_size if k == 0 else H
            for name, shape in (("weight_ih", (4 * H, n_in)), ("weight_hh", (4 * H, H)),
                                ("bias_ih", (4 * H,)), ("bias_hh", (4 * H,)),
                                ("weight_ci", (H,)), ("weight_cf", (H,)), ("weight_co", (H,))):
                self.register_parameter(f"{name}_l{k}", nn.Parameter(torch.empty(shape)))
        self.reset_parameters()

    def reset_parameters(self):
        # nn.LSTM's default init, applied to the peephole vectors as well.
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x):
        for k in range(self.num_layers):
            p = lambda n: getattr(self, f"{n}_l{k}")
            h = x.new_zeros(self.hidden_size)
            c = x.new_zeros(self.hidden_size)
            # Input projections for all frames at once, as nn.LSTM does.
            xg = F.linear(x, p("weight_ih"), p("bias_ih"))
            outs = []
            for t in range(x.shape[0]):
                gi, gf, gg, go = (xg[t] + F.linear(h, p("weight_hh"), p("bias_hh"))).chunk(4)
                i = torch.sigmoid(gi + p("weight_ci") * c)
                f = torch.sigmoid(gf + p("weight_cf") * c)
                c = f * c + i * torch.tanh(gg)
                o = torch.sigmoid(go + p("weight_co") * c)  # the new cell
                h = o * torch.tanh(c)
                outs.append(h)
            x = torch.stack(outs)
        return x


class ReelModel(nn.Module):
    """A chain of spec layers; named layers are submodules under their spec name."""

    def __init__(self, spec):
        super().__init__()
        frame = spec["input"]["frame"]
        assert len(frame) == 1, "only vector frames are supported by these ops"
        self.chain = []  # (op, module or None), in spec order
        width = frame[0]
        for layer in spec["layers"]:
            op, name = layer["op"], layer.get("name")
            if op in POINTWISE:
                self.chain.append((op, None))
                continue
            assert name and "." not in name, f"{op} layer needs a plain name, got {name!r}"
            if op == "linear":
                mod = nn.Linear(width, layer["out"], bias=layer.get("bias", True))
                width = layer["out"]
            elif op in ("lstm", "gru"):
                hidden, depth = layer["hidden"], layer.get("layers", 1)
                peephole = layer.get("peephole", "none")
                assert peephole in ("none", "diagonal") and (op == "lstm" or peephole == "none")
                if peephole == "diagonal":
                    mod = PeepholeLSTM(width, hidden, depth)
                else:
                    mod = (nn.LSTM if op == "lstm" else nn.GRU)(width, hidden, depth)
                width = hidden
            else:
                raise ValueError(f"unknown op {op!r}")
            self.add_module(name, mod)
            self.chain.append((op, mod))
        self.out_width = width

    def forward(self, x):
        """x: (T, N) -> per-frame outputs (T, OUT)."""
        for op, mod in self.chain:
            if mod is None:
                x = POINTWISE[op](x)
            elif isinstance(mod, (nn.LSTM, nn.GRU)):
                x = mod(x.unsqueeze(1))[0].squeeze(1)  # (T, batch 1, N)
            else:
                x = mod(x)
        return x


def build_model(spec):
    return ReelModel(spec).eval()


def aggregate(p, mode):
    """Clip prediction from per-frame outputs p (T, OUT), frames numbered t = 1..T."""
    if mode == "mean":
        return p.mean(0)
    if mode == "max":
        return p.max(0).values
    if mode == "last":
        return p[-1]
    if mode == "weighted":
        t = torch.arange(1, p.shape[0] + 1, dtype=p.dtype).unsqueeze(1)
        return (t * p).sum(0) / t.sum()
    raise ValueError(f"unknown clip mode {mode!r}")


@torch.no_grad()
def run(model, spec, x):
    """Return (per-frame outputs (T, OUT), clip aggregate (OUT) or None)."""
    model.eval()
    p = model(x)
    mode = spec.get("output", {}).get("clip")
    return p, (aggregate(p, mode) if mode else None)
