"""A safetensors writer and reader (Debian has no `safetensors` package; see docs/spec.md).

save_file(tensors, path, metadata=None) and load_file(path) mirror safetensors.torch's;
write() and read() add the dtype to store (F32, F16, BF16) and return the metadata.

Format: u64 little-endian header length N, N bytes of UTF-8 JSON padded with spaces to a
multiple of 8, then the raw little-endian tensor data; data_offsets are relative to 8 + N.
The writer is deterministic: "__metadata__" first, then tensors sorted by name, both in the
JSON and in the data section, compact separators (as the Rust implementation writes them).
"""
import json
import struct

import numpy as np
import torch

# dtype name -> (bytes per element, numpy little-endian type used to read the raw data)
DTYPES = {"F32": (4, "<f4"), "F16": (2, "<f2"), "BF16": (2, "<u2"), "I64": (8, "<i8"),
          "U8": (1, "u1")}


def _raw_bytes(t, dtype):
    t = t.detach().cpu().contiguous()
    if dtype == "I64":
        return t.numpy().astype("<i8").tobytes()
    if dtype == "U8":
        return t.numpy().astype("u1").tobytes()
    if dtype == "F32":
        return t.to(torch.float32).numpy().astype("<f4").tobytes()
    if dtype == "F16":
        return t.to(torch.float16).numpy().astype("<f2").tobytes()
    if dtype == "BF16":
        # numpy has no bfloat16: let torch round (nearest-even), then take the bit pattern.
        return t.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
    raise ValueError(f"unsupported dtype {dtype}")


def write(path, tensors, metadata=None, dtype="F32"):
    """Write {name: tensor} to path, every floating tensor converted to `dtype`; int64 tensors
    (BatchNorm's num_batches_tracked) are written as I64, uint8 ones (camera frames) as U8."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in sorted(metadata.items())}
    for name in sorted(tensors):
        t_dtype = {torch.int64: "I64", torch.uint8: "U8"}.get(tensors[name].dtype, dtype)
        blob = _raw_bytes(tensors[name], t_dtype)
        header[name] = {"dtype": t_dtype, "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    js = json.dumps(header, separators=(",", ":")).encode("utf-8")
    js += b" " * (-len(js) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js + b"".join(blobs))


def read(path):
    """Return ({name: float32 (or int64 for I64, uint8 for U8) torch tensor}, metadata),
    validating the layout strictly."""
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack_from("<Q", buf, 0)
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = buf[8 + n:]
    out, spans = {}, []
    for name, info in header.items():
        size, np_type = DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        numel = int(np.prod(info["shape"], dtype=np.int64))
        assert end - begin == numel * size, f"{path}: {name} has a wrong byte size"
        arr = np.frombuffer(data[begin:end], dtype=np_type)
        if info["dtype"] == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)  # bf16 is the top half of f32
        out_type = {"I64": np.int64, "U8": np.uint8}.get(info["dtype"], np.float32)
        out[name] = torch.from_numpy(arr.astype(out_type).reshape(info["shape"]))
        spans.append((begin, end))
    # Tensors must tile the data section exactly: contiguous, no overlap, no trailing bytes.
    pos = 0
    for begin, end in sorted(spans):
        assert begin == pos, f"{path}: gap or overlap at offset {begin}"
        pos = end
    assert 8 + n + pos == len(buf), f"{path}: file size does not match the header"
    return out, meta


def save_file(tensors, path, metadata=None):
    """safetensors.torch.save_file: {name: tensor} to path, floats as F32."""
    write(path, tensors, metadata)


def load_file(path):
    """safetensors.torch.load_file: path -> {name: tensor}."""
    return read(path)[0]
