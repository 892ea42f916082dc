"""The corpora package (ser_jax/corpora/__init__.py): reading a folder with the reader auto-detection
picks, for every reader's synthetic corpus in each of its layouts, and detection's errors.

Every reader maps its own codes onto the shared vocabulary (``corpora.EMOTIONS``), namespaces its
speakers by corpus, and says which file and which field is wrong when a name does not parse (one
file per reader beside this one). The corpora on disk are synthetic (``ser_jax.testing.corpora``):
real names, synthetic voices.
"""

from __future__ import annotations

import collections
import os
from pathlib import Path

import pytest

from ser_jax import corpora
from ser_jax.corpora import emodb, ravdess, savee
from ser_jax.testing import corpora as synthetic


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    return tmp_path_factory.mktemp("synthetic")


@pytest.mark.parametrize("scheme, folder_variant", [(s, v) for s in synthetic.SCHEMES for v in synthetic.variants(s)])
def test_auto_detection_reads_each_synthetic_corpus_with_its_reader(synthetic_root, scheme, folder_variant):
    root = synthetic_root / f"{scheme}_{folder_variant}"
    paths = synthetic.write(scheme, root, folder_variant=folder_variant)
    planned = synthetic.plan(scheme, folder_variant=folder_variant)
    assert [p.relative_to(root).as_posix() for p in paths] == [p.relpath for p in planned]

    corpus = corpora.read(root)  # name="auto"
    assert corpus.reader == corpus.name == scheme
    assert corpus.note == f"reader {scheme} (auto: {len(paths)} of {len(paths)} audio files fit its names)"
    assert len(corpus) == len(paths) == 2 * len(synthetic.emotions(scheme)) * 2
    got = sorted((os.path.relpath(r.path, root).replace(os.sep, "/"), r.speaker, r.emotion, r.gender)
                 for r in corpus.records)
    assert got == sorted((p.relpath, p.speaker, p.emotion, p.gender) for p in planned)
    by_emotion = collections.Counter(r.emotion for r in corpus.records)
    assert by_emotion == {e: 4 for e in synthetic.emotions(scheme)}
    assert corpus.columns == corpora.column_types(corpora.reader(scheme).COLUMNS)


def test_auto_detection_reads_ravdess_names(tmp_path):
    for e in (3, 5):
        name = ravdess.format_name(channel="speech", emotion_code=e, intensity=1, statement=1, repetition=1,
                                   actor=2)
        synthetic.write_wav(tmp_path / "Actor_02" / name, ravdess.EMOTIONS[e])
    corpus = corpora.read(tmp_path)
    assert corpus.reader == "ravdess" and len(corpus) == 2


def test_a_few_foreign_files_do_not_change_the_detected_reader(tmp_path):
    synthetic.write("emodb", tmp_path, speakers=1, per_emotion=1)
    synthetic.write_wav(tmp_path / "wav" / "DC_a01.wav", "angry")  # a stray SAVEE file
    corpus = corpora.read(tmp_path)
    assert corpus.reader == "emodb" and len(corpus) == 7
    assert [Path(s.path).name for s in corpus.skipped] == ["DC_a01.wav"]
    assert corpus.skipped[0].reason.startswith("not an EmoDB name")


def test_detect_unknown_layout_lists_the_readers(tmp_path):
    synthetic.write_wav(tmp_path / "hello.wav")
    synthetic.write_wav(tmp_path / "sub" / "world.wav")
    with pytest.raises(ValueError) as e:
        corpora.detect(tmp_path)
    msg = str(e.value)
    assert msg.startswith(f"{tmp_path}: no reader recognises the 2 audio file names")
    assert "--corpus=NAME" in msg and "manifest" in msg
    for name in corpora.READERS:
        assert corpora.reader(name).DESCRIPTION in msg


def test_detect_a_folder_mixing_two_corpora_equally_is_ambiguous(tmp_path):
    for emotion in ("angry", "happy", "sad"):
        synthetic.write_wav(tmp_path / emodb.format_name(speaker=3, text="a01", emotion=emotion), emotion)
        synthetic.write_wav(tmp_path / savee.format_name(speaker="DC", emotion=emotion, sentence=1), emotion)
    with pytest.raises(ValueError, match="ambiguous corpus") as e:
        corpora.read(tmp_path)
    assert "3 files fit emodb" in str(e.value) and "3 files fit savee" in str(e.value)
    assert len(corpora.read(tmp_path, "savee")) == 3  # naming the reader settles it


def test_detect_picks_the_manifest_reader_for_a_csv_or_tsv_file(tmp_path):
    for name in ("list.csv", "LIST.TSV"):
        (tmp_path / name).write_text("path,emotion,speaker\n")
        reader_name, why = corpora.detect(tmp_path / name)
        assert reader_name == "manifest" and name in why
