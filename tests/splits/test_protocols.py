"""``make_splits`` over every protocol (ser_jax.splits.protocols): corpora that only train, rows of
unselected channels and rows whose emotion is "" never used, determinism, indices into the full
columns, metadata checks and the JSON form of a split.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from ser_jax.splits import PROTOCOLS, SplitConfig, make_splits

from .helpers import all_protocol_configs, concat, corpus_metadata, used_rows


@pytest.mark.parametrize("protocol", ["speaker_kfold", "holdout", "loso"])
def test_train_corpora_only_ever_train(two_corpora, protocol):
    meta = two_corpora
    cfg = SplitConfig(protocol=protocol, channels="speech", train_corpora=("emodb",))
    plain = make_splits(SplitConfig(protocol=protocol, channels="speech"), concat(*[
        {k: v[meta["corpus"] == "ravdess"] for k, v in meta.items()}]))
    got = make_splits(cfg, meta)
    emodb = np.flatnonzero(meta["corpus"] == "emodb")
    assert len(got) == len(plain)  # the protocol splits RAVDESS exactly as it would alone
    for split, alone in zip(got, plain):
        assert set(emodb) <= set(split.train.tolist())
        assert not (set(emodb) & set(split.val.tolist()) or set(emodb) & set(split.test.tolist()))
        np.testing.assert_array_equal(split.test, alone.test)  # RAVDESS rows come first in the concat
        np.testing.assert_array_equal(split.val, alone.val)
        np.testing.assert_array_equal(np.setdiff1d(split.train, emodb), alone.train)
        assert split.description.endswith("; every clip of emodb in training too")


def test_train_corpora_misconfigurations_are_explained(dev, two_corpora):
    with pytest.raises(ValueError, match="train_corpora names tess, which the data does not hold"):
        make_splits(SplitConfig(protocol="holdout", train_corpora=("tess",)), two_corpora)
    with pytest.raises(ValueError, match="names every corpus"):
        make_splits(SplitConfig(protocol="holdout", train_corpora=("emodb", "ravdess")), two_corpora)
    with pytest.raises(ValueError, match="names the test corpus 'emodb'"):
        SplitConfig(protocol="cross_corpus", test_corpus="emodb", train_corpora=("emodb",))
    with pytest.raises(ValueError, match="needs a corpus column"):
        make_splits(SplitConfig(protocol="holdout", train_corpora=("ravdess",)), {k: v for k, v in dev.items()
                                                                                  if k != "corpus"})


@pytest.mark.parametrize("cfg", all_protocol_configs(), ids=lambda c: c.protocol)
def test_rows_without_an_emotion_are_never_used(two_corpora, cfg):
    meta = dict(two_corpora)
    meta["emotion"] = meta["emotion"].copy()
    unlabelled = np.arange(0, len(meta["emotion"]), 7)
    meta["emotion"][unlabelled] = ""
    splits = make_splits(cfg, meta)
    assert len(np.intersect1d(used_rows(splits), unlabelled)) == 0
    if cfg.protocol in ("seed_leaky", "holdout", "speaker_kfold", "loso"):  # these use every labelled row
        np.testing.assert_array_equal(used_rows(splits), np.flatnonzero(meta["emotion"] != ""))


@pytest.mark.parametrize(
    "cfg",
    [
        SplitConfig(protocol="seed_leaky"),
        SplitConfig(protocol="holdout"),
        SplitConfig(protocol="speaker_kfold", folds=4),
        SplitConfig(protocol="speakers", train_speakers=("1", "2", "3"), val_speaker_ids=("4",),
                    test_speakers=("5", "6")),
        SplitConfig(protocol="loso"),
        SplitConfig(protocol="emobox"),
    ],
    ids=lambda c: c.protocol,
)
@pytest.mark.parametrize("channel", ["speech", "song"])
def test_channel_filter_applies_to_every_protocol(dev, cfg, channel):
    if cfg.protocol == "emobox" and channel == "song":
        with pytest.raises(ValueError, match="EmoBox's RAVDESS speech folds"):
            make_splits(dataclasses.replace(cfg, channels=channel), dev)
        return
    splits = make_splits(dataclasses.replace(cfg, channels=channel), dev)
    used = used_rows(splits)
    assert set(dev["channel"][used].tolist()) == {channel}
    if cfg.protocol in ("seed_leaky", "holdout", "speaker_kfold", "loso"):  # these use every selected row
        assert len(used) == np.sum(dev["channel"] == channel)


def test_channel_filter_on_data_without_a_channel_column_is_refused():
    meta = corpus_metadata("emodb", channel=None)
    assert "channel" not in meta
    make_splits(SplitConfig(protocol="holdout"), meta)  # channels="both" needs no channel column
    with pytest.raises(ValueError, match=r"channels is 'speech' but the data has no channel column"):
        make_splits(SplitConfig(protocol="holdout", channels="speech"), meta)


def test_every_protocol_is_deterministic_and_random_state_matters_only_where_it_should(two_corpora):
    cfgs = all_protocol_configs()
    assert [c.protocol for c in cfgs] == list(PROTOCOLS)
    for cfg in cfgs:
        a, b = make_splits(cfg, two_corpora), make_splits(cfg, two_corpora)
        assert [s.name for s in a] == [s.name for s in b]
        for sa, sb in zip(a, b):
            for part in ("train", "val", "test"):
                np.testing.assert_array_equal(getattr(sa, part), getattr(sb, part))
    [t42] = make_splits(SplitConfig(protocol="holdout"), two_corpora)
    [t7] = make_splits(SplitConfig(protocol="holdout", split_seed=7), two_corpora)
    assert not np.array_equal(t42.test, t7.test)
    for cfg in cfgs[2:]:  # speaker protocols are not random
        seeded = make_splits(dataclasses.replace(cfg, split_seed=7), two_corpora)
        assert all(np.array_equal(x.test, y.test) and np.array_equal(x.val, y.val)
                   for x, y in zip(make_splits(cfg, two_corpora), seeded)), cfg.protocol


def test_indices_point_into_the_full_columns_whatever_the_order(dev):
    # Shuffled metadata: the split must follow the rows, not assume a layout.
    perm = np.random.default_rng(0).permutation(len(dev["emotion"]))
    shuffled = {k: v[perm] for k, v in dev.items()}
    for split in make_splits(SplitConfig(protocol="speaker_kfold", channels="speech"), shuffled):
        assert set(shuffled["channel"][split.test].tolist()) == {"speech"}
        assert len(set(shuffled["speaker"][split.test].tolist())) == 4


def test_metadata_may_be_plain_lists():
    meta = corpus_metadata("emodb")
    as_lists = {k: v.tolist() for k, v in meta.items()}
    a = make_splits(SplitConfig(protocol="speaker_kfold"), meta)
    b = make_splits(SplitConfig(protocol="speaker_kfold"), as_lists)
    assert all(np.array_equal(x.test, y.test) for x, y in zip(a, b))


def test_bad_metadata_is_refused_with_a_reason(dev):
    with pytest.raises(ValueError, match="differ in length"):
        make_splits(SplitConfig(), {**dev, "speaker": dev["speaker"][:-1]})
    with pytest.raises(ValueError, match="'Speech'"):
        make_splits(SplitConfig(), {**dev, "channel": np.where(dev["channel"] == "speech", "Speech", dev["channel"])})
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['speaker'\]"):
        make_splits(SplitConfig(), {k: v for k, v in dev.items() if k != "speaker"})
    only_speech = {k: v[dev["channel"] == "speech"] for k, v in dev.items()}
    with pytest.raises(ValueError, match="no song rows"):
        make_splits(SplitConfig(channels="song"), only_speech)


def test_split_to_dict_is_json_ready(dev):
    [split] = make_splits(SplitConfig(protocol="holdout"), dev)
    d = json.loads(json.dumps(split.to_dict(include_indices=True)))
    assert d["sizes"] == {"train": len(split.train), "val": len(split.val), "test": len(split.test)}
    assert d["indices"]["test"] == split.test.tolist() and d["leaky"] is False
    assert "skipped_folds" not in d  # only protocols that skip folds report them
