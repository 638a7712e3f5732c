"""PyTorch modules with exactly reel's semantics, for the ops PyTorch has no module for.

Train with these, and `reel_torch.export` maps each one onto its reel op (docs/spec.md gives
the equations; the names below are the state_dict names reel reads):

  PeepholeLSTM       lstm with `peephole: diagonal`
  ConvLSTM           convlstm (Shi et al.), with `output: last | concat`, peepholes
  ConvGRU            convgru (Ballas et al.), plain or GRU-RCN (an input per stacked layer)
  EncoderForecaster  layers: convlstm; forecast: convlstm with init_state, 1x1 conv head
  TemporalPool       temporal_pool: windowed (`frames`, `stride`) or over the clip
  TemporalConv       temporal_conv (an nn.Conv3d over the frames)
  AttentionLSTM      attention whose query is the lstm's previous h, feeding that lstm:
                     MultiLSTM (keys: a window of frames) and soft visual attention (keys: the
                     positions of a feature map), with init_from
  WindowAttention    attention over a window of a layer's last N outputs, query from this frame
  AttentionPool      attention over a window with nn.Linear(D, 1) scores or a learned query
  MapAttention       attention over the positions of a [D, H, W] map, query from this frame
  Seq2Seq            lstm encoder with a window, lstm decoder with init_state and attention
                     over the encoder's window, fed back its own prediction (Luong et al.)

Sequences follow nn.LSTM: (T, B, ...) by default, (B, T, ...) with batch_first=True. The
building blocks (Attention, LocationAttention, InitLSTM, ConvLSTMCell, ConvGRUCell,
window_stack, temporal_windows, clip_pool) are the ones tools/reference.py builds any spec
from, so there is one definition of each op.
"""
import math

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


def _time_first(x, batch_first):
    return x.transpose(0, 1) if batch_first else x


# ---- dense recurrent cells ---------------------------------------------------------------------

class PeepholeLSTM(nn.Module):
    """Multi-layer LSTM with diagonal peepholes (Graves; Shi et al. eq. 2): reel's
    `lstm` with `peephole: diagonal`.

    Parameters are nn.LSTM's plus weight_ci/cf/co_l{k} of shape (H), so an nn.LSTM
    state_dict plus zero peepholes loads unchanged. i and f see the old cell c, o sees the
    new cell c'. forward(x, hx=None) -> (output, (h_n, c_n)) as nn.LSTM: x (T, B, N), or
    (B, T, N) with batch_first, or unbatched (T, N); h_n and c_n (layers, B, H).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, batch_first=False):
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.batch_first = batch_first
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

    def forward(self, x, hx=None):
        unbatched = x.dim() == 2
        x = x if unbatched else _time_first(x, self.batch_first)   # (T, [B,] N)
        hs, cs = [], []
        for k in range(self.num_layers):
            p = lambda n: getattr(self, f"{n}_l{k}")
            if hx is None:
                h = x.new_zeros(x.shape[1:-1] + (self.hidden_size,))
                c = x.new_zeros(x.shape[1:-1] + (self.hidden_size,))
            else:
                h, c = hx[0][k], hx[1][k]
            # Input projections for all frames at once, as nn.LSTM does.
            xg = F.linear(x, p("weight_ih"), p("bias_ih"))
            outs = []
            for t in range(x.shape[0]):
                gi, gf, gg, go = (xg[t] + F.linear(h, p("weight_hh"), p("bias_hh"))).chunk(4, -1)
                i = torch.sigmoid(gi + p("weight_ci") * c)
                f = torch.sigmoid(gf + p("weight_cf") * c)
                c = f * c + i * torch.tanh(gg)
                o = torch.sigmoid(go + p("weight_co") * c)  # the new cell
                h = o * torch.tanh(c)
                outs.append(h)
            x = torch.stack(outs)
            hs.append(h)
            cs.append(c)
        out = x if unbatched else _time_first(x, self.batch_first)
        return out, (torch.stack(hs), torch.stack(cs))


class InitLSTM(nn.LSTM):
    """A one-layer nn.LSTM whose first state comes from a feature vector (Sharma et al.'s
    f_init): h_0 = tanh(init_h(m)), c_0 = tanh(init_c(m)), with m a vector, or a [D, H, W] map
    averaged over its positions: reel's `lstm` with `init_from`. State-dict names: nn.LSTM's
    (weight_ih_l0, ...) plus init_h.weight, init_h.bias, init_c.weight, init_c.bias."""

    def __init__(self, input_size, hidden_size, init_size, batch_first=False):
        super().__init__(input_size, hidden_size, batch_first=batch_first)
        self.init_h = nn.Linear(init_size, hidden_size)
        self.init_c = nn.Linear(init_size, hidden_size)

    def initial_state(self, m):
        """m: (B, D) or (B, D, H, W) -> nn.LSTM's hx: (h_0, c_0), each (1 layer, B, H)."""
        if m.dim() == 4:
            m = m.mean(dim=(2, 3))
        return torch.tanh(self.init_h(m)).unsqueeze(0), torch.tanh(self.init_c(m)).unsqueeze(0)


