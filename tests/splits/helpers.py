"""Metadata builders and assertions shared by the split tests (tests/splits/).

``make_splits(cfg, meta)`` takes a dict of per-row columns: ``emotion`` and ``speaker`` always
(speakers namespaced by corpus, e.g. "ravdess:07"), and ``gender``, ``channel`` and ``corpus``
when the data has them. These build such columns: RAVDESS-shaped ones through the real RAVDESS name
parser, and small synthetic corpora of any speakers and emotions.
"""

from __future__ import annotations

import numpy as np

from ser_jax.corpora import ravdess
from ser_jax.splits import SplitConfig

COLUMNS = ("emotion", "speaker", "gender", "channel", "corpus")


def ravdess_metadata(actors=range(1, 25), song_missing_actors=(18,)) -> dict[str, np.ndarray]:
    """Metadata columns of a RAVDESS-shaped corpus, built through the real RAVDESS name parser.

    Per actor: 60 speech files (neutral has no strong intensity) and 44 song files (no disgust
    or surprised); actor 18 has no song. 24 actors give the full corpus's 1440 + 1012 = 2452.
    """
    recs = []
    for channel in ("speech", "song"):
        for actor in actors:
            if channel == "song" and actor in song_missing_actors:
                continue
            for code in sorted(ravdess.EMOTIONS):
                if channel == "song" and code not in ravdess.SONG_EMOTIONS:
                    continue
                for intensity in (1,) if code == 1 else (1, 2):
                    for statement in (1, 2):
                        for repetition in (1, 2):
                            name = ravdess.format_name(
                                channel=channel, emotion_code=code, intensity=intensity,
                                statement=statement, repetition=repetition, actor=actor,
                            )
                            recs.append(ravdess.parse(name))
    return {
        "emotion": np.array([r.emotion for r in recs]),
        "speaker": np.array([r.speaker for r in recs]),
        "gender": np.array([r.gender for r in recs]),
        "channel": np.array([r["channel"] for r in recs]),
        "corpus": np.array([r.corpus for r in recs]),
    }


EMODB_LIKE_SPEAKERS = {"03": "male", "08": "female", "09": "female", "10": "male", "11": "male",
                       "12": "male", "13": "female", "14": "female", "15": "male", "16": "female"}


EMODB_LIKE_EMOTIONS = ("neutral", "happy", "sad", "angry", "fearful", "disgust", "boredom")  # no calm, surprised


def corpus_metadata(corpus, speakers=EMODB_LIKE_SPEAKERS, emotions=EMODB_LIKE_EMOTIONS, files=3,
                    channel: str | None = "speech") -> dict[str, np.ndarray]:
    """A synthetic corpus: ``files`` rows per speaker x emotion; no channel column if channel is None."""
    rows = [(e, f"{corpus}:{s}", g) for s, g in speakers.items() for e in emotions for _ in range(files)]
    meta = {
        "emotion": np.array([r[0] for r in rows]),
        "speaker": np.array([r[1] for r in rows]),
        "gender": np.array([r[2] for r in rows]),
        "corpus": np.array([corpus] * len(rows)),
    }
    if channel is not None:
        meta["channel"] = np.array([channel] * len(rows))
    return meta


def concat(*metas) -> dict[str, np.ndarray]:
    return {c: np.concatenate([m[c] for m in metas]) for c in metas[0]}


def rav(*actors) -> tuple[str, ...]:
    """RAVDESS speaker ids: rav(1, 7) == ("ravdess:01", "ravdess:07")."""
    return tuple(f"ravdess:{a:02d}" for a in actors)


def ravdess_gender(ids) -> dict[str, str]:
    return {s: "male" if int(s.split(":")[-1]) % 2 else "female" for s in ids}


def all_protocol_configs() -> list[SplitConfig]:
    """One configuration of every protocol that works on ``two_corpora``."""
    return [
        SplitConfig(protocol="seed_leaky"),
        SplitConfig(protocol="holdout"),
        SplitConfig(protocol="speaker_kfold"),
        SplitConfig(protocol="speakers", train_speakers=("ravdess:01", "ravdess:02", "emodb:03"),
                    val_speaker_ids=("ravdess:03",), test_speakers=("ravdess:05", "emodb:08")),
        SplitConfig(protocol="loso"),
        SplitConfig(protocol="emobox"),
        SplitConfig(protocol="cross_corpus", test_corpus="emodb"),
    ]


def assert_disjoint(split):
    for p in (split.train, split.val, split.test):
        assert p.dtype == np.int64 and np.all(np.diff(p) > 0), "indices sorted and unique"
    assert len(np.intersect1d(split.train, split.val)) == 0
    assert len(np.intersect1d(split.train, split.test)) == 0
    if not split.leaky:
        assert len(np.intersect1d(split.val, split.test)) == 0


def speaker_sets(split, meta):
    """(train, val, test) speaker sets of a split."""
    return tuple(set(meta["speaker"][p].tolist()) for p in (split.train, split.val, split.test))


def assert_speaker_independent(split, meta):
    train, val, test = speaker_sets(split, meta)
    assert not (train & val) and not (train & test) and not (val & test), split.name
    assert train and val and test, f"{split.name}: every part has speakers"


def checked_speaker_sets(split, meta):
    """(train, val, test) speaker sets of a speaker-independent split, after checking it is one: not
    leaky, its parts disjoint, no speaker in two parts."""
    assert not split.leaky
    assert_disjoint(split)
    assert_speaker_independent(split, meta)
    return speaker_sets(split, meta)


def used_rows(splits) -> np.ndarray:
    return np.unique(np.concatenate([np.concatenate([s.train, s.val, s.test]) for s in splits]))
