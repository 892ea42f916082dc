"""The CREMA-D reader (ser_jax.corpora.crema_d): names, emotion codes, bad names, the demographics table that
gives genders.
"""

from __future__ import annotations

import pytest

from ser_jax import corpora
from ser_jax.corpora import crema_d
from ser_jax.testing import corpora as synthetic

from .helpers import bad_name


def test_crema_d_name_gives_actor_sentence_emotion_level():
    rec = crema_d.parse("/data/crema/AudioWAV/1001_DFA_ANG_XX.wav", "/nonexistent/crema")
    assert (rec.corpus, rec.speaker, rec.emotion) == ("crema_d", "crema_d:1001", "angry")
    assert rec.extra == (("channel", "speech"), ("sentence", "DFA"), ("level", "XX"), ("actor", 1001))
    assert rec.gender == ""  # no VideoDemographics.csv: the name does not say
    assert crema_d.parse("x/1091_IEO_SAD_HI.wav").level == "HI"


@pytest.mark.parametrize("code, emotion", [("ANG", "angry"), ("DIS", "disgust"), ("FEA", "fearful"),
                                           ("HAP", "happy"), ("NEU", "neutral"), ("SAD", "sad")])
def test_crema_d_every_emotion_code_is_a_canonical_emotion(code, emotion):
    assert crema_d.parse(f"x/1001_IEO_{code}_MD.wav").emotion == emotion


@pytest.mark.parametrize("name, field", [
    ("1001_DFA_ANG.wav", "not a CREMA-D name"),
    ("1001_DFA_ANG_XX_1.wav", "not a CREMA-D name"),
    ("101_DFA_ANG_XX.wav", "'actor'"),
    ("0999_DFA_ANG_XX.wav", "'actor'"),
    ("1092_DFA_ANG_XX.wav", "'actor'"),
    ("1001_DfA_ANG_XX.wav", "'sentence'"),
    ("1001_DF_ANG_XX.wav", "'sentence'"),
    ("1001_DFA_ANX_XX.wav", "'emotion'"),
    ("1001_DFA_ang_XX.wav", "'emotion'"),
    ("1001_DFA_ANG_ZZ.wav", "'level'"),
])
def test_crema_d_bad_names_name_the_file_and_the_field(name, field):
    bad_name(crema_d, f"x/AudioWAV/{name}", field)


def test_crema_d_gender_comes_from_video_demographics_in_the_root_or_its_parent(tmp_path):
    synthetic.write_tables("crema_d", tmp_path, speakers=3)  # 1001 Male, 1002 Female, 1003 Male
    wav = str(tmp_path / "AudioWAV" / "1002_TIE_HAP_LO.wav")
    assert crema_d.parse(wav, tmp_path).gender == "female"
    assert crema_d.parse(wav, tmp_path / "AudioWAV").gender == "female"  # root = AudioWAV: table one up
    assert crema_d.parse(str(tmp_path / "AudioWAV" / "1003_TIE_HAP_LO.wav"), tmp_path).gender == "male"
    unlisted = str(tmp_path / "AudioWAV" / "1050_TIE_HAP_LO.wav")
    assert crema_d.parse(unlisted, tmp_path).gender == ""


def test_crema_d_corpus_with_and_without_demographics(tmp_path):
    synthetic.write("crema_d", tmp_path, per_emotion=1)
    with_table = corpora.read(tmp_path, "crema_d")
    genders = {r.speaker: r.gender for r in with_table.records}
    assert genders == {"crema_d:1001": "male", "crema_d:1002": "female"}
    (tmp_path / crema_d.DEMOGRAPHICS).unlink()
    without = corpora.read(tmp_path, "crema_d")
    assert len(without) == len(with_table) == 12
    assert {r.gender for r in without.records} == {""}


def test_crema_d_malformed_demographics_is_one_error_naming_the_table(tmp_path):
    synthetic.write("crema_d", tmp_path, speakers=1, per_emotion=1)
    synthetic.write_manifest(tmp_path / crema_d.DEMOGRAPHICS, [{"ActorID": 1001, "Gender": "Male"}])
    with pytest.raises(ValueError, match=r"VideoDemographics\.csv: .*lack column\(s\) Sex"):
        corpora.read(tmp_path, "crema_d")
