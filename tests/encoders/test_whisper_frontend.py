"""Whisper's log-mel front end (ser_jax.encoders._whisper_frontend), numpy, against librosa's STFT."""

from __future__ import annotations

import librosa
import numpy as np

from ser_jax.encoders import _whisper_frontend as whisper_frontend

from .helpers import _audio


def test_log_mel_is_whispers_formula_over_librosas_stft():
    y = _audio(1.23, 0)
    mel = whisper_frontend.log_mel(y)
    stft = librosa.stft(y, n_fft=400, hop_length=160, window="hann", center=True, pad_mode="reflect")
    power = np.abs(stft[:, :-1]) ** 2
    ref = np.log10(np.maximum(librosa.filters.mel(sr=16000, n_fft=400, n_mels=80) @ power, 1e-10))
    ref = (np.maximum(ref, ref.max() - 8.0) + 4.0) / 4.0
    assert mel.shape == (len(y) // 160, 80)
    np.testing.assert_allclose(mel, ref.T, atol=2e-5)
