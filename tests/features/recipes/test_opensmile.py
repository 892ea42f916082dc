"""openSMILE's descriptors as groups of the handcrafted recipes (ser_jax.features.recipes._opensmile):
eGeMAPS and ComParE low-level descriptors on our frames.
"""

from __future__ import annotations

import numpy as np

from ser_jax import features as F


def test_egemaps_group_is_opensmiles_descriptors_on_our_frames_and_optional():
    import scipy.signal

    cfg = F.FeatureConfig(recipe="fast", sample_rate=16000, duration=1.0, n_fft=512, hop_length=256,
                                 n_mfcc=13, n_mels=16, groups=("egemaps", "mfcc"))
    assert F.feature_layout(cfg) == (("mfcc", 0, 13), ("egemaps", 13, 38))
    t = np.arange(16000) / 16000
    y = (0.3 * scipy.signal.sawtooth(2 * np.pi * 220 * t)).astype(np.float32)
    x = F.prepare(y, cfg)
    assert x.shape == (F.num_frames(16000, cfg), 38) and np.isfinite(x).all()
    f0 = x[10:50, 13 + 10]  # F0 in semitones above 27.5 Hz: 220 Hz is 36
    np.testing.assert_allclose(f0, 36.0, atol=0.2)
    # Not computed unless asked, and naming it changes no other config's key.
    assert "egemaps" not in F.FeatureConfig().groups
    assert F.FeatureConfig(groups=("mfcc",)).key() != cfg.key()


def test_compare_group_is_opensmiles_compare_descriptors_on_our_frames():
    cfg = F.FeatureConfig(recipe="fast", sample_rate=16000, duration=1.0, n_fft=512, hop_length=256,
                          n_mfcc=13, n_mels=16, groups=("mfcc", "compare", "egemaps"))
    assert F.feature_layout(cfg) == (("mfcc", 0, 13), ("egemaps", 13, 38), ("compare", 38, 103))
    t = np.arange(16000) / 16000
    loud, quiet = (a * np.sin(2 * np.pi * 220 * t).astype(np.float32) for a in (0.3, 0.03))
    x, q = F.prepare(loud, cfg), F.prepare(quiet, cfg)
    assert x.shape == (F.num_frames(16000, cfg), 103) and np.isfinite(x).all()
    np.testing.assert_allclose(x[10:50, 38 + 0], 220.0, atol=1.0)  # F0final_sma, in Hz
    # pcm_RMSenergy_sma follows the signal: a tenth of the amplitude, a tenth of it.
    np.testing.assert_allclose(q[10:50, 38 + 8] / x[10:50, 38 + 8], 0.1, rtol=0.02)
    assert "compare" not in F.FeatureConfig().groups
