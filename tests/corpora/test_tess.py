"""The TESS reader (ser_jax.corpora.tess): names, emotions, bad names, emotion folders or flat."""

from __future__ import annotations

import pytest

from ser_jax import corpora
from ser_jax.corpora import tess
from ser_jax.testing import corpora as synthetic

from .helpers import bad_name


def test_tess_name_gives_speaker_word_emotion_and_both_speakers_are_female():
    rec = tess.parse("/data/tess/OAF_angry/OAF_back_angry.wav")
    assert (rec.corpus, rec.speaker, rec.emotion, rec.gender) == ("tess", "tess:OAF", "angry", "female")
    assert rec.extra == (("channel", "speech"), ("word", "back"))
    rec = tess.parse("/data/tess/YAF_pleasant_surprised/yaf_Bath_PS.wav")  # case does not matter
    assert (rec.speaker, rec.emotion, rec.gender, rec.word) == ("tess:YAF", "surprised", "female", "bath")


@pytest.mark.parametrize("code, emotion", [("angry", "angry"), ("disgust", "disgust"), ("fear", "fearful"),
                                           ("happy", "happy"), ("neutral", "neutral"), ("ps", "surprised"),
                                           ("sad", "sad"), ("Fear", "fearful"), ("PS", "surprised")])
def test_tess_every_emotion_is_a_canonical_emotion(code, emotion):
    assert tess.parse(f"x/YAF_chair_{code}.wav").emotion == emotion


@pytest.mark.parametrize("name, field", [
    ("OAF_angry.wav", "not a TESS name"),
    ("OAF_back_angry_2.wav", "not a TESS name"),
    ("MAF_back_angry.wav", "'speaker'"),
    ("OAF_b4ck_angry.wav", "'word'"),
    ("OAF_back_anger.wav", "'emotion'"),
    ("OAF_back_surprised.wav", "'emotion'"),
])
def test_tess_bad_names_name_the_file_and_the_field(name, field):
    bad_name(tess, f"x/{name}", field)


def test_tess_emotion_folders_or_flat_give_the_same_corpus(tmp_path):
    in_folders = synthetic.write("tess", tmp_path / "folders")
    flat = synthetic.write("tess", tmp_path / "flat", folder_variant=True)
    assert in_folders[0].parent.name == "OAF_angry" and flat[0].parent == tmp_path / "flat"

    def labels(root):
        return sorted((r.speaker, r.emotion, r.word, r.stem) for r in corpora.read(root, "tess").records)

    assert labels(tmp_path / "folders") == labels(tmp_path / "flat")
    assert len(labels(tmp_path / "flat")) == 2 * 7 * 2
