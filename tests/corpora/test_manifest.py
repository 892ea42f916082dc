"""The manifest reader (ser_jax.corpora.manifest): a CSV/TSV table of files, its bad rows skipped with their
line, its errors.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ser_jax import corpora
from ser_jax.corpora import manifest
from ser_jax.testing import corpora as synthetic


@pytest.fixture()
def audio(tmp_path):
    """Four synthetic files under tmp_path/audio/ with names no folder reader knows."""
    folder = tmp_path / "audio"
    for i, name in enumerate(("one.wav", "two.wav", "three.wav", "four.flac")):
        synthetic.write_wav(folder / name, ("angry", "happy", "sad", "neutral")[i], speaker=i % 2, take=i)
    return folder


def test_manifest_rows_become_records(tmp_path, audio):
    rows = [
        {"path": "audio/one.wav", "emotion": "anger", "speaker": "spk1", "gender": "M", "session": "s1",
         "notes": "loud"},
        {"path": str(audio / "two.wav"), "emotion": "Happiness", "speaker": "spk2", "gender": "female",
         "session": "s2", "notes": ""},
        {"path": "./audio/../audio/three.wav", "emotion": "sad", "speaker": " spk1 ", "gender": "",
         "session": "s1", "notes": "x"},
        {"path": "audio/four.flac", "emotion": "neutral", "speaker": "spk3", "gender": "Nonbinary",
         "session": "s3", "notes": ""},
    ]
    path = synthetic.write_manifest(tmp_path / "My Corpus-1.csv", rows)
    corpus = corpora.read(path)
    assert corpus.note == "reader manifest (auto: My Corpus-1.csv is a .csv file)"
    assert (corpus.reader, corpus.name) == ("manifest", "my_corpus_1")
    assert (corpus.root, corpus.source) == (str(tmp_path), str(path))
    assert corpus.columns == (("channel", "str"), ("session", "str"), ("notes", "str"))
    assert corpus.skipped == ()
    got = [(os.path.relpath(r.path, corpus.root), r.corpus, r.speaker, r.emotion, r.gender, r.extra)
           for r in corpus.records]
    assert got == [
        ("audio/one.wav", "my_corpus_1", "my_corpus_1:spk1", "angry", "male",
         (("channel", "speech"), ("session", "s1"), ("notes", "loud"))),
        ("audio/two.wav", "my_corpus_1", "my_corpus_1:spk2", "happy", "female",
         (("channel", "speech"), ("session", "s2"), ("notes", ""))),
        ("audio/three.wav", "my_corpus_1", "my_corpus_1:spk1", "sad", "",
         (("channel", "speech"), ("session", "s1"), ("notes", "x"))),
        ("audio/four.flac", "my_corpus_1", "my_corpus_1:spk3", "neutral", "nonbinary",
         (("channel", "speech"), ("session", "s3"), ("notes", ""))),
    ]


def test_manifest_tsv_with_channel_column(tmp_path, audio):
    rows = [{"Path": "audio/one.wav", "Emotion": "fear", "Speaker": "a, b", "Channel": "Song"},
            {"Path": "audio/two.wav", "Emotion": "surprise", "Speaker": "c", "Channel": ""}]
    path = synthetic.write_manifest(tmp_path / "sung.tsv", rows)
    assert "\t" in path.read_text() and "," in path.read_text()  # a comma in a TSV is just a character
    corpus = manifest.read(path)
    assert [(r.speaker, r.emotion, r.channel) for r in corpus.records] == [
        ("sung:a, b", "fearful", "song"), ("sung:c", "surprised", "speech")]
    assert corpus.columns == (("channel", "str"),)


def test_manifest_bad_rows_are_skipped_with_their_line_and_the_rest_kept(tmp_path, audio):
    text = (
        "path,emotion,speaker,channel\n"  # line 1
        "audio/one.wav,angry,s1,\n"  # 2: good
        "audio/missing.wav,angry,s1,\n"  # 3
        "audio/two.wav,grumpy,s1,\n"  # 4
        "audio/two.wav,happy,,\n"  # 5
        "audio/../audio/one.wav,sad,s2,\n"  # 6: the file of line 2 again
        "audio/notes.txt,sad,s2,\n"  # 7
        "\n"  # 8: blank lines are ignored
        "audio/three.wav,sad,s2,humming\n"  # 9
        "audio/three.wav,sad\n"  # 10
        "audio/four.flac,neutral,s2,speech\n"  # 11: good
    )
    path = tmp_path / "rows.csv"
    path.write_text(text)
    corpus = manifest.read(path)
    assert [Path(r.path).name for r in corpus.records] == ["one.wav", "four.flac"]
    reasons = [s.reason for s in corpus.skipped]
    assert reasons[0] == "line 3: no such file audio/missing.wav"
    assert reasons[1].startswith("line 4: unknown emotion 'grumpy'; expected one of neutral, calm")
    assert reasons[2] == "line 5: empty speaker"
    assert reasons[3] == "line 6: duplicate of line 2"
    assert reasons[4] == "line 7: not audio (extension '.txt')"
    assert reasons[5] == "line 9: channel 'humming' must be speech or song (or empty: speech)"
    assert reasons[6] == "line 10: 2 fields, the header has 4"
    assert len(reasons) == 7
    assert corpus.skipped[0].path == str(tmp_path / "audio" / "missing.wav")
    assert "skipped: 7" in corpus.summary()


def test_manifest_missing_required_columns_is_one_line_naming_them(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("file,label\nx.wav,angry\n")
    with pytest.raises(ValueError) as e:
        manifest.read(path)
    msg = str(e.value)
    assert msg.startswith(f"{path}: manifest lacks columns path, emotion, speaker;")
    assert "required columns: path, emotion, speaker" in msg and "\n" not in msg


def test_manifest_tab_separated_csv_gets_a_hint(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("path\temotion\tspeaker\nx.wav\tangry\ts\n")
    with pytest.raises(ValueError, match="header is tab-separated, but a .csv file is read comma-separated"):
        manifest.read(path)


def test_manifest_with_no_usable_row_is_an_error_with_the_first_reason(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("path,emotion,speaker\nnope.wav,angry,s1\nnope2.wav,sad,s1\n")
    with pytest.raises(ValueError) as e:
        manifest.read(path)
    assert str(e.value) == f"{path}: no usable row (2 bad rows); first: line 2: no such file nope.wav"
    path.write_text("path,emotion,speaker\n")
    with pytest.raises(ValueError, match="no rows below the header"):
        manifest.read(path)


def test_manifest_that_does_not_exist_or_reserves_a_column(tmp_path, audio):
    with pytest.raises(FileNotFoundError, match=r"manifest .*nothere\.csv does not exist; expected a CSV"):
        corpora.read(tmp_path / "nothere.csv", "manifest")
    path = synthetic.write_manifest(tmp_path / "m.csv", [{"path": "audio/one.wav", "emotion": "angry",
                                                          "speaker": "s", "corpus": "other"}])
    with pytest.raises(ValueError, match="column 'corpus' is reserved"):
        manifest.read(path)
