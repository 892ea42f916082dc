"""Corpus readers: EmoDB, CREMA-D, TESS, SAVEE names and layouts, the manifest, auto-detection.

Every reader maps its own codes onto the shared vocabulary (``corpora.EMOTIONS``), namespaces its
speakers by corpus, and says which file and which field is wrong when a name does not parse.
The corpora on disk are synthetic (``ser_jax.testing.corpora``): real names, synthetic voices.
"""

from __future__ import annotations

import collections
import os
from pathlib import Path

import pytest

from ser_jax import corpora
from ser_jax.corpora import crema_d, emodb, manifest, ravdess, savee, tess
from ser_jax.testing import corpora as synthetic


def bad_name(module, path: str, field: str, root: str | None = None) -> str:
    """The ValueError message module.parse gives for path, checked to name the file and the field."""
    with pytest.raises(ValueError) as e:
        module.parse(path, root)
    msg = str(e.value)
    assert msg.startswith(f"{path}: "), msg
    assert field in msg, msg
    assert "\n" not in msg
    return msg


# --------------------------------------------------------------------------- EmoDB


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


# --------------------------------------------------------------------------- CREMA-D


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


# --------------------------------------------------------------------------- TESS


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


# --------------------------------------------------------------------------- SAVEE


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


# --------------------------------------------------------------------------- auto-detection


@pytest.fixture(scope="module")
def synthetic_root(tmp_path_factory):
    return tmp_path_factory.mktemp("synthetic")


def test_every_reader_with_an_example_gets_a_synthetic_corpus_in_each_of_its_layouts():
    assert set(synthetic.SCHEMES) >= {"ravdess", "emodb", "crema_d", "tess", "savee"}
    assert "manifest" not in synthetic.SCHEMES  # a table, not a naming scheme: its own tests below
    assert synthetic.variants("tess") == synthetic.variants("savee") == (False, True)
    assert synthetic.variants("emodb") == (False,)


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


def test_synthetic_files_are_16_bit_wavs_at_the_asked_rate_and_deterministic(tmp_path):
    import soundfile as sf

    a = synthetic.write("emodb", tmp_path / "a", speakers=1, per_emotion=1, sample_rate=8000, seed=3)
    b = synthetic.write("emodb", tmp_path / "b", speakers=1, per_emotion=1, sample_rate=8000, seed=3)
    info = sf.info(a[0])
    assert (info.samplerate, info.subtype, info.channels) == (8000, "PCM_16", 1)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]


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


# --------------------------------------------------------------------------- manifest


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
