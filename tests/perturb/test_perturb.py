"""Perturbed training copies (ser_jax/perturb/__init__.py): feature sets of their own, used for
training rows only; each kind a module of ser_jax/perturb, found by name. Each kind's own audio
work: test_speed.py, test_vtlp.py, test_noise.py.
"""

from __future__ import annotations

import dataclasses
import json
import types

import numpy as np
import pytest

from ser_jax import config as config_lib
from ser_jax import corpora, features, featureset, perturb, splits
from ser_jax.cache import format as cache_format
from ser_jax.perturb import noise
from ser_jax.testing.tiny import TINY_FEATURES
from ser_jax.train import loop as train_lib

from .helpers import CFG, _sine


def test_unperturbed_configs_keep_their_cache_keys():
    # The new fields are left out of to_dict at their defaults, so every existing cache stays valid.
    assert not {"speed", "noise_snr", "vtlp"} & set(CFG.to_dict())
    fast = dataclasses.replace(CFG, speed=1.1, noise_snr=(10, 20), vtlp=0.9)
    assert fast.key() != CFG.key() and fast.perturbed and not CFG.perturbed
    assert features.FeatureConfig.from_dict(json.loads(json.dumps(fast.to_dict()))) == fast


@pytest.mark.parametrize("kw", [{"speed": 0.3}, {"speed": True}, {"noise_snr": (20, 10)}, {"noise_snr": "x"},
                                {"noise_snr": (5, float("nan"))}, {"vtlp": 1.5}, {"vtlp": "1.1"}])
def test_bad_perturbations_name_the_field(kw):
    with pytest.raises(ValueError, match=list(kw)[0]):
        dataclasses.replace(CFG, **kw)


