"""The synthetic corpora of ser_jax.testing.corpora: one for every reader with an example, in each
of its layouts, as 16-bit WAVs, byte-identical for the same arguments.
"""

from __future__ import annotations

from ser_jax.testing import corpora as synthetic


def test_every_reader_with_an_example_gets_a_synthetic_corpus_in_each_of_its_layouts():
    assert set(synthetic.SCHEMES) >= {"ravdess", "emodb", "crema_d", "tess", "savee"}
    assert "manifest" not in synthetic.SCHEMES  # a table, not a naming scheme: its own tests below
    assert synthetic.variants("tess") == synthetic.variants("savee") == (False, True)
    assert synthetic.variants("emodb") == (False,)


def test_synthetic_files_are_16_bit_wavs_at_the_asked_rate_and_deterministic(tmp_path):
    import soundfile as sf

    a = synthetic.write("emodb", tmp_path / "a", speakers=1, per_emotion=1, sample_rate=8000, seed=3)
    b = synthetic.write("emodb", tmp_path / "b", speakers=1, per_emotion=1, sample_rate=8000, seed=3)
    info = sf.info(a[0])
    assert (info.samplerate, info.subtype, info.channels) == (8000, "PCM_16", 1)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
