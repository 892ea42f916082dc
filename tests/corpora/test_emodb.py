"""The EmoDB reader (ser_jax.corpora.emodb): names, emotion letters, bad names naming the file and the field."""

from __future__ import annotations

import pytest

from ser_jax import corpora
from ser_jax.corpora import emodb

from .helpers import bad_name


def test_emodb_name_gives_speaker_text_emotion_version_and_gender():
    rec = emodb.parse("/data/emodb/wav/03a01Fa.wav", "/data/emodb")
    assert (rec.corpus, rec.speaker, rec.emotion, rec.gender) == ("emodb", "emodb:03", "happy", "male")
    assert rec.extra == (("channel", "speech"), ("text", "a01"), ("version", "a"))
    assert rec["text"] == "a01" and rec.version == "a"
    assert emodb.parse("x/16b10Tc.wav").gender == "female"
    assert emodb.parse("x/08a02Lb.wav").emotion == "boredom"


def test_emodb_unknown_speaker_is_accepted_with_unknown_gender():
    rec = emodb.parse("x/42a01Na.wav")
    assert (rec.speaker, rec.gender) == ("emodb:42", "")


@pytest.mark.parametrize("letter, emotion", [
    ("W", "angry"), ("L", "boredom"), ("E", "disgust"), ("A", "fearful"), ("F", "happy"), ("T", "sad"),
    ("N", "neutral"),
])
def test_emodb_every_emotion_letter_is_a_canonical_emotion(letter, emotion):
    assert emodb.parse(f"x/03a01{letter}a.wav").emotion == emotion
    assert emotion in corpora.EMOTIONS


@pytest.mark.parametrize("name, field", [
    ("03a01F.wav", "not an EmoDB name"),
    ("3Xa01Fa.wav", "'speaker'"),
    ("03A01Fa.wav", "'text'"),
    ("03aa1Fa.wav", "'text'"),
    ("03a01Xa.wav", "'emotion'"),
    ("03a01fa.wav", "'emotion'"),
    ("03a01FA.wav", "'version'"),
])
def test_emodb_bad_names_name_the_file_and_the_field(name, field):
    bad_name(emodb, f"x/wav/{name}", field)
