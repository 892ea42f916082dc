"""OpenAI Whisper's audio encoder in JAX, from CTranslate2 weights: every hidden state of a clip.

Two halves, for the two kinds of process: the log-mel front end (``_whisper_frontend``, numpy) runs
in the feature workers beside audio loading; ``encode`` (JAX) runs in the process that gathers
their results, batching clips of similar length. Clips run at their own length (the positional
embedding cut to the frame count); longer than 30 s, in 30-s windows whose states are joined.
Padding a batch never changes a clip's states: padded mel frames are zero, as the convolution's own
padding, the first convolution's output is zeroed past each clip, and attention never looks past it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ser_jax.encoders._whisper_frontend import Dims, dims_of

LN_EPS = 1e-5
_BATCH = 8  # clips per encoder call: a fixed size, so one compilation per length bucket
_BUCKET_MEL = 100  # mel frames: lengths are padded up to whole seconds


def params_of(v: Mapping[str, np.ndarray]) -> dict:
    """The encoder's float32 parameters as a pytree: convolutions (out, in, k); linear (in, out)."""
    f = lambda name: jnp.asarray(np.asarray(v[f"encoder/{name}"], np.float32))  # noqa: E731
    t = lambda name: jnp.asarray(np.asarray(v[f"encoder/{name}"], np.float32).T)  # noqa: E731
    blocks = []
    for i in range(dims_of(v).layers):
        p = f"layer_{i}"
        blocks.append({
            "ln1": (f(f"{p}/self_attention/layer_norm/gamma"), f(f"{p}/self_attention/layer_norm/beta")),
            "qkv": (t(f"{p}/self_attention/linear_0/weight"), f(f"{p}/self_attention/linear_0/bias")),
            "out": (t(f"{p}/self_attention/linear_1/weight"), f(f"{p}/self_attention/linear_1/bias")),
            "ln2": (f(f"{p}/ffn/layer_norm/gamma"), f(f"{p}/ffn/layer_norm/beta")),
            "fc1": (t(f"{p}/ffn/linear_0/weight"), f(f"{p}/ffn/linear_0/bias")),
            "fc2": (t(f"{p}/ffn/linear_1/weight"), f(f"{p}/ffn/linear_1/bias")),
        })
    return {"conv1": (f("conv1/weight"), f("conv1/bias")), "conv2": (f("conv2/weight"), f("conv2/bias")),
            "pos": f("position_encodings/encodings"), "blocks": blocks,
            "ln_post": (f("layer_norm/gamma"), f("layer_norm/beta"))}


def layer_norm(x: jax.Array, p: tuple[jax.Array, jax.Array]) -> jax.Array:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + LN_EPS) * p[0] + p[1]


def _conv(x: jax.Array, p: tuple[jax.Array, jax.Array], stride: int) -> jax.Array:
    """Conv1d(k=3, padding=1) of x (B, T, C) with a (out, in, k) kernel, as PyTorch's."""
    y = jax.lax.conv_general_dilated(x, p[0], (stride,), [(1, 1)], dimension_numbers=("NWC", "OIW", "NWC"),
                                     precision=jax.lax.Precision.HIGHEST)
    return y + p[1]


def _gelu(x: jax.Array) -> jax.Array:
    return jax.nn.gelu(x, approximate=False)