class _WindowBidirectional:
    """nn.LSTM / nn.GRU with bidirectional=True run on each window of `frames` frames (every
    `stride`) alone, from a zero state: reel's lstm / gru with `bidirectional: true`.

    forward(x) -> (K, B, frames, 2 hidden): x (T, B, D), or batch-first (B, T, D) giving
    (B, K, frames, 2 hidden); window k
    covers frames [k stride, k stride + frames), its rows [forward h_t; backward h_t] as PyTorch
    lays them out. With T < frames (no window closed yet) the T frames seen so far form the one
    window, the rows past them zeros."""

    def _init(self, frames, stride, batch_first):
        self.frames, self.stride = frames, stride or frames
        self.time_batch_first = batch_first

    def forward(self, x):
        x = _time_first(x, self.time_batch_first)
        T, n = x.shape[0], self.frames
        starts = range(0, T - n + 1, self.stride) if T >= n else [0]
        outs = []
        for s in starts:
            y = super().forward(x[s:s + n])[0]               # (valid, B, 2 hidden)
            outs.append(F.pad(y, (0, 0, 0, 0, 0, n - y.shape[0])).transpose(0, 1))
        return _time_first(torch.stack(outs), self.time_batch_first)  # (K, B, frames, 2 hidden)


class WindowLSTM(_WindowBidirectional, nn.LSTM):
    __doc__ = _WindowBidirectional.__doc__

    def __init__(self, input_size, hidden_size, frames, stride=None, num_layers=1, bias=True,
                 batch_first=False):
        nn.LSTM.__init__(self, input_size, hidden_size, num_layers, bias=bias,
                         bidirectional=True)
        self._init(frames, stride, batch_first)


class WindowGRU(_WindowBidirectional, nn.GRU):
    __doc__ = _WindowBidirectional.__doc__

    def __init__(self, input_size, hidden_size, frames, stride=None, num_layers=1, bias=True,
                 batch_first=False):
        nn.GRU.__init__(self, input_size, hidden_size, num_layers, bias=bias, bidirectional=True)
        self._init(frames, stride, batch_first)


# ---- input -------------------------------------------------------------------------------------

class CameraInput(nn.Module):
    """Frames as a camera gives them into the model's float frames: reel's `input:` keys
    dtype, layout, scale, mean and std. x = (frame * scale - mean[c]) / std[c] per channel,
    torchvision's ToTensor (scale 1/255 for uint8) and Normalize; layout "hwc" takes channel-last
    frames. forward(frames) -> floats: frames (T, H, W, C) (hwc) or (T, C, H, W) or (T, N), any
    dtype (uint8 from a camera); out (T, C, H, W) or (T, N), float32."""

    def __init__(self, channels, dtype="uint8", layout="chw", mean=None, std=None, scale=None):
        super().__init__()
        assert dtype in ("uint8", "float32") and layout in ("chw", "hwc"), (dtype, layout)
        self.channels, self.dtype, self.layout = channels, dtype, layout
        self.scale = scale if scale is not None else 1 / 255 if dtype == "uint8" else 1.0

        def per_channel(v, default):
            v = [default] if v is None else [v] if isinstance(v, (int, float)) else list(v)
            return torch.tensor(v * channels if len(v) == 1 else v, dtype=torch.float32)
        self.register_buffer("mean", per_channel(mean, 0.0), persistent=False)
        self.register_buffer("std", per_channel(std, 1.0), persistent=False)

    def forward(self, frames):
        x = frames.float()
        if self.layout == "hwc":   # (contiguous: a channel-last view would pick other kernels)
            x = x.movedim(-1, -3).contiguous()
        x = x / 255 if self.dtype == "uint8" and self.scale == 1 / 255 else x * self.scale
        shape = (-1,) + (1,) * (x.dim() - 2)    # per channel: dim 1 of (T, C, ...)
        return (x - self.mean.view(shape)) / self.std.view(shape)


