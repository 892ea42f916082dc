"""The synthetic voice (ser_jax.synth.voice): the statements differ in their sounds."""

from __future__ import annotations

import numpy as np

from ser_jax import synth


def test_statements_differ_in_their_sounds():
    """Statement 2 has the long /s/ of 'sitting': more high-frequency noise than statement 1."""
    config = synth.SynthConfig(sample_rate=16000, stereo_fraction=0.0)

    def hf_share(statement: int) -> float:
        y = synth.render(synth.FileSpec("speech", 1, 1, statement, 1, 3), config).astype(float)
        spec = np.abs(np.fft.rfft(y)) ** 2
        freqs = np.fft.rfftfreq(len(y), 1 / 16000)
        return spec[freqs > 3500].sum() / spec.sum()

    assert hf_share(2) > 1.5 * hf_share(1)