def block(x: jax.Array, mask: jax.Array, p: dict, heads: int) -> jax.Array:
    """One pre-LN transformer block of the encoder on x (B, T, width); keys past ``mask`` (B, T) unseen.
    Also the fine-tuned top blocks of ser_jax.models.whisper_top, so both compute the same function."""
    b, t, d = x.shape
    h = layer_norm(x, p["ln1"])
    qkv = h @ p["qkv"][0] + p["qkv"][1]
    q, k, v = (a.reshape(b, t, heads, d // heads) for a in jnp.split(qkv, 3, axis=-1))
    logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(d // heads)
    logits = jnp.where(mask[:, None, None, :], logits, -1e30)
    att = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(logits, axis=-1), v).reshape(b, t, d)
    x = x + att @ p["out"][0] + p["out"][1]
    h = layer_norm(x, p["ln2"])
    return x + _gelu(h @ p["fc1"][0] + p["fc1"][1]) @ p["fc2"][0] + p["fc2"][1]


def hidden_states(params: dict, mel: jax.Array, mel_lengths: jax.Array, heads: int, upto: int | None = None
                  ) -> jax.Array:
    """(layers + 1, B, T_mel // 2, width): the embedding and each block's output (the last after the
    final layer norm, as Hugging Face's hidden_states and CTranslate2's encode() give it) of mel
    (B, T_mel, n_mels), zero past each clip's mel_lengths; T_mel even, at most the 30-s window.
    ``upto``: only the first so many blocks run (upto + 1 states)."""
    valid_mel = jnp.arange(mel.shape[1])[None, :, None] < mel_lengths[:, None, None]
    x = jnp.where(valid_mel, _gelu(_conv(jnp.where(valid_mel, mel, 0.0), params["conv1"], 1)), 0.0)
    x = _gelu(_conv(x, params["conv2"], 2))
    x = x + params["pos"][: x.shape[1]]
    mask = jnp.arange(x.shape[1])[None, :] < (mel_lengths[:, None] + 1) // 2
    states = [x]
    for i, p in enumerate(params["blocks"][:upto]):
        x = block(x, mask, p, heads)
        states.append(layer_norm(x, params["ln_post"]) if i == len(params["blocks"]) - 1 else x)
    return jnp.stack(states)


_hidden_states_jit = jax.jit(hidden_states, static_argnums=(3, 4))


@functools.lru_cache(maxsize=2)
def _model(encoder: str, sha256: str) -> tuple[dict, Dims]:
    from ser_jax import encoders

    variables = encoders.load(encoder, sha256)
    return params_of(variables), dims_of(variables, encoder)


def model_dims(encoder: str, sha256: str) -> Dims:
    return _model(encoder, sha256)[1]


def encode(mels: Sequence[np.ndarray], encoder: str, sha256: str, states: Sequence[int], pool: str = "frames",
           stride: int = 1) -> list[np.ndarray]:
    """(T_states, len(states) * width) float16 per log-mel: the chosen hidden states side by side;
    with ``pool="mean"`` one row, the mean over the clip's frames (all its windows), taken in float32;
    with ``pool="meanstd"`` one row holding each state's mean and then its standard deviation; frames
    with ``stride`` k: the mean of every k frames (the last of the clip's frames, however many).

    Clips are windowed at 30 s, sorted by length, padded to whole seconds and encoded _BATCH at a
    time (one compilation per length), so results never depend on what a clip was batched with.
    """
    if pool not in ("frames", "mean", "meanstd"):
        raise ValueError(f"pool={pool!r}: expected 'frames', 'mean' or 'meanstd'")
    params, dims = _model(encoder, sha256)
    pieces: list[tuple[int, int, np.ndarray]] = []  # (clip, window, mel)
    for c, m in enumerate(mels):
        if m.ndim != 2 or m.shape[1] != dims.n_mels:
            raise ValueError(f"log-mel of shape {m.shape}; this encoder takes (frames, {dims.n_mels})")
        for w, start in enumerate(range(0, max(len(m), 1), dims.max_mel)):
            pieces.append((c, w, m[start : start + dims.max_mel]))
    order = sorted(range(len(pieces)), key=lambda i: len(pieces[i][2]))
    out: dict[tuple[int, int], np.ndarray] = {}
    pick = np.asarray(states)
    for s in range(0, len(order), _BATCH):
        group = [pieces[i] for i in order[s : s + _BATCH]]
        longest = max(len(g[2]) for g in group)
        t_mel = min(dims.max_mel, -(-longest // _BUCKET_MEL) * _BUCKET_MEL)
        batch = np.zeros((_BATCH, t_mel, dims.n_mels), np.float32)
        lengths = np.ones(_BATCH, np.int32)  # rows past the group: one frame of zeros, ignored
        for j, (_, _, m) in enumerate(group):
            batch[j, : len(m)] = m
            lengths[j] = len(m)
        hs = np.asarray(_hidden_states_jit(params, jnp.asarray(batch), jnp.asarray(lengths), dims.heads)[pick])
        for j, (c, w, m) in enumerate(group):
            n = (len(m) + 1) // 2
            out[(c, w)] = hs[:, j, :n].transpose(1, 0, 2).reshape(n, -1)
    results = []
    for c in range(len(mels)):
        frames = np.concatenate([out[k] for k in sorted(k for k in out if k[0] == c)], axis=0)
        if pool == "mean":
            frames = frames.mean(axis=0, keepdims=True, dtype=np.float32)
        elif pool == "meanstd":
            per_state = frames.reshape(len(frames), len(pick), -1).astype(np.float32)  # (T, states, width)
            frames = np.concatenate([per_state.mean(0), per_state.std(0)], axis=-1).reshape(1, -1)
        elif stride > 1:
            starts = np.arange(0, len(frames), stride)
            frames = np.add.reduceat(frames.astype(np.float32), starts, axis=0) / np.diff(
                np.append(starts, len(frames)))[:, None]
        results.append(frames.astype(np.float16))
    return results