# ---- attention ---------------------------------------------------------------------------------

def attend(e, values, mask):
    """Softmax of the energies e (B, n) over the valid entries (mask (B, n), None: all), and the
    weighted sum of values (B, n, Dv). Returns (B, Dv) and the weights (B, n), 0 where masked."""
    if mask is not None:
        e = e.masked_fill(~mask, float("-inf"))
    a = torch.softmax(e, dim=-1)
    return torch.bmm(a.unsqueeze(1), values).squeeze(1), a


class Attention(nn.Module):
    """Soft attention over n keys k_i with a query q: Luong's `dot` (e_i = q . k_i) and
    `general` (e_i = (W_q q) . k_i, w_q = nn.Linear(Dq, Dk, bias=False)), optionally divided by
    sqrt(Dk) (`scale`), Bahdanau's `additive` (e_i = v . tanh(W_x k_i + b_x + W_h q), with
    w_x = nn.Linear(Dk, A), w_h = nn.Linear(Dq, A, bias=False), v = nn.Linear(A, 1, bias=False)),
    or `linear`, the keys scored alone (e_i = score(k_i), score = nn.Linear(Dk, 1)). With
    learned_query the query is a trained vector `query` (Dk), reel's `query: learned`.
    forward(q (B, Dq) or None, keys (B, n, Dk), values (B, n, Dv), mask (B, n) or None) ->
    (sum_i a_i v_i (B, Dv), a (B, n)), a = softmax(e) over the valid keys."""

    def __init__(self, score, dq, dk, hidden=None, scale=False, learned_query=False):
        super().__init__()
        assert score in ("dot", "general", "additive", "linear"), score
        self.kind, self.scale, self.dk, self.hidden = score, scale, dk, hidden
        if learned_query:
            assert score != "linear" and dq == dk, "a learned query is a key-sized vector"
            self.query = nn.Parameter(torch.empty(dk).uniform_(-1.0, 1.0))
        if score == "dot":
            assert dq == dk, f"dot attention needs Dq == Dk, got {dq} and {dk}"
        elif score == "general":
            self.w_q = nn.Linear(dq, dk, bias=False)
        elif score == "linear":
            assert not scale, "linear attention: no `scale`"
            self.score = nn.Linear(dk, 1)
        else:
            assert hidden and not scale, "additive attention: `hidden` required, no `scale`"
            self.w_x = nn.Linear(dk, hidden)
            self.w_h = nn.Linear(dq, hidden, bias=False)
            self.v = nn.Linear(hidden, 1, bias=False)

    def energies(self, q, keys):
        if self.kind == "linear":
            return self.score(keys).squeeze(-1)
        if q is None:
            q = self.query.expand(keys.shape[0], -1)
        if self.kind == "additive":
            return self.v(torch.tanh(self.w_x(keys) + self.w_h(q).unsqueeze(1))).squeeze(-1)
        if self.kind == "general":
            q = self.w_q(q)
        e = torch.bmm(keys, q.unsqueeze(-1)).squeeze(-1)
        return e / math.sqrt(self.dk) if self.scale else e

    def forward(self, q, keys, values, mask=None):
        return attend(self.energies(q, keys), values, mask)


class LocationAttention(nn.Linear):
    """Sharma et al.'s location softmax over the n = H*W regions of a map: e = W q + b (an
    nn.Linear(Dq, n): <name>.weight, <name>.bias); the keys are not scored: `score: location`."""

    kind = "location"

    def forward(self, q, keys, values, mask=None):
        return attend(super().forward(q), values, mask)


