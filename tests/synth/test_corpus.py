"""The synthetic corpus (ser_jax.synth.corpus): RAVDESS naming read back, determinism, audio format,
and that emotion is really carried by the signal.
"""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser_jax import corpora, synth
from ser_jax.corpora import ravdess

from .helpers import SR


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, list[Path]]:
    """Two actors (one male, one female), both channels, every emotion."""
    root = tmp_path_factory.mktemp("synth")
    return root, synth.synthesize(root, actors=2, seed=0, sample_rate=SR)


def _read(path: Path) -> np.ndarray:
    y, _ = sf.read(path, dtype="float64", always_2d=True)
    return y.mean(axis=1)


def _frame_rms_db(y: np.ndarray, frame: int = 256) -> np.ndarray:
    frames = y[: len(y) // frame * frame].reshape(-1, frame)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-20)


def test_discover_reads_the_corpus_back_with_ravdess_counts(tiny):
    root, paths = tiny
    found = corpora.read(root)
    assert found.reader == "ravdess" and not found.skipped
    assert sorted(u.path for u in found.records) == sorted(str(p) for p in paths)
    utts = found.records
    assert collections.Counter(u.channel for u in utts) == {"speech": 120, "song": 88}
    assert collections.Counter(u.actor for u in utts) == {1: 104, 2: 104}
    assert {u.gender for u in utts if u.actor == 1} == {"male"}
    speech = collections.Counter(u.emotion for u in utts if u.channel == "speech")
    assert speech == {e: (8 if e == "neutral" else 16) for e in ravdess.EMOTIONS.values()}
    song = collections.Counter(u.emotion for u in utts if u.channel == "song")
    assert "disgust" not in song and "surprised" not in song
    song_emotions = ("neutral", "calm", "happy", "sad", "angry", "fearful")
    assert song == {e: (8 if e == "neutral" else 16) for e in song_emotions}
    for u in utts:  # the folder and the actor field agree, as in RAVDESS
        assert Path(u.path).parent.name == f"Actor_{u.actor:02d}"
        assert Path(u.path).parent.parent.name == synth.CHANNEL_FOLDERS[u.channel]


def test_files_are_16_bit_wav_at_the_requested_rate_some_stereo(tiny):
    _, paths = tiny
    infos = [sf.info(p) for p in paths]
    assert {(i.samplerate, i.format, i.subtype) for i in infos} == {(SR, "WAV", "PCM_16")}
    stereo = [p for p, i in zip(paths, infos) if i.channels == 2]
    assert 1 <= len(stereo) <= len(paths) // 8, "a few files, not none and not most, are stereo"
    y, _ = sf.read(stereo[0])
    assert np.corrcoef(y[:, 0], y[:, 1])[0, 1] > 0.5, "both channels carry the same voice"


def test_durations_and_leading_silence_are_like_the_real_corpus(tiny):
    _, paths = tiny
    for p in paths:
        y = _read(p)
        assert synth.MIN_SECONDS <= len(y) / SR <= synth.MAX_SECONDS, p
        db = _frame_rms_db(y)
        lead = db[: int(0.28 * SR) // 256]  # every file starts with >= 0.3 s of near-silence
        assert lead.max() < db.max() - 30, p
        onset = np.argmax(db > db.max() - 30) * 256 / SR
        assert 0.3 - 256 / SR <= onset <= 1.0 + 0.1, (p, onset)  # 0.3-1.0 s, give or take a frame
        assert db[-2:].max() < db.max() - 30, f"{p}: no trailing silence"


def test_same_seed_same_bytes_whatever_else_is_generated(tiny, tmp_path):
    root, _ = tiny
    # Only angry, one actor: each file must equal its twin in the full corpus.
    again = synth.synthesize(tmp_path / "a", actors=1, seed=0, sample_rate=SR, emotions=["angry"])
    assert len(again) == 8 + 8
    for p in again:
        twin = root / p.relative_to(tmp_path / "a")
        assert p.read_bytes() == twin.read_bytes(), p.name


def test_another_seed_gives_other_recordings(tiny, tmp_path):
    root, _ = tiny
    # One actor's sad speech with seed 1 against the same names made with seed 0.
    other = synth.synthesize(tmp_path, actors=1, seed=1, sample_rate=SR, emotions=[4], channels=["speech"])
    assert other
    for p in other:
        assert p.read_bytes() != (root / p.relative_to(tmp_path)).read_bytes(), p.name


def test_workers_do_not_change_the_bytes(tiny, tmp_path):
    root, _ = tiny
    paths = synth.synthesize(tmp_path, actors=1, first_actor=2, sample_rate=SR, emotions=[3], workers=2)
    assert len(paths) == 16
    for p in paths:
        assert p.read_bytes() == (root / p.relative_to(tmp_path)).read_bytes(), p.name


def test_subsets_name_exactly_the_requested_files(tmp_path):
    paths = synth.synthesize(
        tmp_path, actors=1, first_actor=7, sample_rate=SR, emotions=["angry", 4], statements=(2,),
        repetitions=(1,), channels=("song",),
    )
    assert sorted(p.name for p in paths) == [
        "03-02-04-01-02-01-07.wav", "03-02-04-02-02-01-07.wav",
        "03-02-05-01-02-01-07.wav", "03-02-05-02-02-01-07.wav",
    ]


def test_emotion_is_carried_by_loudness_and_pitch(tiny):
    """Angry is louder than sad, and fearful higher-pitched than calm, for each actor."""
    import librosa

    found = corpora.read(tiny[0]).records

    def files(actor: int, emotion: str) -> list[Path]:
        return [
            Path(u.path) for u in found if (u.actor, u.channel, u.emotion) == (actor, "speech", emotion)
        ]

    def level_db(p: Path) -> float:
        return float(np.max(_frame_rms_db(_read(p))))

    def median_f0(p: Path) -> float:
        y = _read(p)
        f0 = librosa.yin(y, fmin=60, fmax=600, sr=SR, frame_length=512)
        voiced = _frame_rms_db(y, 128)[: len(f0)] > level_db(p) - 15
        return float(np.median(f0[: len(voiced)][voiced]))

    for actor in (1, 2):
        angry = np.mean([level_db(p) for p in files(actor, "angry")])
        sad = np.mean([level_db(p) for p in files(actor, "sad")])
        assert angry > sad + 5, (actor, angry, sad)
        fear = np.median([median_f0(p) for p in files(actor, "fearful")])
        calm = np.median([median_f0(p) for p in files(actor, "calm")])
        assert 12 * np.log2(fear / calm) > 2, (actor, fear, calm)
    # Actor 1 is male: lower voice than actor 2 for the same emotion.
    assert median_f0(files(1, "neutral")[0]) < median_f0(files(2, "neutral")[0])


def test_writes_into_a_folder_that_holds_other_things(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    paths = synth.synthesize(tmp_path, actors=1, sample_rate=SR, emotions=["neutral"], channels=["speech"])
    assert len(paths) == 4 and (tmp_path / "notes.txt").read_text() == "keep me"
    assert len(corpora.read(tmp_path)) == 4


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(actors=0), "actors"),
        (dict(sample_rate=4000), "sample_rate"),
        (dict(actors=2, first_actor=99), "first_actor"),
        (dict(emotions=["bored"]), "emotions"),
        (dict(channels=["video"]), "channels"),
        (dict(seed=-1), "seed"),
        (dict(workers=0), "workers"),
    ],
)
def test_bad_arguments_name_the_argument(tmp_path, kwargs, name):
    with pytest.raises(synth.BadArgument, match=rf"^{name}="):
        synth.synthesize(tmp_path, **kwargs)
    assert not list(tmp_path.iterdir()), "nothing is written before the arguments are checked"


def test_out_must_not_be_a_file(tmp_path):
    target = tmp_path / "file.wav"
    target.write_bytes(b"")
    with pytest.raises(synth.BadArgument, match="^out="):
        synth.synthesize(target, actors=1)
