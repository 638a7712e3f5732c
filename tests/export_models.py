"""PyTorch models for tests/export.test: each written the way people write them, exported by
reel_torch.export and verified against the C it compiles to.

  /usr/bin/python3 tests/export_models.py NAME [--target T]   export + verify one model
  /usr/bin/python3 tests/export_models.py --list              the names

Every factory returns (model, example clip [1, T, *frame]) with deterministic weights. The
`spec_*` models are the specs in specs/ written as PyTorch modules (reel_torch.nn for the ops
PyTorch lacks); the others are everyday models. Batch norms get random statistics so that
folding them shows.
"""
import os
import sys
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.dont_write_bytecode = True
from reel_torch import ExportError, VerifyError, export  # noqa: E402
from reel_torch import nn as rnn  # noqa: E402

MODELS = {}


def model(fn):
    MODELS[fn.__name__] = fn
    return fn


def _stats(m, seed):
    """Random batch-norm statistics and affine parameters, as a trained model has."""
    g = torch.Generator().manual_seed(seed)
    for mod in m.modules():
        if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = mod.num_features
            mod.running_mean.copy_(torch.rand(c, generator=g) - 0.5)
            mod.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            if mod.affine:
                mod.weight.data.copy_(torch.rand(c, generator=g) + 0.5)
                mod.bias.data.copy_(torch.rand(c, generator=g) - 0.5)
    return m


def _clip(T, *frame, seed=0):
    return torch.rand((1, T) + frame, generator=torch.Generator().manual_seed(seed))


def _frames(x):
    """[1, T, ...] -> [T, ...]: the clip's frames as a batch, for per-frame layers."""
    return x.flatten(0, 1)


# ---- the specs of specs/ as PyTorch modules ------------------------------------------------------