def window_stack(seq, n):
    """The windows of a layer's outputs seq (T, ...): (T, n, ...), entry j of window t being the
    output of frame t - j (newest first; zeros before frame 0), and the mask (T, n) of the
    filled entries (j <= t)."""
    pad = seq.new_zeros((n - 1,) + tuple(seq.shape[1:]))
    win = torch.cat([pad, seq]).unfold(0, n, 1)        # (T, ..., n): entry m is frame t - n + 1 + m
    win = win.flip(-1).movedim(-1, 1).contiguous()     # (T, n, ...), newest first
    mask = torch.arange(n).unsqueeze(0) <= torch.arange(seq.shape[0]).unsqueeze(1)
    return win, mask


def map_keys(maps):
    """A map (B, D, H, W) as H*W keys (B, H*W, D), position i = row W + col."""
    return maps.flatten(2).transpose(1, 2)


class WindowAttention(nn.Module):
    """Attention over a window of a layer's last `window` outputs, with a query computed earlier
    in the same frame: reel's `window: N` on the keys' layer and an `attention` reading it.

    forward(query, keys, values=None) -> (out, weights): query (T, B, Dq), keys (T, B, Dk),
    values (T, B, Dv) (default: the keys), or batch-first; out (T, B, Dv), weights (T, B, N)
    newest first (entry j: frame t - j), zero past the frames seen.
    """

    def __init__(self, window, score, query_size, key_size, hidden=None, scale=False,
                 batch_first=False):
        super().__init__()
        self.window, self.batch_first = window, batch_first
        self.attn = Attention(score, query_size, key_size, hidden, scale)

    def forward(self, query, keys, values=None):
        q = None if query is None else _time_first(query, self.batch_first)
        k = _time_first(keys, self.batch_first)
        v = k if values is None else _time_first(values, self.batch_first)
        T, B = k.shape[:2]
        kw, mask = window_stack(k, self.window)                 # (T, N, B, Dk)
        vw, _ = window_stack(v, self.window)
        kw, vw = kw.movedim(2, 1).flatten(0, 1), vw.movedim(2, 1).flatten(0, 1)  # (T B, N, D)
        mask = mask.unsqueeze(1).expand(T, B, self.window).flatten(0, 1)
        out, a = self.attn(None if q is None else q.flatten(0, 1), kw, vw, mask)
        out, a = out.view(T, B, -1), a.view(T, B, -1)
        return _time_first(out, self.batch_first), _time_first(a, self.batch_first)


class AttentionPool(WindowAttention):
    """Attention pooling over a window of a layer's last `window` outputs, without a query from
    the model: `score="linear"` scores each key with nn.Linear(D, 1) (the most common form),
    dot / general / additive score it against a learned query vector. reel's `window: N` on the
    keys' layer and an `attention` with `score: linear` or `query: learned`.

    forward(keys, values=None) -> (out, weights): keys (T, B, D), values (T, B, Dv) (default:
    the keys), or batch-first; out (T, B, Dv), weights (T, B, N) newest first.
    """

    def __init__(self, window, key_size, score="linear", hidden=None, scale=False,
                 batch_first=False):
        nn.Module.__init__(self)
        self.window, self.batch_first = window, batch_first
        self.attn = Attention(score, key_size, key_size, hidden, scale,
                              learned_query=score != "linear")

    def forward(self, keys, values=None):
        return super().forward(None, keys, values)


