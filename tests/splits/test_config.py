"""SplitConfig (ser_jax.splits.config): old protocol names are aliases, bad settings fail on construction
naming the field.
"""

from __future__ import annotations

import pytest

from ser_jax.splits import SplitConfig, make_splits


@pytest.mark.parametrize("old, new", [("actor_kfold", "speaker_kfold"), ("actors", "speakers")])
def test_old_protocol_names_are_aliases_normalised_on_construction(dev, old, new):
    kwargs = dict(train_speakers=("1", "2"), val_speaker_ids=("3",), test_speakers=("4",)) if old == "actors" else {}
    cfg = SplitConfig(protocol=old, **kwargs)
    assert cfg.protocol == new
    assert cfg == SplitConfig(protocol=new, **kwargs)
    splits = make_splits(cfg, dev)
    assert all(s.name.split("/")[0] == new for s in splits)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(protocol="random"), "protocol"),
        (dict(channels="both_ways"), "channels"),
        (dict(test_size=0.0), "test_size"),
        (dict(test_size=1.5), "test_size"),
        (dict(val_size=1.0), "val_size"),
        (dict(protocol="speaker_kfold", folds=1), "folds"),
        (dict(protocol="speaker_kfold", folds=5, fold=5), "fold"),
        (dict(protocol="actor_kfold", fold=-1), "fold"),
        (dict(protocol="holdout", fold=0), "fold"),
        (dict(protocol="emobox", fold=6), "fold"),
        (dict(protocol="cross_corpus", test_corpus="emodb", fold=0), "fold"),
        (dict(protocol="speaker_kfold", val_speakers=0), "val_speakers"),
        (dict(protocol="speakers", train_speakers=("1", "2"), val_speaker_ids=("3",), test_speakers=("2", "4")),
         "train_speakers"),
        (dict(protocol="speakers", train_speakers=("1", "2"), val_speaker_ids=(), test_speakers=("4",)),
         "val_speaker_ids"),
        (dict(protocol="speakers", train_speakers=("1", "1"), val_speaker_ids=("3",), test_speakers=("4",)),
         "train_speakers"),
        (dict(protocol="holdout", test_speakers=("4",)), "test_speakers"),
        (dict(protocol="cross_corpus"), "test_corpus"),
        (dict(protocol="holdout", test_corpus="emodb"), "test_corpus"),
    ],
)
def test_bad_config_fails_on_construction_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=rf"SplitConfig\.{field}\b"):
        SplitConfig(**kwargs)
