"""The SAVEE reader (ser_jax.corpora.savee): flat and speaker-folder names, emotion codes, bad names, duplicates."""

from __future__ import annotations

import pytest

from ser_jax import corpora
from ser_jax.corpora import savee
from ser_jax.testing import corpora as synthetic

from .helpers import bad_name


def test_savee_flat_and_speaker_folder_names():
    flat = savee.parse("/data/savee/DC_a01.wav")
    folder = savee.parse("/data/savee/AudioData/DC/a01.wav")
    for rec in (flat, folder):
        assert (rec.corpus, rec.speaker, rec.emotion, rec.gender) == ("savee", "savee:DC", "angry", "male")
        assert rec.extra == (("channel", "speech"), ("sentence", 1))
    assert savee.parse("x/KL/su15.wav").speaker == "savee:KL"
    rec = savee.parse("x/AB_n30.wav")  # any two capital letters are a speaker; only the four known are male
    assert (rec.speaker, rec.gender, rec.sentence) == ("savee:AB", "", 30)


@pytest.mark.parametrize("code, emotion", [("a", "angry"), ("d", "disgust"), ("f", "fearful"), ("h", "happy"),
                                           ("n", "neutral"), ("sa", "sad"), ("su", "surprised")])
def test_savee_every_emotion_code_is_a_canonical_emotion(code, emotion):
    assert savee.parse(f"x/JE_{code}07.wav").emotion == emotion
    assert savee.parse(f"x/JE/{code}07.wav").emotion == emotion


@pytest.mark.parametrize("path, field", [
    ("x/dc_a01.wav", "'speaker'"),
    ("x/DCX_a01.wav", "'speaker'"),
    ("x/audio/a01.wav", "'speaker'"),  # the folder form needs a speaker folder
    ("x/DC_x01.wav", "'emotion'"),
    ("x/DC_s01.wav", "'emotion'"),
    ("x/DC_a1.wav", "'sentence'"),
    ("x/DC_a001.wav", "'sentence'"),
    ("x/DC_a00.wav", "'sentence'"),
    ("x/DC_01.wav", "not a SAVEE name"),
    ("x/DC_a01_b.wav", "not a SAVEE name"),
])
def test_savee_bad_names_name_the_file_and_the_field(path, field):
    bad_name(savee, path, field)


def test_savee_every_speaker_folder_has_an_a01_and_none_is_a_duplicate(tmp_path):
    paths = synthetic.write("savee", tmp_path, folder_variant=True)
    names = {spk: {p.name for p in paths if p.parent.name == spk} for spk in ("DC", "JE")}
    assert names["DC"] == names["JE"] and "a01.wav" in names["DC"]
    corpus = corpora.read(tmp_path, "savee")
    assert len(corpus) == len(paths) == 2 * 7 * 2 and corpus.skipped == ()


def test_savee_same_speaker_and_name_flat_and_in_a_folder_is_one_recording(tmp_path):
    synthetic.write_wav(tmp_path / "DC_a01.wav", "angry")
    synthetic.write_wav(tmp_path / "DC" / "a01.wav", "angry")
    synthetic.write_wav(tmp_path / "JE" / "a01.wav", "angry", speaker=1)
    corpus = corpora.read(tmp_path, "savee")
    assert sorted(r.speaker for r in corpus.records) == ["savee:DC", "savee:JE"]
    # A folder's own files come before its sub-folders', so the flat copy is kept.
    assert [(s.path, s.reason) for s in corpus.skipped] == [
        (str(tmp_path / "DC" / "a01.wav"), f"duplicate recording of {tmp_path / 'DC_a01.wav'}")]