class WindowMultiheadAttention(nn.MultiheadAttention):
    """nn.MultiheadAttention with one query per frame against the keys and values of a layer's
    last `window` outputs: reel's `window: N` on the keys' layer and an `mha` reading it. Its
    parameters are nn.MultiheadAttention's (in_proj_weight, or q/k/v_proj_weight when kdim or
    vdim differ from embed_dim; in_proj_bias; out_proj.weight, out_proj.bias).

    forward(query, keys=None, values=None) -> (out, weights): query (T, B, E), keys (T, B, Dk)
    (default: the query, self-attention of each frame over its window), values (T, B, Dv)
    (default: the keys), or batch-first; out (T, B, E), weights (T, B, N) the mean over the
    heads, newest first (entry j: frame t - j). With key_padding the window slots before the
    first frame are masked (key_padding_mask), 0 in the weights; without, they are zero frames.
    """

    def __init__(self, window, embed_dim, num_heads, kdim=None, vdim=None, bias=True,
                 key_padding=True, batch_first=False):
        super().__init__(embed_dim, num_heads, bias=bias, kdim=kdim, vdim=vdim)
        self.window, self.key_padding, self.time_batch_first = window, key_padding, batch_first

    def forward(self, query, keys=None, values=None):
        q = _time_first(query, self.time_batch_first)
        k = q if keys is None else _time_first(keys, self.time_batch_first)
        v = k if values is None else _time_first(values, self.time_batch_first)
        T, B = q.shape[:2]
        n = self.window

        def windows(seq):  # (T, n, B, D) -> (n, T B, D): the window as the source sequence
            return window_stack(seq, n)[0].movedim(1, 0).flatten(1, 2)

        mask = window_stack(k, n)[1].unsqueeze(1).expand(T, B, n).flatten(0, 1)
        out, a = super().forward(q.flatten(0, 1).unsqueeze(0), windows(k), windows(v),
                                 key_padding_mask=~mask if self.key_padding else None,
                                 need_weights=True, average_attn_weights=True)
        out, a = out.view(T, B, -1), a.view(T, B, n)
        return _time_first(out, self.time_batch_first), _time_first(a, self.time_batch_first)


class MapAttention(nn.Module):
    """Attention over the H*W positions of each frame's [D, H, W] map (soft visual attention
    over regions), with a query computed earlier in the same frame: reel's `attention` reading
    a map layer. score: dot, general, additive, or location (`positions` = H*W).

    forward(query, maps, values=None) -> (out, weights): query (T, B, Dq), maps (T, B, D, H, W),
    values (T, B, Dv, H, W) (default: the maps), or batch-first; out (T, B, Dv), weights
    (T, B, H*W) row by row.
    """

    def __init__(self, score, query_size, key_size, positions=None, hidden=None, scale=False,
                 batch_first=False):
        super().__init__()
        self.batch_first = batch_first
        if score == "location":
            assert positions and not scale, "location attention: its positions, no scale"
            self.attn = LocationAttention(query_size, positions)
        else:
            self.attn = Attention(score, query_size, key_size, hidden, scale)

    def forward(self, query, maps, values=None):
        q = _time_first(query, self.batch_first)
        k = _time_first(maps, self.batch_first)
        v = k if values is None else _time_first(values, self.batch_first)
        T, B = k.shape[:2]
        out, a = self.attn(q.flatten(0, 1), map_keys(k.flatten(0, 1)), map_keys(v.flatten(0, 1)))
        out, a = out.view(T, B, -1), a.view(T, B, -1)
        return _time_first(out, self.batch_first), _time_first(a, self.batch_first)


class AttentionLSTM(nn.Module):
    """Attention whose query is the previous h of the one-layer LSTM it feeds (zeros on the
    first frame), the "where to look, given what was seen" loop: reel's `attention` with
    `query: <the lstm>` followed by that `lstm`.

    Keys: with `window=N`, the window of the input sequence's last N frames (MultiLSTM,
    Yeung et al.); without, the H*W positions of each frame's [D, H, W] map (soft visual
    attention, Sharma et al.). score: dot, general, additive, or location (maps only:
    `positions` = H*W). init_from=True: the LSTM's first state comes from the first frame's
    input (InitLSTM, the map averaged over its positions).

    forward(x) -> (h (T, B, H), weights (T, B, n)); x (T, B, D) with a window, else
    (T, B, D, H, W); batch-first with batch_first=True.
    Submodules: attn (Attention or LocationAttention), lstm (nn.LSTM or InitLSTM).
    """

    def __init__(self, key_size, hidden_size, score="general", window=None, positions=None,
                 attention_hidden=None, scale=False, init_from=False, batch_first=False):
        super().__init__()
        self.window, self.batch_first, self.init_from = window, batch_first, init_from
        if score == "location":
            assert window is None and positions, "location attention: a map and its positions"
            self.attn = LocationAttention(hidden_size, positions)
        else:
            self.attn = Attention(score, hidden_size, key_size, attention_hidden, scale)
        self.lstm = (InitLSTM(key_size, hidden_size, key_size) if init_from
                     else nn.LSTM(key_size, hidden_size))

    def forward(self, x):
        x = _time_first(x, self.batch_first)
        T, B = x.shape[:2]
        if self.window is not None:
            keys, mask = window_stack(x, self.window)           # (T, N, B, D)
            keys, mask = keys.movedim(2, 1), mask.unsqueeze(1).expand(T, B, self.window)
        else:
            keys, mask = torch.stack([map_keys(m) for m in x]), None  # (T, B, HW, D)
        hx = self.lstm.initial_state(x[0]) if self.init_from else None
        h = x.new_zeros(B, self.lstm.hidden_size)   # the query: zeros before the first step
        hs, weights = [], []
        for t in range(T):
            ctx, a = self.attn(h, keys[t], keys[t], None if mask is None else mask[t])
            out, hx = self.lstm(ctx.unsqueeze(0), hx)
            h = out[0]
            hs.append(h)
            weights.append(a)
        return (_time_first(torch.stack(hs), self.batch_first),
                _time_first(torch.stack(weights), self.batch_first))


