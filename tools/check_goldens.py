"""Independent float64 check of the goldens under tests/golden/ (numpy only, no torch).

Usage:  /usr/bin/python3 tools/check_goldens.py [STEM ...]

Re-implements every spec op from docs/spec.md in numpy float64, straight from the
spec and the golden's weights file, and streams the golden input frame by frame (one step of the
whole graph per frame, then the forecast chain), as the generated C does: windows kept as lists
of the last N outputs, attention queries read from the recurrent state left by the previous
frame, temporal pools and convs fed window by window, and the clip output (clip_steps) read after
every frame without changing the state (see Runner). It shares no code with tools/reference.py,
which works on whole clips, so the two implementations check each other. Prints the largest
absolute difference per golden tensor; exits 1 if any exceeds TOL or a golden tensor is missing.
"""
import copy
import glob
import json
import math
import os
import struct
import sys

import numpy as np
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "golden")
TOL = 2e-6


def read_st(path):
    buf = open(path, "rb").read()
    (n,) = struct.unpack_from("<Q", buf, 0)
    hdr = json.loads(buf[8:8 + n])
    hdr.pop("__metadata__", None)
    data, out = buf[8 + n:], {}
    for k, v in hdr.items():
        b, e = v["data_offsets"]
        raw = data[b:e]
        if v["dtype"] == "F32":
            a = np.frombuffer(raw, "<f4").astype(np.float64)
        elif v["dtype"] == "F16":
            a = np.frombuffer(raw, "<f2").astype(np.float64)
        elif v["dtype"] == "BF16":
            a = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
            a = a.astype(np.float64)
        elif v["dtype"] == "I64":
            a = np.frombuffer(raw, "<i8")
        elif v["dtype"] == "U8":       # a camera's frames
            a = np.frombuffer(raw, "u1").astype(np.float64)
        else:
            raise ValueError(v["dtype"])
        out[k] = a.reshape(v["shape"])
    return out


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


sig = lambda x: 1.0 / (1.0 + np.exp(-x))