def _fake_set(n=6, tag_value=0.0):
    meta = {"corpus": np.asarray(["c"] * n, dtype=object), "speaker": np.asarray([f"c:{i % 3}" for i in range(n)],
                                                                                  dtype=object),
            "emotion": np.asarray(["happy", "sad"] * (n // 2), dtype=object)}
    x = np.full((n, 4, 2), tag_value, np.float32) + np.arange(n, dtype=np.float32)[:, None, None]
    return featureset.FeatureSet(x, np.full(n, 4, np.int32), meta, tuple(f"f{i}.wav" for i in range(n)),
                            (("mfcc", 0, 2),), CFG, "/c", ())


def test_copies_are_matched_by_file_and_train_only_on_training_clips():
    base = _fake_set()
    copy = _fake_set(tag_value=100.0)
    # The copy set lacks f1 (failed) and lists its rows in another order.
    order = [5, 4, 3, 2, 0]
    copy = dataclasses.replace(copy, features=copy.features[order], lengths=copy.lengths[order],
                               meta={k: v[order] for k, v in copy.meta.items()},
                               paths=tuple(copy.paths[i] for i in order))
    combined, origin = perturb.attach(base, [("speed1.1", copy)])
    assert len(combined) == 11
    np.testing.assert_array_equal(origin, [0, 1, 2, 3, 4, 5, 0, 2, 3, 4, 5])
    np.testing.assert_array_equal(combined.features[6:, 0, 0], 100.0 + np.asarray([0, 2, 3, 4, 5]))
    assert list(combined.meta["emotion"][6:]) == list(base.meta["emotion"][[0, 2, 3, 4, 5]])
    # A copy is a speaker of its own: per-speaker statistics never mix a voice with its copy.
    assert not set(combined.meta["speaker"][6:]) & set(base.meta["speaker"])
    split = splits.Split("x", train=np.asarray([0, 1, 2]), val=np.asarray([3]), test=np.asarray([4, 5]),
                         leaky=False, fold=None, description="d")
    ext = perturb.extend_train(split, origin, len(base))
    np.testing.assert_array_equal(ext.train, [0, 1, 2, 6, 7])  # f1 has no copy
    np.testing.assert_array_equal(ext.val, split.val)
    np.testing.assert_array_equal(ext.test, split.test)


def test_bad_copies_are_refused_with_one_line_naming_the_item():
    for bad, message in (("speed:1", r"speed:1: give a factor in \[0.5, 2\] other than 1"),
                         ("speed:0.9,speed:0.9", "speed:0.9 is asked for twice"), ("speed:3", "speed:3: give"),
                         ("vtlp:1.3", r"vtlp:1.3: give a factor in \[0.8, 1.2\]"), ("speed", "gives no value"),
                         ("noise:30:10", "noise:30:10: the SNR must be"), ("echo:2", "unknown kind of copy 'echo'")):
        with pytest.raises(ValueError, match=f"^--copies={bad}: .*{message}"):
            perturb.parse_copies(bad)
    assert perturb.parse_copies(" speed:1.10 , noise:20 ") == ("speed:1.1", "noise:20:20")  # one spelling


def test_a_run_asks_for_one_cached_copy_per_item_of_copies():
    cfg = config_lib.ExperimentConfig(data_dir="x", features=CFG,
                                      copies=("speed:0.9", "noise:10:30", "vtlp:0.9", "vtlp:1.1"))
    copies = perturb.requested(cfg)
    assert [tag for tag, _ in copies] == ["speed0.9", "noise10-30dB", "vtlp0.9", "vtlp1.1"]
    assert [(f.speed, f.noise_snr, f.vtlp) for _, f in copies] == [
        (0.9, None, 1.0), (1.0, (10.0, 30.0), 1.0), (1.0, None, 0.9), (1.0, None, 1.1)]
    assert len({f.key() for _, f in copies} | {CFG.key()}) == 5  # each a cache of its own
    assert perturb.requested(dataclasses.replace(cfg, **perturb.OFF)) == []


def test_the_kinds_are_the_modules_of_the_package_in_the_order_they_apply():
    assert list(perturb.PERTURBATIONS) == ["speed", "vtlp", "noise"]  # speed while resampling, noise last
    for name, p in perturb.PERTURBATIONS.items():
        assert p.__name__ == f"ser_jax.perturb.{name}" and hasattr(features.FeatureConfig(), p.FIELD)
        assert all(hasattr(p, a) for a in ("UNCHANGED", "ORDER", "EXAMPLE", "HELP", "parse", "check", "spell", "tag"))
    assert name in perturb.kinds_help()


def test_a_new_kind_of_copy_is_one_module(monkeypatch, tmp_path):
    """A kind registered by a test (here in place of noise, on its FeatureConfig field): parsed from
    --copies, checked by FeatureConfig, applied by load_clip, a cache key of its own."""
    louder = types.ModuleType("louder")
    louder.FIELD, louder.UNCHANGED, louder.ORDER, louder.EXAMPLE, louder.HELP = "noise_snr", None, 2, "loud:5", "test"
    louder.check, louder.parse = noise.check, lambda text: (float(text), float(text))
    louder.spell, louder.tag = lambda v: f"{v[0]:g}", lambda v: f"loud{v[0]:g}"
    louder.apply = lambda clip, own, value, sample_rate, seed_text: 2 * clip
    monkeypatch.delitem(perturb.PERTURBATIONS, "noise")
    monkeypatch.setitem(perturb.PERTURBATIONS, "loud", louder)
    cfg = config_lib.ExperimentConfig(data_dir="x", features=CFG, copies="loud:5")
    assert cfg.copies == ("loud:5",) and "loud (loud:5: test)" in perturb.kinds_help()
    [(tag, feats)] = perturb.requested(cfg)
    assert tag == "loud5" and feats.noise_snr == (5.0, 5.0) and feats.key() != CFG.key() and feats.perturbed
    path = _sine(tmp_path, seconds=0.8)
    np.testing.assert_array_equal(features.load_clip(path, feats), 2 * features.load_clip(path, CFG))


@pytest.mark.slow
def test_a_run_trains_on_copies_of_its_training_clips_only(tiny_corpus, tiny_cache_dir, tmp_path):
    cfg = config_lib.ExperimentConfig(
        data_dir=str(tiny_corpus), cache_dir=str(tiny_cache_dir), features=TINY_FEATURES,
        split=splits.SplitConfig(protocol="holdout"), model_config={"conv_filters": (8,), "conv_kernels": (3,),
                                                             "lstm_units": 8, "dense_units": (8,)},
        train=config_lib.TrainConfig(epochs=1, patience=0, batch_size=32, speaker_norm=True),
        copies=("speed:1.1", "noise:20:30"), workers=2)  # vtlp takes the same path (see above)
    base = train_lib.train_and_evaluate(dataclasses.replace(cfg, **perturb.OFF), tmp_path / "b",
                                        progress=False).metrics
    m = train_lib.train_and_evaluate(cfg, tmp_path / "p", progress=False).metrics
    assert m["n_train"] == 3 * base["n_train"] and m["n_val"] == base["n_val"] and m["n_test"] == base["n_test"]
    assert m["test_predictions"]["paths"] == base["test_predictions"]["paths"]  # the test clips, unperturbed
    assert len(list(tiny_cache_dir.glob("*.h5"))) >= 3  # each copy was cached as a set of its own
    corpus = corpora.read(tiny_corpus)
    assert cache_format.is_up_to_date(
        cache_format.cache_path(corpus.source, dataclasses.replace(TINY_FEATURES, speed=1.1), tiny_cache_dir), corpus,
        dataclasses.replace(TINY_FEATURES, speed=1.1))
