"""A numpy reader (and writer, for tests) of CTranslate2's ``model.bin``, so that pretrained weights
load without ctranslate2, torch or a network.

Layout (binary version 6, little endian): uint32 version; the spec's name; uint32 spec revision;
uint32 variable count; per variable its name, uint8 rank, uint32 dims, uint8 dtype, uint32 byte
count and the raw bytes; uint32 alias count and (alias, target) name pairs. A name is a uint16 byte
count and that many bytes, NUL included.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

import numpy as np

SUPPORTED_VERSIONS = (5, 6)
# CTranslate2's DataType enum.
DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
_CODES = {np.dtype(v): k for k, v in DTYPES.items()}


class ModelFileError(ValueError):
    """A model.bin that does not parse; the message names the file and the offset."""


def read(data: bytes | memoryview, name: str = "model.bin") -> tuple[str, dict[str, np.ndarray]]:
    """(spec name, variables by name, aliases resolved) of a model.bin's bytes. Arrays are views of
    ``data`` (no copy); they are read only."""
    buf = memoryview(data)
    pos = 0

    def take(fmt: str) -> int:
        nonlocal pos
        size = struct.calcsize("<" + fmt)
        if pos + size > len(buf):
            raise ModelFileError(f"{name}: ends at byte {len(buf)} inside a header field; the file is truncated")
        (value,) = struct.unpack_from("<" + fmt, buf, pos)
        pos += size
        return value

    def text() -> str:
        nonlocal pos
        n = take("H")
        raw = bytes(buf[pos : pos + n])
        pos += n
        return raw.rstrip(b"\0").decode("utf-8", "replace")

    version = take("I")
    if version not in SUPPORTED_VERSIONS:
        raise ModelFileError(f"{name}: CTranslate2 binary version {version}; this reader knows {SUPPORTED_VERSIONS}")
    spec = text()
    take("I")  # spec revision
    variables: dict[str, np.ndarray] = {}
    for _ in range(take("I")):
        var = text()
        dims = tuple(take("I") for _ in range(take("B")))
        code = take("B")
        nbytes = take("I")
        if code not in DTYPES:
            raise ModelFileError(f"{name}: variable {var} has dtype code {code}; known: {sorted(DTYPES)}")
        dtype = np.dtype(DTYPES[code])
        if nbytes != int(np.prod(dims, dtype=np.int64)) * dtype.itemsize or pos + nbytes > len(buf):
            raise ModelFileError(f"{name}: variable {var} at byte {pos} claims {nbytes} bytes for shape {dims} "
                                 f"{dtype}; the file is truncated or not a model.bin")
        variables[var] = np.frombuffer(buf, dtype, int(np.prod(dims, dtype=np.int64)), pos).reshape(dims)
        pos += nbytes
    for _ in range(take("I")):
        alias, target = text(), text()
        variables[alias] = variables[target]
    if pos != len(buf):
        raise ModelFileError(f"{name}: {len(buf) - pos} bytes left after the last alias; not a model.bin")
    return spec, variables


def write(spec: str, variables: Mapping[str, np.ndarray], aliases: Mapping[str, str] = {}, version: int = 6) -> bytes:
    """The model.bin bytes of these variables: tests write tiny models in the real format with it."""

    def text(s: str) -> bytes:
        raw = s.encode() + b"\0"
        return struct.pack("<H", len(raw)) + raw

    out = [struct.pack("<I", version), text(spec), struct.pack("<I", 1), struct.pack("<I", len(variables))]
    for var, value in variables.items():
        value = np.asarray(value, order="C")  # (ascontiguousarray would make a scalar 1-d)
        out += [text(var), struct.pack("<B", value.ndim), struct.pack(f"<{value.ndim}I", *value.shape),
                struct.pack("<BI", _CODES[value.dtype], value.nbytes), value.tobytes()]
    out.append(struct.pack("<I", len(aliases)))
    for alias, target in aliases.items():
        out += [text(alias), text(target)]
    return b"".join(out)