class Cnn(nn.Module):
    """conv-relu-pool, conv-relu(-pool): the small CNN the snippet specs share."""

    def __init__(self, c, stride=1, second_pool=True, bias=True):
        super().__init__()
        layers = [nn.Conv2d(c, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                  nn.Conv2d(8, 16, 3, stride=stride, padding=1, bias=bias), nn.ReLU()]
        self.cnn = nn.Sequential(*(layers + ([nn.MaxPool2d(2)] if second_pool else [])))


@model
def spec_lrcn():
    class Lrcn(nn.Module):
        def __init__(self):
            super().__init__()
            self.cnn = nn.Sequential(
                nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding="same", bias=False),
                nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
                nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.rnn = nn.LSTM(64, 64, batch_first=True)
            self.head = nn.Linear(64, 10)

        def forward(self, x):
            b, t = x.shape[:2]
            f = self.cnn(x.view(b * t, *x.shape[2:])).view(b, t, -1)
            y, _ = self.rnn(f)
            return F.softmax(self.head(y), dim=-1).mean(dim=1)
    torch.manual_seed(10)
    return _stats(Lrcn(), 10), _clip(4, 3, 64, 64)


@model
def spec_lstm_classifier():
    class LstmClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Sequential(nn.Linear(32, 48), nn.ReLU(), nn.Dropout(0.5))
            self.lstm = nn.LSTM(48, 48, num_layers=2, batch_first=True)
            self.head = nn.Linear(48, 10)

        def forward(self, x):
            y, _ = self.lstm(self.proj(x))
            return self.head(y).softmax(-1)
    torch.manual_seed(11)
    return LstmClassifier(), _clip(9, 32)


@model
def spec_gru_stack():
    class GruStack(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(24, 40, num_layers=3)           # time first
            self.readout = nn.Linear(40, 8, bias=False)

        def forward(self, x):
            y, _ = self.gru(x.transpose(0, 1))
            return torch.tanh(self.readout(y)).transpose(0, 1)
    torch.manual_seed(12)
    return GruStack(), _clip(9, 24)


@model
def spec_fc_lstm():
    class FcLstm(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = rnn.PeepholeLSTM(16, 32, num_layers=2, batch_first=True)
            self.head = nn.Linear(32, 16)

        def forward(self, x):
            return self.head(self.rnn(x)[0])
    torch.manual_seed(13)
    return FcLstm(), _clip(9, 16)


@model
def spec_snippets_lstm():
    class SnippetsLstm(Cnn):
        def __init__(self):
            super().__init__(3, stride=2, second_pool=False)
            self.lstm = nn.LSTM(16, 32, num_layers=3, batch_first=True)
            self.head = nn.Linear(32, 10)

        def forward(self, x):
            f = self.cnn(_frames(x)).mean(dim=(2, 3))          # global average pool
            y, _ = self.lstm(f.unsqueeze(0))
            return self.head(y).softmax(-1)
    torch.manual_seed(14)
    return SnippetsLstm(), _clip(6, 3, 24, 24)


@model
def spec_snippets_convpool():
    class SnippetsConvpool(Cnn):
        def __init__(self):
            super().__init__(3)
            self.pool2 = nn.MaxPool2d(2)
            self.head = nn.Linear(16 * 4 * 4, 10)

        def forward(self, x):
            f = self.pool2(self.cnn(_frames(x))).unsqueeze(0)   # [1, T, 16, 4, 4]
            pooled = f.max(dim=1).values                        # max over the clip
            return F.softmax(self.head(pooled.flatten(1)), dim=1)
    torch.manual_seed(15)
    return SnippetsConvpool(), _clip(5, 3, 32, 32)


@model
def spec_snippets_slowpool():
    class SnippetsSlowpool(Cnn):
        def __init__(self):
            super().__init__(3, stride=2, second_pool=False)
            self.slow = rnn.TemporalPool("max", frames=4, stride=2, batch_first=True)
            self.fc = nn.Linear(16 * 4 * 4, 32)
            self.pool = rnn.TemporalPool("max", batch_first=True)
            self.head = nn.Linear(32, 10)

        def forward(self, x):
            f = self.cnn(_frames(x)).unsqueeze(0)               # [1, T, 16, 4, 4]
            w = self.slow(f).flatten(2)                         # [1, K, 256]
            return self.head(self.pool(F.relu(self.fc(w)))).softmax(-1)
    torch.manual_seed(16)
    return SnippetsSlowpool(), _clip(11, 3, 16, 16)


@model
def spec_multilstm():
    class MultiLstm(nn.Module):
        def __init__(self):
            super().__init__()
            self.feat = nn.Sequential(nn.Linear(64, 48), nn.ReLU())
            self.attn = rnn.AttentionLSTM(48, 48, score="general", window=8, batch_first=True)
            self.out = nn.Linear(48, 40)

        def forward(self, x):
            h, _ = self.attn(self.feat(x))
            return torch.sigmoid(self.out(h))
    torch.manual_seed(17)
    return MultiLstm(), _clip(20, 64)


@model
def spec_visual_attention():
    class VisualAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.cnn = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                     nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                     nn.Conv2d(16, 64, 3, padding=1), nn.ReLU())
            self.look = rnn.AttentionLSTM(64, 64, score="location", positions=49,
                                          init_from=True, batch_first=True)
            self.head = nn.Linear(64, 10)

        def forward(self, x):
            maps = self.cnn(_frames(x)).unsqueeze(0)            # [1, T, 64, 7, 7]
            h, _ = self.look(maps)
            return self.head(h).softmax(-1).mean(1)
    torch.manual_seed(18)
    return VisualAttention(), _clip(6, 3, 28, 28)


@model
def spec_convgru_stack():
    class ConvGruStack(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
            self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
            self.rcn = rnn.ConvGRU([16, 32], [16, 32], 3, batch_first=True)
            self.head = nn.Linear(32, 10)

        def forward(self, x):
            a = F.relu(self.conv1(_frames(x)))
            b = F.relu(self.conv2(F.max_pool2d(a, 2)))
            h, _ = self.rcn([a.unsqueeze(0), b.unsqueeze(0)])
            f = F.adaptive_avg_pool2d(h.flatten(0, 1), 1).flatten(1)
            return self.head(f).softmax(-1).unsqueeze(0).mean(1)
    torch.manual_seed(19)
    return ConvGruStack(), _clip(5, 3, 32, 32)


class Patches(nn.Module):
    """Shi et al.'s forecaster on 4x4 patches: the bundled demo's model (and
    specs/convlstm_forecaster.yaml): frames [1, T, 1, 64, 64] -> 10 predicted frames."""

    def __init__(self, hidden=(32, 32), steps=10):
        super().__init__()
        self.patches = nn.PixelUnshuffle(4)
        self.model = rnn.EncoderForecaster(16, list(hidden), 3, 16, steps, batch_first=True)
        self.frames = nn.PixelShuffle(4)

    def forward(self, x):
        p = self.patches(_frames(x)).unsqueeze(0)
        y = self.model(p)                                        # [1, steps, 16, 16, 16]
        return self.frames(y[0]).unsqueeze(0)


@model
def spec_convlstm_forecaster():
    torch.manual_seed(20)
    return Patches(), _clip(4, 1, 64, 64)


@model
def spec_seq2seq_attention():
    class Translator(nn.Module):
        def __init__(self):
            super().__init__()
            self.s2s = rnn.Seq2Seq(16, 32, window=12, steps=5, batch_first=True)

        def forward(self, x):
            return self.s2s(x)
    torch.manual_seed(21)
    return Translator(), _clip(9, 16)


@model
def spec_convlstm_unet():
    class ConvLstmUNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc1 = nn.Conv2d(1, 16, 3, padding=1)
            self.enc2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
            self.enc3 = nn.Conv2d(32, 32, 3, stride=2, padding=1)
            self.rnn = rnn.ConvLSTM(32, 32, 3, batch_first=True)
            self.up1 = nn.ConvTranspose2d(32, 32, 3, stride=2, padding=1, output_padding=1)
            self.dec1 = nn.Conv2d(64, 16, 3, padding=1)
            self.up2 = nn.Upsample(scale_factor=2, mode="bilinear")
            self.dec2 = nn.Conv2d(32, 1, 3, padding=1)

        def forward(self, x):
            e1 = F.relu(self.enc1(_frames(x)))
            e2 = F.relu(self.enc2(e1))
            h, _ = self.rnn(F.relu(self.enc3(e2)).unsqueeze(0))
            d1 = F.relu(self.dec1(torch.cat([F.relu(self.up1(h[0])), e2], dim=1)))
            return torch.sigmoid(self.dec2(torch.cat([self.up2(d1), e1], dim=1))).unsqueeze(0)
    torch.manual_seed(22)
    return ConvLstmUNet(), _clip(3, 1, 64, 64)


@model
def spec_lrcn_mha():
    class LrcnMha(nn.Module):
        def __init__(self):
            super().__init__()
            self.camera = rnn.CameraInput(3, "uint8", "hwc", mean=[0.485, 0.456, 0.406],
                                          std=[0.229, 0.224, 0.225])
            self.cnn = nn.Sequential(
                nn.Conv2d(3, 32, 4, stride=4, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
                nn.Conv2d(32, 64, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(64),
                nn.ReLU(), nn.Conv2d(64, 128, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(128), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.feat = nn.Linear(128, 128)
            self.attn = rnn.WindowMultiheadAttention(8, 128, 4, batch_first=True)
            self.norm = nn.LayerNorm(128)
            self.rnn = nn.LSTM(128, 128, batch_first=True)
            self.head = nn.Linear(128, 10)

        def forward(self, x):
            b, t = x.shape[:2]
            f = self.cnn(self.camera(x[0])).view(b, t, -1)
            f = self.feat(f)
            a, _ = self.attn(f)
            y, _ = self.rnn(self.norm(f + a))
            return F.softmax(self.head(y), dim=-1).mean(dim=1)
    torch.manual_seed(23)
    net = _stats(LrcnMha(), 23)
    with torch.no_grad():
        net.attn.in_proj_bias.uniform_(-0.5, 0.5)
    frames = torch.randint(0, 256, (1, 10, 64, 64, 3), dtype=torch.uint8)
    return net, frames


# ---- everyday models ---------------------------------------------------------------------------------

@model
def sequential_cnn_lstm():
    """A CNN in nn.Sequential ending in AdaptiveAvgPool2d(1) and Flatten, an LSTM, a head,
    the mean over time."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU6(),
                nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.Hardswish(),
                nn.Conv2d(16, 32, 1), nn.SiLU(), nn.AvgPool2d(2, ceil_mode=True),
                nn.Dropout2d(0.2), nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.lstm = nn.LSTM(32, 24, batch_first=True)
            self.classifier = nn.Sequential(nn.Dropout(0.3), nn.Linear(24, 6))

        def forward(self, clip):
            b, t, c, h, w = clip.shape
            feats = self.features(clip.reshape(b * t, c, h, w)).reshape(b, t, -1)
            out, _ = self.lstm(feats)
            return self.classifier(out).mean(dim=1)
    torch.manual_seed(30)
    return _stats(Net(), 30), _clip(5, 3, 33, 31)


@model
def last_hidden_state():
    """nn.GRU over time-first frames, the head on the last layer's final h (h_n[-1])."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm = nn.BatchNorm1d(20, affine=False)
            self.rnn = nn.LSTM(20, 16, num_layers=2, bias=False)
            self.fc = nn.Linear(16, 3)

        def forward(self, x):
            frames = self.norm(x[:, 0])                        # [T, 20]
            _, (h, c) = self.rnn(frames.unsqueeze(1))
            return F.leaky_relu(self.fc(h[-1]), 0.2)
    torch.manual_seed(31)
    return _stats(Net(), 31), (_clip(7, 20).transpose(0, 1))


@model
def lstm_projection():
    """nn.LSTM with proj_size, stacked, batch-first."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(12, 32, num_layers=2, proj_size=8, batch_first=True)
            self.head = nn.Linear(8, 4)

        def forward(self, x):
            return self.head(self.rnn(x)[0])
    torch.manual_seed(46)
    return Net(), _clip(7, 12)


@model
def gru_stack_plain():
    """A GRU stack as people write it: batch_first, dropout between layers, a head."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.GRU(12, 32, num_layers=3, batch_first=True, dropout=0.25)
            self.out = nn.Linear(32, 4)

        def forward(self, x):
            y, _ = self.rnn(x)
            return self.out(y)
    torch.manual_seed(32)
    return Net(), _clip(10, 12)


@model
def convlstm_forecaster_small():
    """The ConvLSTM encoder-forecaster from reel_torch.nn, three layers, channel peepholes."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.ef = rnn.EncoderForecaster(2, [8, 8, 8], 3, 2, steps=3, peephole="channel",
                                            batch_first=True)

        def forward(self, x):
            return self.ef(x)
    torch.manual_seed(33)
    net = Net()
    for name, p in net.named_parameters():   # peepholes start at zero: make them show
        if "weight_c" in name:
            p.data.uniform_(-0.5, 0.5)
    return net, _clip(4, 2, 12, 10)


@model
def attention_over_lstm():
    """Attention over the last 6 LSTM outputs, queried by the current one, then a head on
    [context; h]."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(10, 20, batch_first=True)
            self.attn = rnn.WindowAttention(6, "dot", 20, 20, scale=True, batch_first=True)
            self.head = nn.Linear(40, 5)

        def forward(self, x):
            h, _ = self.rnn(x)
            context, _ = self.attn(h, h)
            return self.head(torch.cat([context, h], dim=-1))
    torch.manual_seed(34)
    return Net(), _clip(9, 10)


@model
def multihead_attention():
    """nn.MultiheadAttention-style attention: the LSTM's output of each frame queries the last
    8 frames' features (kdim = vdim != embed_dim, so q/k/v_proj_weight), 4 heads."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.feat = nn.Sequential(nn.Linear(8, 16), nn.Tanh())
            self.rnn = nn.LSTM(16, 24, batch_first=True)
            self.attn = rnn.WindowMultiheadAttention(8, 24, 4, kdim=16, vdim=16, batch_first=True)
            self.head = nn.Linear(24, 5)

        def forward(self, x):
            f = self.feat(x)
            h, _ = self.rnn(f)
            context, _ = self.attn(h, f, f)
            return self.head(context)
    torch.manual_seed(56)
    net = Net()
    with torch.no_grad():   # peaked weights, so the scores show
        net.attn.q_proj_weight.mul_(4)
        net.attn.in_proj_bias.uniform_(-0.5, 0.5)
    return net, _clip(11, 8)


@model
def bidirectional_windows():
    """A bidirectional LSTM over windows of 5 frames every 3 (reel_torch.nn.WindowLSTM), a linear
    layer on each frame's row, then the window flattened into a classifier, the clip's prediction
    the mean over windows."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.feat = nn.Sequential(nn.Linear(7, 12), nn.ReLU())
            self.rnn = rnn.WindowLSTM(12, 6, frames=5, stride=3, num_layers=2, batch_first=True)
            self.rows = nn.Linear(12, 4)
            self.head = nn.Linear(5 * 4, 4)

        def forward(self, x):
            w = self.rnn(self.feat(x))                  # (1, K, 5, 12)
            return self.head(torch.relu(self.rows(w)).flatten(2)).mean(dim=1)
    torch.manual_seed(67)
    return Net(), _clip(11, 7)


@model
def attention_pooling():
    """Attention pooling over the last 6 frames' features: nn.Linear(D, 1) scores, and a
    learned query with additive scores over a second feature map's values."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.feat = nn.Sequential(nn.Linear(8, 16), nn.ReLU())
            self.vals = nn.Linear(16, 10)
            self.pool = rnn.AttentionPool(6, 16, batch_first=True)
            self.pool_q = rnn.AttentionPool(6, 16, "additive", hidden=5, batch_first=True)
            self.head = nn.Linear(26, 3)

        def forward(self, x):
            f = self.feat(x)
            a, _ = self.pool(f)
            b, _ = self.pool_q(f, self.vals(f))
            return self.head(torch.cat([a, b], dim=-1))
    torch.manual_seed(45)
    net = Net()
    with torch.no_grad():   # peaked weights, so the scores show
        net.pool.attn.score.weight.mul_(4)
        net.pool_q.attn.v.weight.mul_(4)
    return net, _clip(9, 8)


@model
def map_attention():
    """Additive attention over a CNN map's positions, queried by a vector from the same
    frame; the values a second map."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.keys = nn.Conv2d(3, 12, 3, stride=2, padding=1)
            self.values = nn.Conv2d(3, 6, 3, stride=2, padding=1)
            self.query = nn.Linear(12, 10)
            self.attn = rnn.MapAttention("additive", 10, 12, hidden=7, batch_first=True)

        def forward(self, x):
            k = torch.tanh(self.keys(_frames(x)))
            v = self.values(_frames(x))
            q = self.query(k.mean(dim=(2, 3)))
            out, _ = self.attn(q.unsqueeze(0), k.unsqueeze(0), v.unsqueeze(0))
            return out
    torch.manual_seed(38)
    return Net(), _clip(4, 3, 10, 8)


@model
def causal_padding():
    """Zero pads before convs, as causal or asymmetric padding is written: nn.ZeroPad2d and
    F.pad, folded into the conv after them."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.pad = nn.ZeroPad2d((2, 0, 2, 0))
            self.conv1 = nn.Conv2d(3, 6, 3)
            self.conv2 = nn.Conv2d(6, 4, (2, 3), stride=(1, 2), padding=1)
            self.head = nn.Linear(4 * 11 * 5, 3)

        def forward(self, x):
            y = torch.relu(self.conv1(self.pad(_frames(x))))
            y = self.conv2(F.pad(y, (0, 1, 1, 0)))
            return self.head(y.flatten(1)).unsqueeze(0)
    torch.manual_seed(39)
    return Net(), _clip(3, 3, 9, 9)


@model
def decoder_reshape():
    """A vector decoded back into a map (nn.Unflatten), a conv over it, and a view into
    another map: reshape both ways."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.GRU(10, 32, batch_first=True)
            self.up = nn.Sequential(nn.Linear(32, 48), nn.Tanh(), nn.Unflatten(1, (3, 4, 4)),
                                    nn.Conv2d(3, 4, 3, padding=1))
            self.out = nn.Conv2d(2, 1, 3)

        def forward(self, x):
            h, _ = self.rnn(x)
            m = self.up(h[0])                                   # [T, 4, 4, 4]
            return self.out(m.reshape(-1, 2, 8, 4)).unsqueeze(0)
    torch.manual_seed(41)
    return Net(), _clip(5, 10)


@model
def normalised():
    """LayerNorm and GroupNorm as they appear in modern backbones and heads."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1),
                                      nn.GroupNorm(4, 16), nn.GELU(),
                                      nn.Conv2d(16, 16, 3, padding=1), nn.LayerNorm([8, 8]),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.rnn = nn.LSTM(16, 24, batch_first=True)
            self.head = nn.Sequential(nn.LayerNorm(24, eps=1e-3), nn.Linear(24, 4))

        def forward(self, x):
            y, _ = self.rnn(self.stem(_frames(x)).unsqueeze(0))
            return self.head(y)
    torch.manual_seed(42)
    net = Net()
    for m in net.modules():
        if isinstance(m, (nn.LayerNorm, nn.GroupNorm)):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    return net, _clip(4, 3, 16, 16)


@model
def upsampling_decoder():
    """A small U-Net-like decoder: bilinear and nearest upsampling (module and function, size
    and scale), skip connections by concatenation."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.down1 = nn.Conv2d(3, 8, 3, stride=2, padding=1)
            self.down2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
            self.up1 = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
            self.merge1 = nn.Conv2d(24, 8, 3, padding=1)
            self.merge2 = nn.Conv2d(11, 4, 3, padding=1)
            self.head = nn.Linear(4 * 10 * 14, 3)

        def forward(self, x):
            f = _frames(x)
            d1 = torch.relu(self.down1(f))                     # [T, 8, 5, 7]
            d2 = torch.relu(self.down2(d1))                    # [T, 16, 3, 4]
            u1 = F.interpolate(d2, size=(5, 7), mode="nearest")
            m1 = torch.relu(self.merge1(torch.cat([u1, d1], dim=1)))
            u2 = self.up1(m1)                                  # [T, 8, 10, 14]
            m2 = self.merge2(torch.cat([u2, f], dim=1))
            return self.head(m2.flatten(1)).unsqueeze(0)
    torch.manual_seed(43)
    return Net(), _clip(3, 3, 10, 14)


@model
def transposed_decoder():
    """A decoder of transposed convolutions (stride 2 with output_padding, grouped, dilated)
    after a GRU's state, ReLUs fused into them."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.GRU(6, 32, batch_first=True)
            self.dec = nn.Sequential(nn.Unflatten(1, (8, 2, 2)),
                                     nn.ConvTranspose2d(8, 6, 3, stride=2, padding=1,
                                                        output_padding=1), nn.ReLU(),
                                     nn.ConvTranspose2d(6, 4, 3, groups=2, dilation=2),
                                     nn.ReLU(), nn.ConvTranspose2d(4, 1, 2, stride=2, bias=False))
            self.head = nn.Linear(1 * 16 * 16, 2)

        def forward(self, x):
            h, _ = self.rnn(x)
            return self.head(self.dec(h[0]).flatten(1)).unsqueeze(0)
    torch.manual_seed(44)
    return Net(), _clip(4, 6)


@model
def resnet18_backbone():
    """torchvision's resnet18 per frame (its fc replaced), an LSTM, a head; last frame."""
    import torchvision

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.cnn = torchvision.models.resnet18(num_classes=10)
            self.cnn.fc = nn.Identity()
            self.rnn = nn.LSTM(512, 64, batch_first=True)
            self.head = nn.Linear(64, 10)

        def forward(self, x):
            f = self.cnn(x.flatten(0, 1)).unsqueeze(0)
            y, _ = self.rnn(f)
            return self.head(y)[:, -1]
    torch.manual_seed(35)
    return _stats(Net(), 35), _clip(2, 3, 64, 64)


@model
def data_parallel():
    """A model wrapped in nn.DataParallel, as it was trained: its names start with module."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 16)
            self.rnn = nn.GRU(16, 16, batch_first=True)
            self.head = nn.Linear(16, 2)

        def forward(self, x):
            y, _ = self.rnn(torch.tanh(self.fc(x)))
            return self.head(y)
    torch.manual_seed(36)
    return nn.DataParallel(Net()), _clip(6, 8)


@model
def temporal_conv_pool():
    """reel_torch.nn.TemporalConv over 3 frames (stride 2), max over the windows: a
    time-domain convolution (Beyond Short Snippets)."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.tconv = rnn.TemporalConv(8, 12, frames=3, stride=2, kernel_size=3,
                                          padding="same", batch_first=True)
            self.pool = rnn.TemporalPool("mean", batch_first=True)
            self.head = nn.Linear(12 * 6 * 6, 4)

        def forward(self, x):
            f = F.max_pool2d(F.elu(self.conv(_frames(x))), 2).unsqueeze(0)
            w = self.tconv(f)                                   # [1, K, 12, 6, 6]
            return self.head(self.pool(w).flatten(1))
    torch.manual_seed(37)
    return Net(), _clip(8, 3, 12, 12)


# ---- what export cannot map, and what verify must catch ----------------------------------------

@model
def unmappable():
    """Three modules reel has no op for: one ExportError names them all."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.up = nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect")
            self.norm = nn.InstanceNorm2d(4)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.rnn = nn.LSTM(4, 8, batch_first=True, bidirectional=True)

        def forward(self, x):
            f = self.pool(self.norm(self.up(_frames(x)))).flatten(1)
            return self.rnn(f.unsqueeze(0))[0]
    return Net(), _clip(3, 3, 8, 8)


class Small(nn.Module):
    """The module the hand-written specs below transcribe."""

    def __init__(self):
        super().__init__()
        self.cnn = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8, eps=1e-3),
                                 nn.ReLU(), nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1),
                                 nn.Flatten())
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        return self.head(self.cnn(_frames(x))).unsqueeze(0)


SMALL_SPEC = """reel: 1
model: small
input: {frame: [3, 16, 16]}
layers:
  - {name: cnn.0, op: conv2d, out: 8, kernel: 3, padding: 1}
  - {name: cnn.1, op: batchnorm, eps: 0.001}
  - {op: relu}
  - {op: maxpool, kernel: 2}
  - {op: global_avgpool}
  - {op: flatten}
  - {name: head, op: linear, out: 4}
"""
# Each a silent transcription mistake: reelc accepts the spec, the numbers are wrong.
MISTAKES = {"right": ("", ""),
            "forgot_padding": (", padding: 1}", "}"),
            "avgpool_for_maxpool": ("op: maxpool", "op: avgpool"),
            "wrong_eps": ("eps: 0.001", "eps: 0.00001")}


def verify_case(case, target):
    """Verify Small against SMALL_SPEC with one mistake: exit 0 when they agree."""
    from reel_torch import safetensors, verify
    torch.manual_seed(40)
    net = _stats(Small(), 40)
    net.cnn[1].running_var.uniform_(0.002, 0.02)   # small variances, as trained ones often are
    old, new = MISTAKES[case]
    with tempfile.TemporaryDirectory(prefix="reel_verify_") as out:
        spec, weights = os.path.join(out, "small.yaml"), os.path.join(out, "small.safetensors")
        with open(spec, "w") as f:
            f.write(SMALL_SPEC.replace(old, new, 1) if old else SMALL_SPEC)
        safetensors.save_file(net.state_dict(), weights)
        report = verify(net, spec, weights, _clip(3, 3, 16, 16), target=target)
    return 0 if report.ok else 1


def main(argv):
    if argv[:1] == ["--list"]:
        print(" ".join(MODELS))
        return 0
    if argv[:1] == ["--verify"]:
        return verify_case(argv[1], argv[3] if argv[2:3] == ["--target"] else None)
    name, target = argv[0], None
    if "--target" in argv:
        target = argv[argv.index("--target") + 1]
    net, clip = MODELS[name]()
    time_first = name == "last_hidden_state"
    with tempfile.TemporaryDirectory(prefix="reel_export_") as out:
        try:
            export(net, clip, out, name=name, time_first=time_first, target=target)
        except (ExportError, VerifyError) as e:
            print(f"{type(e).__name__}: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
