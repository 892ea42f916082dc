"""Tiny random Whisper encoders in the real CTranslate2 format, for tests (no real weights needed).

A named encoder's module says how small its stand-in is (``TINY``: layers, width, heads, n_mels,
ffn), so :func:`write_tiny` makes one for every encoder ser_jax knows, with nothing added here.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ser_jax.encoders import _ct2 as ct2


def tiny_whisper_variables(layers: int = 2, width: int = 16, heads: int = 2, n_mels: int = 80, ffn: int = 32,
                           n_ctx: int = 1500, seed: int = 0) -> dict[str, np.ndarray]:
    """The encoder variables of a Whisper model.bin (float16, as the real one), random; a decoder
    variable and the fused q/k/v layout with a zero k bias, as CTranslate2 writes them."""
    rng = np.random.default_rng(seed)
    r = lambda *shape, scale=0.3: (scale * rng.standard_normal(shape)).astype(np.float16)  # noqa: E731
    v = {"encoder/conv1/bias": r(width), "encoder/conv1/weight": r(width, n_mels, 3),
         "encoder/conv2/bias": r(width), "encoder/conv2/weight": r(width, width, 3, scale=0.2)}
    for i in range(layers):
        p = f"encoder/layer_{i}"
        qkv_bias = r(3 * width)
        qkv_bias[width : 2 * width] = 0
        v |= {f"{p}/ffn/layer_norm/beta": r(width, scale=0.1), f"{p}/ffn/layer_norm/gamma": 1 + r(width, scale=0.1),
              f"{p}/ffn/linear_0/bias": r(ffn), f"{p}/ffn/linear_0/weight": r(ffn, width),
              f"{p}/ffn/linear_1/bias": r(width), f"{p}/ffn/linear_1/weight": r(width, ffn),
              f"{p}/self_attention/layer_norm/beta": r(width, scale=0.1),
              f"{p}/self_attention/layer_norm/gamma": 1 + r(width, scale=0.1),
              f"{p}/self_attention/linear_0/bias": qkv_bias, f"{p}/self_attention/linear_0/weight": r(3 * width, width),
              f"{p}/self_attention/linear_1/bias": r(width), f"{p}/self_attention/linear_1/weight": r(width, width)}
    v |= {"encoder/layer_norm/beta": r(width, scale=0.1), "encoder/layer_norm/gamma": 1 + r(width, scale=0.1),
          "encoder/num_heads": np.asarray(heads, np.int16),
          "encoder/position_encodings/encodings": r(n_ctx, width), "decoder/embeddings/weight": r(4, width)}
    return v


def write_tiny_whisper(path: str | os.PathLike, **kwargs) -> Path:
    """A tiny random Whisper model.bin at path (its parent created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = ct2.write("WhisperSpec", tiny_whisper_variables(**kwargs),
                     aliases={"decoder/projection/weight": "decoder/embeddings/weight"})
    path.write_bytes(data)
    return path


def write_tiny(encoder: str, path: str | os.PathLike, seed: int = 0) -> Path:
    """A tiny random stand-in of named encoder ``encoder`` at path: its architecture at the sizes its
    module's ``TINY`` gives (the mel bands of the real one, so the same front end feeds it)."""
    from ser_jax import encoders

    return write_tiny_whisper(path, seed=seed, **encoders.ENCODERS.module(encoder).TINY)
