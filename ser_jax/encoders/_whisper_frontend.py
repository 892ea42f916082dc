"""Whisper's front end and sizes, in numpy: what the feature workers run (they never import JAX).

``log_mel`` is Whisper's log-mel spectrogram of a clip at its own length; ``dims_of`` reads an
encoder's sizes from its weights; ``num_states`` says how many hidden-state frames a clip gives.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping

import numpy as np

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160  # mel frames every 10 ms; the encoder's stride-2 convolution gives a state every 20 ms
SAMPLES_PER_STATE = 2 * HOP


@dataclasses.dataclass(frozen=True)
class Dims:
    n_mels: int
    width: int
    heads: int
    layers: int
    ffn: int
    n_ctx: int  # states of a 30-s window (1500)

    @property
    def max_mel(self) -> int:
        return 2 * self.n_ctx


def dims_of(v: Mapping[str, np.ndarray], where: str = "model.bin") -> Dims:
    """The encoder's sizes as its weights state them (any Whisper size)."""
    try:
        width, n_mels, _ = v["encoder/conv1/weight"].shape
        layers = 0
        while f"encoder/layer_{layers}/ffn/linear_0/weight" in v:
            layers += 1
        return Dims(n_mels=int(n_mels), width=int(width), heads=int(v["encoder/num_heads"]), layers=layers,
                    ffn=int(v["encoder/layer_0/ffn/linear_0/weight"].shape[0]),
                    n_ctx=int(v["encoder/position_encodings/encodings"].shape[0]))
    except (KeyError, ValueError, TypeError) as e:
        raise ValueError(f"{where}: not a CTranslate2 Whisper model (missing or odd {e})") from None




@functools.lru_cache(maxsize=2)
def mel_filters(n_mels: int) -> np.ndarray:
    """Whisper's filterbank: librosa.filters.mel(sr=16000, n_fft=400, n_mels), as it was made."""
    import librosa

    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=n_mels).astype(np.float32)


def log_mel(y: np.ndarray, n_mels: int = 80) -> np.ndarray:
    """(len(y) // 160, n_mels) float32: Whisper's log-mel of 16-kHz audio y, at y's own length.

    Power of a centred (reflect-padded) periodic-Hann STFT without its last frame, mel filterbank,
    log10 clamped below at 1e-10 and at the clip's maximum - 8, then (x + 4) / 4.
    """
    y = np.asarray(y, np.float32)
    frames = len(y) // HOP
    if frames == 0:
        raise ValueError(f"audio of {len(y)} samples is shorter than one 10-ms frame at 16 kHz")
    padded = np.pad(y, N_FFT // 2, mode="reflect") if len(y) > N_FFT // 2 else np.pad(y, N_FFT // 2)
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(frames)[:, None]
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)  # periodic Hann
    power = np.abs(np.fft.rfft(padded[idx] * window, axis=1)) ** 2  # (frames, 201)
    mel = power.astype(np.float32) @ mel_filters(n_mels).T
    log = np.log10(np.maximum(mel, 1e-10))
    log = np.maximum(log, log.max() - 8.0)
    return np.ascontiguousarray((log + 4.0) / 4.0, dtype=np.float32)


def num_states(num_samples: int, max_mel: int = 3000) -> int:
    """Hidden-state frames of a clip of num_samples at 16 kHz (30-s windows joined)."""
    mel = num_samples // HOP
    full, rest = divmod(mel, max_mel)
    return full * (max_mel // 2) + (rest + 1) // 2
