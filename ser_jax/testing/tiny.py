"""The tests' tiny settings, shared by tests/ (import them from here, not from a conftest).

``TINY_FEATURES``: small enough that the tiny synthetic corpus's cache builds in seconds, on the same
code path as the default settings. ``TINY_MODEL``: a tiny crnn (``models.tiny("crnn")`` is the same).
Importing this module imports JAX: tests/conftest.py sets the process up (XLA flags, compilation
cache) before it imports this.
"""

from __future__ import annotations

from ser_jax import features
from ser_jax.models import crnn

TINY_FEATURES = features.FeatureConfig(recipe="fast", sample_rate=16000, duration=1.0, n_fft=512, hop_length=256,
                                       n_mfcc=13, n_mels=16)
TINY_MODEL = crnn.Config(conv_filters=(8,), conv_kernels=(3,), lstm_units=8, dense_units=(8,))
