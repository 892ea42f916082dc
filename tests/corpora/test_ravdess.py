"""The RAVDESS reader (ser_jax.corpora.ravdess): its naming scheme and its discovery of a corpus folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from ser_jax import corpora
from ser_jax.corpora import ravdess

from .helpers import _write


def test_parse_name_reads_every_field():
    u = ravdess.parse("/data/Actor_07/03-01-05-02-01-02-07.wav")
    assert u.path == "/data/Actor_07/03-01-05-02-01-02-07.wav"
    assert u.modality == 3
    assert u.channel == "speech"
    assert (u.emotion_code, u.emotion) == (5, "angry")
    assert u.intensity == 2
    assert u.statement == 1
    assert u.repetition == 2
    assert u.actor == 7
    assert u.gender == "male"
    assert u.stem == "03-01-05-02-01-02-07"


@pytest.mark.parametrize(
    "code,name",
    [(1, "neutral"), (2, "calm"), (3, "happy"), (4, "sad"), (5, "angry"), (6, "fearful"), (7, "disgust"),
     (8, "surprised")],
)
def test_parse_name_maps_each_emotion_code(code, name):
    intensity = 1 if code == 1 else 2
    u = ravdess.parse(f"03-01-{code:02d}-{intensity:02d}-02-01-12.flac")
    assert u.emotion == name and u.emotion_code == code
    assert u.statement == 2 and u.repetition == 1
    assert u.gender == "female"  # even actor


def test_song_channel_and_format_name_round_trip():
    name = ravdess.format_name(channel="song", emotion_code=3, intensity=1, statement=2, repetition=1, actor=18,
                              ext=".flac")
    assert name == "03-02-03-01-02-01-18.flac"
    u = ravdess.parse(name)
    assert (u.channel, u.emotion, u.actor, u.gender) == ("song", "happy", 18, "female")


@pytest.mark.parametrize(
    "name,field",
    [
        ("03-01-05-02-01-02.wav", "7 dash-separated fields"),
        ("03-01-05-02-01-02-07-01.wav", "7 dash-separated fields"),
        ("03-01-5-02-01-02-07.wav", "'emotion' must be two digits"),
        ("03-01-xx-02-01-02-07.wav", "'emotion' must be two digits"),
        ("04-01-05-02-01-02-07.wav", "'modality'"),
        ("03-03-05-02-01-02-07.wav", "'vocal channel'"),
        ("03-01-09-02-01-02-07.wav", "'emotion'"),
        ("03-01-00-02-01-02-07.wav", "'emotion'"),
        ("03-01-05-03-01-02-07.wav", "'intensity'"),
        ("03-01-05-02-03-02-07.wav", "'statement'"),
        ("03-01-05-02-01-03-07.wav", "'repetition'"),
        ("03-01-05-02-01-02-00.wav", "'actor'"),
        ("03-02-07-01-01-01-07.wav", "song recordings do not have"),  # song + disgust
        ("03-02-08-01-01-01-07.wav", "song recordings do not have"),  # song + surprised
        ("03-01-01-02-01-01-07.wav", "neutral does not have"),  # strong neutral
    ],
)
def test_bad_names_raise_value_error_naming_file_and_field(name, field):
    with pytest.raises(ValueError) as e:
        ravdess.parse(f"/x/{name}")
    assert f"/x/{name}" in str(e.value)
    assert field in str(e.value)


def test_discover_standard_layout_with_junk_flac_and_stereo(tmp_path):
    speech = tmp_path / "Audio_Speech_Actors_01-24"
    song = tmp_path / "Audio_Song_Actors_01-24"
    _write(speech / "Actor_02" / "03-01-04-01-01-01-02.wav")
    _write(speech / "Actor_01" / "03-01-05-02-02-01-01.flac", fmt="FLAC")
    _write(speech / "Actor_01" / "03-01-03-01-01-01-01.wav", channels=2)
    _write(song / "Actor_01" / "03-02-06-01-01-01-01.wav")
    (speech / "Actor_01" / "03-01-03-01-01-01-01.txt").write_text("feature dump")
    (speech / "Actor_01" / "03-01-03-01-01-01-01.articulation.txt").write_text("x")
    _write(speech / "Actor_01" / "recording.wav")
    _write(song / "Actor_01" / "03-02-07-01-01-01-01.wav")  # song has no disgust
    (tmp_path / "notes.txt").write_text("outside the standard folders: not even looked at")

    c = corpora.read(tmp_path)
    assert c.reader == "ravdess" and c.name == "ravdess"
    assert [Path(u.path).name for u in c.records] == [
        "03-01-03-01-01-01-01.wav",
        "03-01-05-02-02-01-01.flac",
        "03-01-04-01-01-01-02.wav",
        "03-02-06-01-01-01-01.wav",
    ]
    reasons = {Path(s.path).name: s.reason for s in c.skipped}
    assert set(reasons) == {
        "03-01-03-01-01-01-01.txt", "03-01-03-01-01-01-01.articulation.txt", "recording.wav",
        "03-02-07-01-01-01-01.wav",
    }
    assert reasons["03-01-03-01-01-01-01.txt"].startswith("not audio")
    assert "7 dash-separated fields" in reasons["recording.wav"]
    summary = c.summary()
    assert "4 files = 3 speech + 1 song" in summary
    assert "skipped: 4" in summary
    assert "recording.wav" in summary


def test_discover_any_tree_and_deterministic_order(tmp_path):
    names = ["03-01-02-01-01-01-03.wav", "03-02-01-01-02-02-04.flac", "03-01-08-02-02-02-03.wav"]
    for i, n in enumerate(reversed(names)):
        _write(tmp_path / f"batch{i}" / "nested" / n, fmt="FLAC" if n.endswith("flac") else "WAV")
    first = corpora.read(tmp_path)
    second = corpora.read(str(tmp_path))
    assert first == second
    assert [u.path for u in first.records] == sorted(u.path for u in first.records)
    assert {Path(u.path).name for u in first.records} == set(names)


def test_duplicate_recordings_are_skipped_not_counted_twice(tmp_path):
    _write(tmp_path / "a" / "03-01-02-01-01-01-03.wav")
    _write(tmp_path / "b" / "03-01-02-01-01-01-03.flac", fmt="FLAC")
    c = corpora.read(tmp_path)
    assert len(c) == 1
    assert "duplicate recording" in c.skipped[0].reason


def test_missing_root_and_empty_root_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*MM-VV-EE-II-SS-RR-AA"):
        corpora.read(tmp_path / "nowhere", "ravdess")
    (tmp_path / "readme.txt").write_text("no audio here")
    with pytest.raises(ValueError, match=r"no usable audio file .*\(1 skipped\).*MM-VV-EE-II-SS-RR-AA"):
        corpora.read(tmp_path, "ravdess")