# ---- temporal pooling and convolution ----------------------------------------------------------

def temporal_windows(x, w, s, mode):
    """Windowed temporal pool: x (T, ...) per frame -> (K, ...), window k = frames [k s, k s + w),
    closed windows only (frames after the last one are ignored). With T < w (no window closed
    yet), the T frames seen so far form one window."""
    if x.shape[0] >= w:
        win = x.unfold(0, w, s)                        # (K, ..., w)
    else:
        win = x.movedim(0, -1).unsqueeze(0)            # (1, ..., T): the partial window
    return win.amax(-1) if mode == "max" else win.mean(-1)


def clip_pool(x, mode, count=None):
    """Clip temporal pool of the stream x (L, ...) (frames or closed windows) -> (1, ...):
    elementwise max or mean, or concat: the first `count` values flattened, zeros for missing
    ones (1, count * size)."""
    if mode == "max":
        return x.amax(0, keepdim=True)
    if mode == "mean":
        return x.mean(0, keepdim=True)
    assert mode == "concat", mode
    size = math.prod(x.shape[1:])
    first = x[:count].reshape(-1)
    return torch.cat([first, first.new_zeros(count * size - first.numel())]).unsqueeze(0)


class TemporalPool(nn.Module):
    """reel's temporal_pool. With `frames=w`: a windowed pool, (T, B, ...) -> (K, B, ...), window
    k = frames [k s, k s + w) (stride s, default w), closed windows only (a clip shorter than w
    is one partial window). Without: a clip pool, (T, B, ...) -> (B, ...): max or mean over
    time, or concat, the first `count` values stacked along the first feature dimension
    (B, count * C, ...), zeros for missing ones. batch_first: (B, T, ...) in and out."""

    def __init__(self, mode="max", frames=None, stride=None, count=None, batch_first=False):
        super().__init__()
        assert mode in ("max", "mean", "concat"), mode
        assert (count is not None) == (mode == "concat"), "count: with mode concat only"
        assert frames is None or mode != "concat", "a windowed pool is max or mean"
        self.mode, self.frames, self.count, self.batch_first = mode, frames, count, batch_first
        self.stride = (stride or frames) if frames else None

    def forward(self, x):
        x = _time_first(x, self.batch_first)
        if self.frames is not None:
            return _time_first(temporal_windows(x, self.frames, self.stride, self.mode),
                               self.batch_first)
        if self.mode != "concat":
            return clip_pool(x, self.mode)[0]
        pooled = [clip_pool(x[:, b], "concat", self.count) for b in range(x.shape[1])]
        shape = (self.count * x.shape[2],) + tuple(x.shape[3:])
        return torch.cat(pooled).view((x.shape[1],) + shape)


