"""The JAX Whisper encoder (ser_jax.encoders._whisper) against plain numpy: every hidden state, padding
invariance, clips longer than 30 s in windows, mean, mean+std and strided pooling.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf

from ser_jax import encoders
from ser_jax.encoders import _whisper as whisper
from ser_jax.encoders import _whisper_frontend as whisper_frontend

from .helpers import _audio


def _reference_states(v: dict, mel: np.ndarray) -> np.ndarray:
    """Whisper's encoder written out in float64 numpy, one clip at its own length."""
    g = lambda k: np.asarray(v[f"encoder/{k}"], np.float64)  # noqa: E731
    gelu = lambda x: 0.5 * x * (1 + erf(x / math.sqrt(2)))  # noqa: E731

    def conv(x, w, b, stride):  # x (T, C_in), w (C_out, C_in, 3), zero padding 1
        xp = np.pad(x, ((1, 1), (0, 0)))
        starts = range(0, len(x), stride)
        return np.stack([np.einsum("kc,ock->o", xp[s : s + 3], w) for s in starts]) + b

    def norm(x, prefix):
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-5) * g(f"{prefix}/gamma") + g(f"{prefix}/beta")

    x = gelu(conv(gelu(conv(mel.astype(np.float64), g("conv1/weight"), g("conv1/bias"), 1)),
                  g("conv2/weight"), g("conv2/bias"), 2))
    x = x + g("position_encodings/encodings")[: len(x)]
    heads, layers = int(v["encoder/num_heads"]), whisper_frontend.dims_of(v).layers
    states = [x]
    for i in range(layers):
        p = f"layer_{i}"
        h = norm(x, f"{p}/self_attention/layer_norm")
        q, k, val = np.split(h @ g(f"{p}/self_attention/linear_0/weight").T + g(f"{p}/self_attention/linear_0/bias"),
                             3, axis=-1)
        d = x.shape[1] // heads
        out = []
        for j in range(heads):
            s = q[:, j * d : (j + 1) * d] @ k[:, j * d : (j + 1) * d].T / math.sqrt(d)
            a = np.exp(s - s.max(-1, keepdims=True))
            out.append((a / a.sum(-1, keepdims=True)) @ val[:, j * d : (j + 1) * d])
        x = (x + np.concatenate(out, -1) @ g(f"{p}/self_attention/linear_1/weight").T
             + g(f"{p}/self_attention/linear_1/bias"))
        h = norm(x, f"{p}/ffn/layer_norm")
        h = gelu(h @ g(f"{p}/ffn/linear_0/weight").T + g(f"{p}/ffn/linear_0/bias"))
        x = x + h @ g(f"{p}/ffn/linear_1/weight").T + g(f"{p}/ffn/linear_1/bias")
        states.append(norm(x, "layer_norm") if i == layers - 1 else x)
    return np.stack(states)  # (layers + 1, T_states, width)


def test_the_jax_encoder_gives_every_hidden_state_of_a_plain_numpy_whisper(tiny_bin):
    v = encoders.read_file(str(tiny_bin))[1]
    sha = encoders.describe(str(tiny_bin)).sha256
    for seconds in (0.57, 1.3):  # odd and even mel frame counts
        mel = whisper_frontend.log_mel(_audio(seconds, 1))
        ref = _reference_states(v, mel)
        got = whisper.encode([mel], str(tiny_bin), sha, range(len(ref)))[0]
        assert got.dtype == np.float16 and got.shape == (ref.shape[1], ref.shape[0] * ref.shape[2])
        np.testing.assert_allclose(got.astype(np.float32), ref.transpose(1, 0, 2).reshape(ref.shape[1], -1),
                                   rtol=2e-3, atol=2e-3)


def test_padding_a_batch_never_changes_a_clips_states(tiny_bin):
    sha = encoders.describe(str(tiny_bin)).sha256
    mels = [whisper_frontend.log_mel(_audio(s, i)) for i, s in enumerate((0.31, 2.07, 1.0, 0.8, 1.55))]
    together = whisper.encode(mels, str(tiny_bin), sha, [0, 1, 2])
    for mel, batched in zip(mels, together):
        alone = whisper.encode([mel], str(tiny_bin), sha, [0, 1, 2])[0]
        assert batched.shape == alone.shape == ((len(mel) + 1) // 2, 48)
        np.testing.assert_allclose(batched.astype(np.float32), alone.astype(np.float32), rtol=1e-3, atol=1e-3)


def test_clips_longer_than_30_seconds_are_encoded_in_windows_whose_states_are_joined(tiny_bin):
    sha = encoders.describe(str(tiny_bin)).sha256
    mel = np.tile(whisper_frontend.log_mel(_audio(1.0, 2)), (31, 1))[:3100]  # 31 s
    got = whisper.encode([mel], str(tiny_bin), sha, [2])[0]
    first = whisper.encode([mel[:3000]], str(tiny_bin), sha, [2])[0]
    rest = whisper.encode([mel[3000:]], str(tiny_bin), sha, [2])[0]
    assert len(got) == whisper_frontend.num_states(3100 * 160) == 1500 + 50
    np.testing.assert_allclose(got.astype(np.float32), np.concatenate([first, rest]).astype(np.float32), atol=1e-3)


def test_a_mean_pooled_clip_is_the_mean_of_its_frames_over_every_window(tiny_bin):
    sha = encoders.describe(str(tiny_bin)).sha256
    short = whisper_frontend.log_mel(_audio(1.3, 4))
    long = np.tile(whisper_frontend.log_mel(_audio(1.0, 5)), (31, 1))[:3100]  # two windows
    frames = whisper.encode([short, long], str(tiny_bin), sha, [0, 2])
    pooled = whisper.encode([short, long], str(tiny_bin), sha, [0, 2], pool="mean")
    stats = whisper.encode([short, long], str(tiny_bin), sha, [0, 2], pool="meanstd")
    strided = whisper.encode([short, long], str(tiny_bin), sha, [0, 2], stride=4)
    for f, st in zip(frames, strided):  # every 4 frames averaged; the last window holds what is left
        f = f.astype(np.float32)
        assert st.shape == (-(-len(f) // 4), f.shape[1])
        np.testing.assert_allclose(st[0].astype(np.float32), f[:4].mean(0), rtol=2e-3, atol=2e-3)
        np.testing.assert_allclose(st[-1].astype(np.float32), f[4 * (len(st) - 1) :].mean(0), rtol=2e-3, atol=2e-3)
    for f, p, st in zip(frames, pooled, stats):
        assert p.shape == (1, f.shape[1]) and p.dtype == np.float16
        np.testing.assert_allclose(p[0].astype(np.float32), f.astype(np.float32).mean(0), rtol=2e-3, atol=2e-3)
        per_state = f.astype(np.float32).reshape(len(f), 2, -1)  # (T, states, width): h0, then h2
        want = np.concatenate([per_state.mean(0), per_state.std(0)], -1).reshape(-1)  # h0 mean, h0 std, h2 ...
        assert st.shape == (1, 2 * f.shape[1])
        np.testing.assert_allclose(st[0].astype(np.float32), want, rtol=3e-3, atol=3e-3)