# ---- per-frame ops on one frame (C, H, W) or (N,) -------------------------------------------
def conv2d(x, w, b, stride=(1, 1), pad=(0, 0, 0, 0), dil=(1, 1), groups=1):
    """pad = (top, bottom, left, right)."""
    C, H, W = x.shape
    O, cg, kh, kw = w.shape
    assert cg * groups == C and O % groups == 0
    xp = np.zeros((C, H + pad[0] + pad[1], W + pad[2] + pad[3]))
    xp[:, pad[0]:pad[0] + H, pad[2]:pad[2] + W] = x
    OH = (xp.shape[1] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    OW = (xp.shape[2] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    assert OH >= 1 and OW >= 1
    out = np.zeros((O, OH, OW))
    og = O // groups
    for g in range(groups):
        xs = xp[g * cg:(g + 1) * cg]
        for ky in range(kh):
            for kx in range(kw):
                y0, x0 = ky * dil[0], kx * dil[1]
                patch = xs[:, y0:y0 + stride[0] * (OH - 1) + 1:stride[0],
                           x0:x0 + stride[1] * (OW - 1) + 1:stride[1]]
                out[g * og:(g + 1) * og] += np.einsum("oc,chw->ohw",
                                                      w[g * og:(g + 1) * og, :, ky, kx], patch)
    if b is not None:
        out += b[:, None, None]
    return out


def pool_out(n, k, s, p, ceil):
    num = n + 2 * p - k
    o = (-(-num // s) if ceil else num // s) + 1
    if ceil and (o - 1) * s >= n + p:
        o -= 1
    return o


def pool2d(x, kind, k, s, p, ceil, include_pad=True):
    C, H, W = x.shape
    OH, OW = pool_out(H, k[0], s[0], p[0], ceil), pool_out(W, k[1], s[1], p[1], ceil)
    out = np.zeros((C, OH, OW))
    for i in range(OH):
        for j in range(OW):
            h0, w0 = i * s[0] - p[0], j * s[1] - p[1]
            h1, w1 = min(h0 + k[0], H + p[0]), min(w0 + k[1], W + p[1])
            size = (h1 - h0) * (w1 - w0)       # window clipped to the padded input
            h0c, w0c, h1c, w1c = max(h0, 0), max(w0, 0), min(h1, H), min(w1, W)
            win = x[:, h0c:h1c, w0c:w1c]
            if kind == "max":
                out[:, i, j] = win.max(axis=(1, 2))
            else:
                div = size if include_pad else (h1c - h0c) * (w1c - w0c)
                out[:, i, j] = win.sum(axis=(1, 2)) / div
    return out


def conv_transpose2d(x, w, b, stride, pad, out_pad, dil, groups):
    """nn.ConvTranspose2d of x [C, H, W] with w [C, out / groups, kh, kw]: every input pixel
    through every tap onto the output pixel it lands on."""
    C, H, W = x.shape
    opg, kh, kw = w.shape[1:]
    OH = (H - 1) * stride[0] - 2 * pad[0] + dil[0] * (kh - 1) + out_pad[0] + 1
    OW = (W - 1) * stride[1] - 2 * pad[1] + dil[1] * (kw - 1) + out_pad[1] + 1
    y = np.zeros((opg * groups, OH, OW))
    ipg = C // groups
    for c in range(C):
        g = c // ipg
        for u in range(kh):
            for v in range(kw):
                oy = np.arange(H) * stride[0] - pad[0] + u * dil[0]
                ox = np.arange(W) * stride[1] - pad[1] + v * dil[1]
                ri, ci = (oy >= 0) & (oy < OH), (ox >= 0) & (ox < OW)
                contrib = np.einsum("o,hw->ohw", w[c, :, u, v], x[c][ri][:, ci])
                y[g * opg:(g + 1) * opg][:, oy[ri][:, None], ox[ci][None, :]] += contrib
    return y if b is None else y + b[:, None, None]


def upsample_indices(n_in, n_out, factor, mode, align):
    """PyTorch's source indices (and bilinear weights) along one axis, in float32 as its CPU
    kernels compute them: factor is the scale factor given (None: from the sizes)."""
    f32 = np.float32
    if mode == "bilinear" and align:
        scale = f32(n_in - 1) / f32(n_out - 1) if n_out > 1 else f32(0)
    else:
        scale = f32(1.0 / factor) if factor else f32(n_in) / f32(n_out)
    o = np.arange(n_out)
    if mode == "nearest":
        if n_out == n_in:
            return o, None, None
        if n_out == 2 * n_in:
            return o >> 1, None, None
        return np.minimum(np.floor(o.astype(f32) * scale).astype(int), n_in - 1), None, None
    src = scale * o.astype(f32) if align else np.maximum(scale * (o.astype(f32) + f32(0.5)) -
                                                        f32(0.5), f32(0))
    i0 = src.astype(int)
    return i0, i0 + (i0 < n_in - 1), (src - i0.astype(f32)).astype(f32)


def upsample(x, L):
    """F.interpolate of x [C, H, W] as the spec's upsample layer L says."""
    C, H, W = x.shape
    mode, align = L.get("mode", "nearest"), L.get("align_corners", False)
    if "size" in L:
        (oh, ow), fh, fw = L["size"], None, None
    else:
        fh, fw = pair(L["scale"]) if isinstance(L["scale"], list) else (L["scale"],) * 2
        oh, ow = int(np.floor(H * fh)), int(np.floor(W * fw))
    r0, r1, rl = upsample_indices(H, oh, fh, mode, align)
    c0, c1, cl = upsample_indices(W, ow, fw, mode, align)
    if mode == "nearest":
        return x[:, r0][:, :, c0]
    rl, cl = rl[:, None].astype(np.float64), cl[None, :].astype(np.float64)
    top = (1 - cl) * x[:, r0][:, :, c0] + cl * x[:, r0][:, :, c1]
    bottom = (1 - cl) * x[:, r1][:, :, c0] + cl * x[:, r1][:, :, c1]
    return (1 - rl) * top + rl * bottom


def pixel_shuffle(x, r):
    C, H, W = x.shape
    out = np.zeros((C // (r * r), H * r, W * r))
    for c in range(C // (r * r)):
        for i in range(r):
            for j in range(r):
                out[c, i::r, j::r] = x[c * r * r + i * r + j]
    return out


def pixel_unshuffle(x, r):
    C, H, W = x.shape
    out = np.zeros((C * r * r, H // r, W // r))
    for c in range(C):
        for i in range(r):
            for j in range(r):
                out[c * r * r + i * r + j] = x[c, i::r, j::r]
    return out


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


# ---- the streaming interpreter ---------------------------------------------------------------
class Stream:
    def __init__(self, spec, w):
        self.spec, self.w = spec, w
        self.state = {}   # layer name -> recurrent state
        self.used = set()
        self.win = {}     # layer name -> its last `window` outputs, oldest first
        self.attn_log = []  # this frame's attention weights, in the order the layers ran
        self.frame_vals = {}  # the per-frame chain's named outputs of the last frame
        self.layer = {L["name"]: L for L in spec["layers"] + spec.get("forecast", {}).get(
            "layers", []) if L.get("name")}

    def W(self, key):
        self.used.add(key)
        return self.w[key]

    def has(self, key):
        return key in self.w

    def B(self, L, key):
        """A recurrent layer's bias, 0 for `bias: false` (then not in the weights)."""
        return self.W(key) if L.get("bias", True) else 0.0

    def run_chain(self, layers, x, vals, first):
        """Layers first, first + 1, ... of the spec (per-frame chain, then forecast chain); an
        unnamed layer is named as reel names it, <op><index>, so `from` can name it."""
        prev, prev_name = x, "input"
        for idx, L in enumerate(layers):
            op, name = L["op"], L.get("name") or f"{L['op']}{first + idx}"
            frm = L.get("from")
            if op in ("attention", "mha"):
                ins = [frm if isinstance(frm, str) else frm[0] if frm else prev_name, vals]
            elif frm is None:
                ins = [prev]
            else:
                ins = [vals[f] for f in ([frm] if isinstance(frm, str) else frm)]
            self.vals = vals
            y = self.op(L, op, name, ins)
            vals[name] = y
            if L.get("window"):
                w = self.win.setdefault(name, [])
                w.append(y)
                del w[:-L["window"]]
            prev, prev_name = y, name
        return prev

    def op(self, L, op, name, ins):
        x = ins[0]
        if op == "relu":
            return np.maximum(x, 0)
        if op == "relu6":
            return np.clip(x, 0, 6)
        if op == "leaky_relu":
            return np.where(x >= 0, x, x * L.get("negative_slope", 0.01))
        if op == "sigmoid":
            return sig(x)
        if op == "tanh":
            return np.tanh(x)
        if op == "gelu":
            if L.get("approximate", "none") == "tanh":
                return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
            return 0.5 * x * np.vectorize(math.erfc)(-x / np.sqrt(2))
        if op == "silu":
            return x * sig(x)
        if op == "hardswish":
            return x * np.clip(x + 3, 0, 6) / 6
        if op == "hardsigmoid":
            return np.clip(x + 3, 0, 6) / 6
        if op == "elu":
            return np.where(x > 0, x, L.get("alpha", 1.0) * np.expm1(np.minimum(x, 0)))
        if op == "prelu":
            w = self.W(f"{name}.weight")
            w = w.reshape((-1,) + (1,) * (x.ndim - 1)) if w.size > 1 else w
            return np.where(x > 0, x, w * x)
        if op == "softmax":
            return softmax(x)
        if op == "dropout":
            return x
        if op == "linear":
            b = self.W(f"{name}.bias") if L.get("bias", True) else None
            y = x @ self.W(f"{name}.weight").T     # a vector, or each row of a matrix
            return y + b if b is not None else y
        if op == "conv2d":
            kh, kw = pair(L["kernel"])
            dh, dw = pair(L.get("dilation", 1))
            padding = L.get("padding", 0)
            if padding == "same":
                th, tw = dh * (kh - 1), dw * (kw - 1)
                pad = (th // 2, th - th // 2, tw // 2, tw - tw // 2)
            elif padding == "valid":
                pad = (0, 0, 0, 0)
            elif isinstance(padding, list) and len(padding) == 4:
                pad = tuple(padding)    # top, bottom, left, right
            else:
                ph, pw = pair(padding)
                pad = (ph, ph, pw, pw)
            b = self.W(f"{name}.bias") if L.get("bias", True) else None
            return conv2d(x, self.W(f"{name}.weight"), b, pair(L.get("stride", 1)), pad,
                          (dh, dw), L.get("groups", 1))
        if op == "batchnorm":
            g, b = self.W(f"{name}.weight"), self.W(f"{name}.bias")
            m, v = self.W(f"{name}.running_mean"), self.W(f"{name}.running_var")
            self.used.add(f"{name}.num_batches_tracked")
            sh = (-1,) + (1,) * (x.ndim - 1)
            return (x - m.reshape(sh)) / np.sqrt(v.reshape(sh) + L.get("eps", 1e-5)) \
                * g.reshape(sh) + b.reshape(sh)
        if op == "upsample":
            return upsample(x, L)
        if op == "conv_transpose2d":
            b = self.W(f"{name}.bias") if L.get("bias", True) else None
            return conv_transpose2d(x, self.W(f"{name}.weight"), b, pair(L.get("stride", 1)),
                                    pair(L.get("padding", 0)), pair(L.get("output_padding", 0)),
                                    pair(L.get("dilation", 1)), L.get("groups", 1))
        if op in ("layernorm", "groupnorm"):
            if op == "groupnorm":   # blocks: the groups' channels; scale per channel
                blocks = x.reshape(L["groups"], -1)
            else:                   # blocks: the trailing `dims` dims
                dims = L.get("dims", x.ndim)
                blocks = x.reshape(-1, int(np.prod(x.shape[x.ndim - dims:])))
            m = blocks.mean(axis=1, keepdims=True)
            v = ((blocks - m) ** 2).mean(axis=1, keepdims=True)
            y = ((blocks - m) / np.sqrt(v + L.get("eps", 1e-5))).reshape(x.shape)
            if not L.get("affine", True):
                return y
            g, b = self.W(f"{name}.weight"), self.W(f"{name}.bias")
            if op == "groupnorm":
                g, b = (t.reshape((-1,) + (1,) * (x.ndim - 1)) for t in (g, b))
            return y * g + b
        if op in ("maxpool", "avgpool"):
            k = pair(L["kernel"])
            return pool2d(x, op[:3], k, pair(L.get("stride", L["kernel"])),
                          pair(L.get("padding", 0)), L.get("ceil_mode", False),
                          L.get("count_include_pad", True))
        if op == "global_avgpool":
            return x.mean(axis=(1, 2), keepdims=True)
        if op == "flatten":
            return x.reshape(-1)
        if op == "reshape":
            return x.reshape(L["shape"])
        if op == "add":
            return sum(ins[1:], ins[0])
        if op == "mul":
            return np.prod(np.stack(ins), axis=0)
        if op == "concat":
            return np.concatenate(ins, axis=0)
        if op == "pixel_shuffle":
            return pixel_shuffle(x, L["factor"])
        if op == "pixel_unshuffle":
            return pixel_unshuffle(x, L["factor"])
        if op == "lstm":
            return self.lstm(L, name, x)
        if op == "gru":
            return self.gru(L, name, x)
        if op == "attention":
            return self.attention(L, name, *ins)
        if op == "mha":
            return self.mha(L, name, *ins)
        if op == "convlstm":
            return self.convlstm(L, name, x)
        if op == "convgru":
            return self.convgru(L, name, ins)
        raise ValueError(op)

    def hidden(self, L):
        h = L["hidden"]
        return [h] * L.get("layers", 1) if isinstance(h, int) else list(h)

    def kv(self, src):
        """An attention's keys or values from layer src: its window, newest first (n_t, D), or
        a [D, H, W] map's positions (H*W, D); and the window size (None for a map)."""
        if src in self.win:
            return np.stack(self.win[src][::-1]), self.layer[src]["window"]
        X = self.vals[src] if src in self.vals else self.frame_vals[src]
        return X.reshape(X.shape[0], -1).T, None

    def attention(self, L, name, src, vals):
        K, N = self.kv(src)
        V, _ = self.kv(L.get("values", src))
        Q = L.get("query")
        if Q in (None, "learned"):         # score linear (no query), or a trained vector
            q = self.W(f"{name}.query") if Q else None
        elif Q in vals:                    # computed earlier in this step
            q = vals[Q]
        else:                              # a later lstm/gru: its h of the previous step
            QL = self.layer[Q]
            st = self.state.get(Q)
            H = QL.get("proj", self.hidden(QL)[-1])
            q = np.zeros(H) if st is None else st[-1][0] if QL["op"] == "lstm" else st[-1]
        score = L.get("score", "dot")
        if score == "location":
            e = self.W(f"{name}.weight") @ q + self.W(f"{name}.bias")
        elif score == "linear":
            e = K @ self.W(f"{name}.score.weight")[0] + self.W(f"{name}.score.bias")[0]
        elif score == "additive":
            hid = np.tanh(K @ self.W(f"{name}.w_x.weight").T + self.W(f"{name}.w_x.bias") +
                          self.W(f"{name}.w_h.weight") @ q)
            e = hid @ self.W(f"{name}.v.weight")[0]
        else:
            qq = self.W(f"{name}.w_q.weight") @ q if score == "general" else q
            e = K @ qq
            if L.get("scale", False):
                e = e / np.sqrt(K.shape[1])
        a = softmax(e)
        if N is not None:
            a_rep = np.zeros(N)
            a_rep[:len(a)] = a
        else:
            a_rep = a
        self.attn_log.append(a_rep)
        return a @ V

    def mha(self, L, name, src, vals):
        """nn.MultiheadAttention of this frame's query against the window (newest first)."""
        K, N = self.kv(src)
        V, _ = self.kv(L.get("values", src))
        q = vals[L.get("query", src)]
        E, H = q.shape[0], L["heads"]
        d = E // H
        if self.has(f"{name}.in_proj_weight"):
            Wq, Wk, Wv = np.split(self.W(f"{name}.in_proj_weight"), 3)
        else:
            Wq, Wk, Wv = (self.W(f"{name}.{p}_proj_weight") for p in "qkv")
        bias = L.get("bias", True)
        bq, bk, bv = np.split(self.W(f"{name}.in_proj_bias"), 3) if bias else [np.zeros(E)] * 3
        if not L.get("key_padding", True):     # the unfilled slots are zero frames
            K = np.vstack([K, np.zeros((N - len(K), K.shape[1]))])
            V = np.vstack([V, np.zeros((N - len(V), V.shape[1]))])
        qp, Kp, Vp = Wq @ q + bq, K @ Wk.T + bk, V @ Wv.T + bv
        o, mean = np.zeros(E), np.zeros(len(K))
        for h in range(H):
            hs = slice(h * d, (h + 1) * d)
            a = softmax(Kp[:, hs] @ qp[hs] / np.sqrt(d))
            o[hs] = a @ Vp[:, hs]
            mean += a / H
        a_rep = np.zeros(N)
        a_rep[:len(mean)] = mean
        self.attn_log.append(a_rep)
        out = self.W(f"{name}.out_proj.weight") @ o
        return out + self.W(f"{name}.out_proj.bias") if bias else out

    def lstm(self, L, name, x):
        H, n = L["hidden"], L.get("layers", 1)
        if name not in self.state:
            if L.get("init_state"):
                self.state[name] = [(h.copy(), c.copy()) for h, c in self.state[L["init_state"]]]
            elif L.get("init_from"):
                m = self.vals[L["init_from"]]
                if m.ndim == 3:
                    m = m.mean(axis=(1, 2))
                self.state[name] = [tuple(np.tanh(self.W(f"{name}.init_{g}.weight") @ m +
                                                  self.W(f"{name}.init_{g}.bias")) for g in "hc")]
        P = L.get("proj", H)   # h's size: proj_size, h = W_hr (o tanh(c))
        st = self.state.setdefault(name, [(np.zeros(P), np.zeros(H)) for _ in range(n)])
        peep = L.get("peephole", "none") == "diagonal"
        for k in range(n):
            h, c = st[k]
            a = self.W(f"{name}.weight_ih_l{k}") @ x + self.B(L, f"{name}.bias_ih_l{k}") + \
                self.W(f"{name}.weight_hh_l{k}") @ h + self.B(L, f"{name}.bias_hh_l{k}")
            ai, af, ag, ao = np.split(a, 4)
            if peep:
                ai = ai + self.W(f"{name}.weight_ci_l{k}") * c
                af = af + self.W(f"{name}.weight_cf_l{k}") * c
            c = sig(af) * c + sig(ai) * np.tanh(ag)
            if peep:
                ao = ao + self.W(f"{name}.weight_co_l{k}") * c
            h = sig(ao) * np.tanh(c)
            if "proj" in L:
                h = self.W(f"{name}.weight_hr_l{k}") @ h
            st[k] = (h, c)
            x = h
        return x

    def gru(self, L, name, x):
        H, n = L["hidden"], L.get("layers", 1)
        if name not in self.state and L.get("init_state"):
            self.state[name] = [h.copy() for h in self.state[L["init_state"]]]
        st = self.state.setdefault(name, [np.zeros(H) for _ in range(n)])
        for k in range(n):
            h = st[k]
            gi = self.W(f"{name}.weight_ih_l{k}") @ x + self.B(L, f"{name}.bias_ih_l{k}")
            gh = self.W(f"{name}.weight_hh_l{k}") @ h + self.B(L, f"{name}.bias_hh_l{k}")
            ir, iz, in_ = np.split(gi, 3)
            hr, hz, hn = np.split(gh, 3)
            r, z = sig(ir + hr), sig(iz + hz)
            nn_ = np.tanh(in_ + r * hn)
            h = (1 - z) * nn_ + z * h
            st[k] = h
            x = h
        return x

    def convlstm(self, L, name, x):
        hid = self.hidden(L)
        k = L["kernel"]
        p = k // 2
        if name not in self.state:
            if L.get("init_state"):
                src = self.state[L["init_state"]]
                self.state[name] = [(h.copy(), c.copy()) for h, c in src]
            else:
                hw = x.shape[1:]
                self.state[name] = [(np.zeros((H,) + hw), np.zeros((H,) + hw)) for H in hid]
        st = self.state[name]
        peep = L.get("peephole", "none") != "none"
        hs = []
        for l, H in enumerate(hid):
            h, c = st[l]
            inp = h if x is None else np.concatenate([x, h])
            pre = f"{name}.cell_list.{l}"
            a = conv2d(inp, self.W(f"{pre}.conv.weight"), self.W(f"{pre}.conv.bias"),
                       pad=(p, p, p, p))
            ai, af, ao, ag = np.split(a, 4)
            if peep:
                ai = ai + self.W(f"{pre}.weight_ci") * c
                af = af + self.W(f"{pre}.weight_cf") * c
            c = sig(af) * c + sig(ai) * np.tanh(ag)
            if peep:
                ao = ao + self.W(f"{pre}.weight_co") * c
            h = sig(ao) * np.tanh(c)
            st[l] = (h, c)
            hs.append(h)
            x = h
        return np.concatenate(hs) if L.get("output", "last") == "concat" else hs[-1]

    def convgru(self, L, name, ins):
        hid = self.hidden(L)
        k = L["kernel"]
        p = (k // 2,) * 4
        rcn = len(ins) > 1
        if name not in self.state:
            shapes = [i.shape[1:] for i in ins] if rcn else [ins[0].shape[1:]] * len(hid)
            self.state[name] = [np.zeros((H,) + tuple(s)) for H, s in zip(hid, shapes)]
        st = self.state[name]
        x = ins[0]
        for l, H in enumerate(hid):
            h = st[l]
            if rcn:
                x = ins[l]
            pre = f"{name}.cell_list.{l}"
            g = conv2d(np.concatenate([x, h]), self.W(f"{pre}.conv_gates.weight"),
                       self.W(f"{pre}.conv_gates.bias"), pad=p)
            if rcn and l > 0:
                below = pool2d(st[l - 1], "max", (2, 2), (2, 2), (0, 0), False)  # new h^{l-1}
                g = g + conv2d(below, self.W(f"{pre}.conv_below.weight"), None, pad=p)
            r, z = sig(g[:H]), sig(g[H:])
            n = np.tanh(conv2d(np.concatenate([x, r * h]), self.W(f"{pre}.conv_can.weight"),
                               self.W(f"{pre}.conv_can.bias"), pad=p))
            h = (1 - z) * h + z * n
            st[l] = h
            x = h
        return x


def is_windowed(L):
    return (L["op"] == "temporal_pool" and "frames" in L) or L["op"] == "temporal_conv" or \
        bool(L.get("bidirectional"))


def is_clip_pool(L):
    return L["op"] == "temporal_pool" and "frames" not in L


def aggregate(p, mode):
    if mode == "mean":
        return p.mean(0)
    if mode == "max":
        return p.max(0)
    if mode == "last":
        return p[-1]
    tw = np.arange(1, p.shape[0] + 1).reshape((-1,) + (1,) * (p.ndim - 1))
    return (tw * p).sum(0) / tw.sum()


class Runner:
    """Streams a clip through the spec as the generated C does: step() once per frame, clip()
    at any time (it changes nothing), forecast(). The layers up to the first windowed temporal
    op (temporal_pool with frames, temporal_conv) or clip pool run on every frame; a windowed
    op keeps its input frames, and when window k (frames [k s, k s + w)) closes, runs the
    layers after it once, up to the clip pool, which keeps the values it gets. clip() pools
    them (or, before the first window closed, the partial window of the frames seen so far)
    and runs the layers after the clip pool on a copy of the state."""

    def __init__(self, spec, w):
        self.spec, self.s = spec, Stream(spec, w)
        L = spec["layers"]
        self.wi = next((i for i, l in enumerate(L) if is_windowed(l)), None)
        self.ci = next((i for i, l in enumerate(L) if is_clip_pool(l)), None)
        assert self.wi is None or (self.ci is not None and self.wi < self.ci)
        self.frames, self.closed, self.stream, self.outs, self.attn = [], 0, [], [], []

    def step(self, x):
        L, s = self.spec["layers"], self.s
        s.attn_log, vals = [], {"input": x}
        end = next((i for i in (self.wi, self.ci) if i is not None), len(L))
        y = s.run_chain(L[:end], x, vals, 0)
        s.frame_vals, self.attn = vals, list(s.attn_log)
        if end == len(L):
            self.outs.append(y)
        elif self.wi is None:
            self.stream.append(y)
        else:
            self.frames.append(y)
            lw = L[self.wi]
            w = lw["frames"]
            stride = lw.get("stride", 1 if lw["op"] == "temporal_conv" else w)
            k = self.closed
            if len(self.frames) == k * stride + w:   # window k closes with this frame
                v = self.window_value(lw, self.frames[k * stride:k * stride + w])
                self.closed += 1
                self.stream.append(s.run_chain(L[self.wi + 1:self.ci], v, {}, self.wi + 1))

    def window_value(self, L, frames):
        if L.get("bidirectional"):
            return self.bidirectional(L, frames)
        if L["op"] == "temporal_pool":
            a = np.stack(frames)
            return a.max(0) if L.get("mode", "max") == "max" else a.mean(0)
        # temporal_conv: tap dt of the 3-D kernel convolves frame k s + dt of the window; the
        # frames of a partial window past the clip's end are zeros and add nothing
        name = L["name"]
        W = self.s.W(f"{name}.weight")
        kh, kw = pair(L.get("kernel", 1))
        padding = L.get("padding", 0)
        if padding == "same":
            pad = ((kh - 1) // 2, kh - 1 - (kh - 1) // 2, (kw - 1) // 2, kw - 1 - (kw - 1) // 2)
        elif padding == "valid":
            pad = (0, 0, 0, 0)
        else:
            ph, pw = pair(padding)
            pad = (ph, ph, pw, pw)
        out = sum(conv2d(f, W[:, :, dt], None, pad=pad) for dt, f in enumerate(frames))
        if L.get("bias", True):
            out = out + self.s.W(f"{name}.bias")[:, None, None]
        return out

    def bidirectional(self, L, frames):
        """nn.LSTM / nn.GRU(bidirectional=True) on the window's frames alone, from zeros:
        (window, 2 H), rows [forward; backward], zero rows past a partial window's frames."""
        H, n, lstm, name = L["hidden"], L["frames"], L["op"] == "lstm", L["name"]
        x = np.stack(frames)
        for k in range(L.get("layers", 1)):
            out = np.zeros((n, 2 * H))
            for d, rev in enumerate(("", "_reverse")):
                Wi, Wh = self.s.W(f"{name}.weight_ih_l{k}{rev}"), self.s.W(f"{name}.weight_hh_l{k}{rev}")
                bi = self.s.B(L, f"{name}.bias_ih_l{k}{rev}")
                bh = self.s.B(L, f"{name}.bias_hh_l{k}{rev}")
                h, c = np.zeros(H), np.zeros(H)
                for t in (range(len(x) - 1, -1, -1) if d else range(len(x))):
                    gi, gh = Wi @ x[t] + bi, Wh @ h + bh
                    if lstm:
                        g = gi + gh
                        c = sig(g[H:2 * H]) * c + sig(g[:H]) * np.tanh(g[2 * H:3 * H])
                        h = sig(g[3 * H:]) * np.tanh(c)
                    else:
                        r, z = sig(gi[:H] + gh[:H]), sig(gi[H:2 * H] + gh[H:2 * H])
                        h = (1 - z) * np.tanh(gi[2 * H:] + r * gh[2 * H:]) + z * h
                    out[t, d * H:(d + 1) * H] = h
            x = out[:len(x)]
        return out

    def clip(self):
        L, s = self.spec["layers"], self.s
        saved = copy.deepcopy(s.state)
        stream = self.stream
        if self.wi is not None and self.closed == 0:   # the partial window
            v = self.window_value(L[self.wi], self.frames)
            stream = [s.run_chain(L[self.wi + 1:self.ci], v, {}, self.wi + 1)]
        lc, a = L[self.ci], np.stack(stream)
        mode = lc.get("mode", "max")
        if mode == "concat":
            flat = a[:lc["count"]].reshape(-1)
            v = np.zeros(lc["count"] * a[0].size)
            v[:flat.size] = flat
        else:
            v = a.max(0) if mode == "max" else a.mean(0)
        y = s.run_chain(L[self.ci + 1:], v, {}, self.ci + 1)
        s.state = saved
        return y

    def forecast(self):
        fc = self.spec["forecast"]
        feedback = fc.get("feedback", False)
        x = self.s.frame_vals["input"] if feedback else None   # the last observed frame
        out = []
        for _ in range(fc["steps"]):
            y = self.s.run_chain(fc["layers"], x, {}, len(self.spec["layers"]))
            out.append(y)
            if feedback:
                x = y
        return np.stack(out)


def model_frame(inp, x):
    """A frame as m_step takes it (`input:` dtype, layout, scale, mean, std) as the model's
    float frame: channel-first, (x scale - mean[c]) / std[c]."""
    if inp.get("layout") == "hwc":
        x = np.moveaxis(x, -1, 0)
    c = inp["frame"][0]
    scale = inp.get("scale", 1 / 255 if inp.get("dtype") == "uint8" else 1.0)
    mean = np.broadcast_to(np.asarray(inp.get("mean", 0.0), dtype=np.float64), (c,))
    std = np.broadcast_to(np.asarray(inp.get("std", 1.0), dtype=np.float64), (c,))
    shape = (c,) + (1,) * (x.ndim - 1)
    return (x * scale - mean.reshape(shape)) / std.reshape(shape)


# Weight matrices and filters reelc --weight-type compresses, per op: the tensor names after
# "<layer>." (everything else, biases, norms, peepholes, w_x and v, stays float32).
MATRICES = {"linear": ("weight",), "conv2d": ("weight",), "conv_transpose2d": ("weight",),
            "temporal_conv": ("weight",), "attention": ("w_q.weight", "w_h.weight", "weight"),
            "mha": ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight",
                    "out_proj.weight")}


def is_matrix(op, suffix):
    if op in ("lstm", "gru"):
        return suffix.startswith(("weight_ih", "weight_hh", "weight_hr")) or \
            suffix in ("init_h.weight", "init_c.weight")
    if op == "convlstm":
        return suffix.startswith("cell_list.") and suffix.endswith(".conv.weight")
    if op == "convgru":
        return suffix.startswith("cell_list.") and suffix.endswith(
            (".conv_gates.weight", ".conv_can.weight", ".conv_below.weight"))
    return suffix in MATRICES.get(op, ())


def compress(spec, w, default):
    """The weights a model compiled with --weight-type default computes with (numpy, float32):
    bf16 rounds each weight to nearest even; int8 per row of the first dimension, scale =
    max|row| / 127, q = rint(w / scale), q * scale.  A layer's weight_type wins."""
    out = dict(w)
    for L in spec["layers"] + spec.get("forecast", {}).get("layers", []):
        wt = L.get("weight_type", default)
        for k, t in w.items():
            if wt == "f32" or "name" not in L or not k.startswith(L["name"] + ".") or t.ndim < 2 or \
                    not is_matrix(L["op"], k[len(L["name"]) + 1:]):
                continue
            t = t.astype(np.float32)
            if wt == "bf16":
                bits = t.view(np.uint32).astype(np.uint64)
                bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
                out[k] = bits.astype(np.uint32).view(np.float32).astype(np.float64)
            else:
                rows = t.reshape(t.shape[0], -1)
                scale = np.abs(rows).max(axis=1) / np.float32(127)
                q = np.where(scale[:, None] > 0, np.rint(rows / np.where(scale > 0, scale, 1)[:, None]), 0)
                out[k] = (q.astype(np.float32) * scale[:, None]).reshape(t.shape).astype(np.float64)
    return out


def check(stem):
    ok = check_one(stem, "f32", "io")
    if os.path.exists(os.path.join(GOLDEN, f"{stem}.compressed.safetensors")):
        ok = check_one(stem, "int8", "compressed") and ok
        ok = check_one(stem, "bf16", "compressed") and ok
    return ok


def check_one(stem, wtype, kind):
    spec_base = stem[:-4] if stem.endswith("_f16") else stem[:-5] if stem.endswith("_bf16") \
        else stem
    for d in ("specs", "tests/specs"):
        path = os.path.join(ROOT, d, spec_base + ".yaml")
        if os.path.exists(path):
            break
    spec = yaml.safe_load(open(path))
    w = read_st(os.path.join(GOLDEN, f"{stem}.weights.safetensors"))
    io = read_st(os.path.join(GOLDEN, f"{stem}.io.safetensors"))
    if kind == "compressed":  # that type's outputs, on the io input
        typed = read_st(os.path.join(GOLDEN, f"{stem}.compressed.safetensors"))
        io = dict({k.split(".", 1)[1]: v for k, v in typed.items() if k.startswith(wtype + ".")},
                  input=io["input"])
    r = Runner(spec, compress(spec, w, wtype))
    mode = spec.get("output", {}).get("clip")
    attn, clips = [], []
    for t in range(io["input"].shape[0]):
        r.step(model_frame(spec["input"], io["input"][t]))
        if r.attn:
            attn.append(np.concatenate(r.attn))
        if r.ci is not None:
            clips.append(r.clip())
        elif mode:
            clips.append(aggregate(np.stack(r.outs), mode))
    got = {}
    if r.outs:
        got["output"] = np.stack(r.outs)
    if clips:
        got["clip"], got["clip_steps"] = clips[-1], np.stack(clips)
    if attn:
        got["attention"] = np.stack(attn)
    if "forecast" in spec:
        got["forecast"] = r.forecast()
    unused = set(w) - r.s.used
    assert not unused, f"{stem}: weights never used: {sorted(unused)}"
    missing = sorted(set(got) - set(io) - {"output"}) + sorted(set(io) - set(got) - {"input"})
    worst, report = (float("inf") if missing else 0.0), [f"missing {missing}"] if missing else []
    for k in ("output", "clip", "clip_steps", "attention", "forecast"):
        if k in io and k in got:
            assert io[k].shape == got[k].shape, (k, io[k].shape, got[k].shape)
            d = float(np.abs(io[k] - got[k]).max())
            worst = max(worst, d)
            report.append(f"{k} {d:.2e} (|max| {np.abs(got[k]).max():.3g})")
    name = stem if wtype == "f32" else f"{stem} ({wtype} weights)"
    print(f"{name}: {'ok  ' if worst <= TOL else 'FAIL'} " + ", ".join(report))
    return worst <= TOL


def main():
    stems = sys.argv[1:] or sorted(os.path.basename(f)[:-len(".io.safetensors")]
                                   for f in glob.glob(os.path.join(GOLDEN, "*.io.safetensors")))
    ok = all([check(s) for s in stems])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