class TemporalConv(nn.Conv3d):
    """reel's temporal_conv: nn.Conv3d(C, out, (w, k, k), stride=(s, 1, 1), padding=(0, p, p))
    over the clip arranged as (B, C, T, H, W); output k is window [k s, k s + w). `padding:
    "same"` pads like nn.Conv2d's (the odd extra row and column at the bottom and right). A clip
    shorter than w is followed by w - T zero frames (the partial window). State-dict names:
    nn.Conv3d's. forward: (T, B, C, H, W) -> (K, B, out, H', W'), or batch-first, or unbatched
    (T, C, H, W) -> (K, out, H', W')."""

    def __init__(self, in_channels, out_channels, frames, stride=1, kernel_size=1, padding=0,
                 bias=True, batch_first=False):
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        extra = (0, 0)
        if padding == "same":
            sym, extra = ((kh - 1) // 2, (kw - 1) // 2), ((kh - 1) % 2, (kw - 1) % 2)
        elif padding == "valid":
            sym = (0, 0)
        else:
            sym = (padding, padding) if isinstance(padding, int) else tuple(padding)
        super().__init__(in_channels, out_channels, (frames, kh, kw), stride=(stride, 1, 1),
                         padding=(0,) + sym, bias=bias)
        self.extra, self.spatial_padding, self.batch_first = extra, padding, batch_first

    def forward(self, x):
        unbatched = x.dim() == 4
        x = x.unsqueeze(1) if unbatched else _time_first(x, self.batch_first)   # (T, B, C, H, W)
        w = self.kernel_size[0]
        if x.shape[0] < w:
            x = torch.cat([x, x.new_zeros((w - x.shape[0],) + tuple(x.shape[1:]))])
        clip = x.permute(1, 2, 0, 3, 4)                # (B, C, T, H, W)
        if self.extra != (0, 0):
            clip = F.pad(clip, (0, self.extra[1], 0, self.extra[0]))
        y = super().forward(clip).permute(2, 0, 1, 3, 4)   # (K, B, out, H', W')
        return y[:, 0] if unbatched else _time_first(y, self.batch_first)


# ---- convolutional recurrent cells ---------------------------------------------------------------

class ConvLSTMCell(nn.Module):
    """One ConvLSTM layer (Shi et al. eq. 3), ndrplz/ConvLSTM_pytorch's layout: one conv over
    cat([x, h]) (x channels first), 4H outputs in blocks [i; f; o; g], padding k//2, optional
    peepholes (channel: (H, 1, 1), spatial: (H, rows, cols)); i and f see the old cell c, o sees
    the new cell c'. forward(x (B, C, r, c) or None, state (h, c) or None) -> (h, c)."""

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
    """Stacked ConvLSTM: reel's `convlstm`. Layer 0 reads x (in_ch channels, may be 0), layer
    l>0 reads h^{l-1}. output: 'last' -> the top layer's h; 'concat' -> all layers' h along
    channels, layer 0 first. forward(frames (T, B, C, r, c), state=None) -> (outputs (T, B,
    out_channels, r, c), final state: one (h, c) per layer); batch-first with batch_first.
    State-dict names: cell_list.{l}.conv.weight/bias, cell_list.{l}.weight_ci/cf/co."""

    def __init__(self, in_ch, hidden, kernel, peephole="none", frame_hw=None, layers=None,
                 output="last", batch_first=False):
        super().__init__()
        self.hidden = _as_list(hidden, layers)
        self.num_layers = len(self.hidden)
        self.in_ch, self.kernel, self.peephole, self.frame_hw = in_ch, kernel, peephole, frame_hw
        assert output in ("last", "concat"), output
        self.output, self.batch_first = output, batch_first
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
        frames = _time_first(frames, self.batch_first)
        outs = []
        for t in range(frames.shape[0]):
            out, state = self.step(frames[t], state)
            outs.append(out)
        return _time_first(torch.stack(outs), self.batch_first), state


class EncoderForecaster(nn.Module):
    """Shi et al.'s two-phase model: a ConvLSTM encoder over the observed frames, a ConvLSTM
    forecaster (no input of its own, layer-0 conv weight (4H_0, H_0, k, k)) starting from the
    encoder's final per-layer (h, c), and a 1x1 conv `head` over all forecaster layers' h
    (layer 0 first), then a sigmoid (out_act). reel: `layers: [convlstm]`, `forecast:
    [convlstm init_state, conv2d 1x1, sigmoid]`. forward(frames (T, B, C, r, c)) -> predicted
    frames (steps, B, out_ch, r, c); batch-first with batch_first."""

    def __init__(self, in_ch, hidden, kernel, out_ch, steps, out_act="sigmoid", peephole="none",
                 frame_hw=None, batch_first=False):
        super().__init__()
        assert out_act in ("sigmoid", "none"), out_act
        self.steps, self.out_act, self.batch_first = steps, out_act, batch_first
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
        frames = _time_first(frames, self.batch_first)
        return _time_first(self.forecast(self.encode(frames), steps), self.batch_first)


class ConvGRUCell(nn.Module):
    """One ConvGRU layer (Ballas et al.), happyjin/ConvGRU-pytorch's layout: conv_gates (2H, C+H)
    blocks [r; z], conv_can (H, C+H) over cat([x, r*h]), h' = (1-z) h + z n; in GRU-RCN mode
    conv_below(maxpool2x2(h^{l-1})) adds to the r and z gates."""

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
    """Stacked ConvGRU: reel's `convgru`.

    Plain (in_ch an int): layer 0 reads x, layer l>0 reads h^{l-1}.
    GRU-RCN (in_ch a list, one per layer): layer l reads its own external input x_l, and layer
    l>=1 also gets conv_below(maxpool2x2(h^{l-1}_t)) on its r and z gates.
    forward(x, state=None) -> (top layer's h per frame (T, B, H, r, c), final state: one h per
    layer); x (T, B, C, r, c), or for GRU-RCN a list of them, one per layer; batch-first with
    batch_first. State-dict names: cell_list.{l}.conv_gates.*, conv_can.*, conv_below.weight.
    """

    def __init__(self, in_ch, hidden, kernel, layers=None, batch_first=False):
        super().__init__()
        self.hidden = _as_list(hidden, layers)
        self.num_layers = len(self.hidden)
        self.kernel, self.batch_first = kernel, batch_first
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

    def forward(self, x, state=None):
        xs = [_time_first(v, self.batch_first) for v in x] if self.rcn else \
            _time_first(x, self.batch_first)
        outs = []
        for t in range((xs[0] if self.rcn else xs).shape[0]):
            out, state = self.step([v[t] for v in xs] if self.rcn else xs[t], state)
            outs.append(out)
        return _time_first(torch.stack(outs), self.batch_first), state


# ---- sequence to sequence ---------------------------------------------------------------------

class Seq2Seq(nn.Module):
    """Luong et al.'s attentional encoder-decoder, fed back its own prediction: an LSTM encoder
    (`enc`) whose last `window` states are the keys; after the observed frames, `steps` decoder
    steps: dec = LSTM(input) from the encoder's final state (init_state), a = attention(dec h,
    encoder window) (`attn`, score general or dot), h~ = tanh(attn_out(cat[a, h])) (no bias),
    y = proj(h~) of the frame's size, and y is the next step's input (the first step reads the
    last observed frame). reel: `layers: [lstm window]`, `forecast: feedback: true, [lstm
    init_state, attention, concat, linear, tanh, linear]`.
    forward(x (T, B, N)) -> predictions (steps, B, N); batch-first with batch_first."""

    def __init__(self, input_size, hidden_size, window, steps, score="general", scale=False,
                 batch_first=False):
        super().__init__()
        self.window, self.steps, self.batch_first = window, steps, batch_first
        self.enc = nn.LSTM(input_size, hidden_size)
        self.dec = nn.LSTM(input_size, hidden_size)
        self.attn = Attention(score, hidden_size, hidden_size, scale=scale)
        self.attn_out = nn.Linear(2 * hidden_size, hidden_size, bias=False)
        self.proj = nn.Linear(hidden_size, input_size)

    def forward(self, x):
        x = _time_first(x, self.batch_first)
        T, B = x.shape[:2]
        enc, state = self.enc(x)
        n = min(T, self.window)
        keys = enc[T - n:].flip(0).transpose(0, 1)            # (B, n, H), newest first
        y, preds = x[-1], []
        for _ in range(self.steps):
            out, state = self.dec(y.unsqueeze(0), state)
            h = out[0]
            a, _ = self.attn(h, keys, keys)
            y = self.proj(torch.tanh(self.attn_out(torch.cat([a, h], dim=-1))))
            preds.append(y)
        return _time_first(torch.stack(preds), self.batch_first)
