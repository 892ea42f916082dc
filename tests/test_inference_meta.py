"""A checkpoint's inference metadata is a typed, versioned record: old ones load, newer ones are refused."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from ser_jax import features
from ser_jax.inference_meta import VERSION, InferenceMeta, MetaError
from ser_jax.models import crnn

CFG = features.FeatureConfig()
META = InferenceMeta(label_names=("angry", "calm", "sad"), feature_config=CFG, groups=("mfcc", "rms"),
                     model_name="crnn", model_config=crnn.Config(num_classes=3, lstm_units=8), num_frames=130,
                     protocol="holdout", leaky=False, normalization="global", corpora=("ravdess",), epoch=4,
                     val_accuracy=0.5)


def test_round_trip_through_json_as_stored_in_a_checkpoint():
    stored = json.loads(json.dumps(META.to_dict()))
    assert stored["version"] == VERSION
    assert InferenceMeta.from_dict(stored) == META


def test_a_version_1_record_from_before_the_model_zoo_still_loads():
    old = {"label_names": ["a", "b"], "feature_config": CFG.to_dict(), "groups": [],
           "model_config": dataclasses.asdict(crnn.Config(num_classes=2)), "num_frames": 130,
           "protocol": "holdout", "leaky": False}  # no version, no model_name, no normalization
    meta = InferenceMeta.from_dict(old)
    assert (meta.model_name, meta.normalization, meta.version) == ("crnn", "global", VERSION)


def test_a_newer_version_is_refused_in_one_line_naming_the_checkpoint():
    with pytest.raises(MetaError, match=r"^runs/x: written by a newer ser_jax \(metadata version 99"):
        InferenceMeta.from_dict({**META.to_dict(), "version": 99}, "runs/x")


@pytest.mark.parametrize("change,message", [
    ({"label_names": ["a"]}, "3 outputs but the label map has 1 names"),
    ({"groups": ["egemaps"]}, "feature group(s) ['egemaps']"),
    ({"normalization": "median"}, "unknown normalization"),
])
def test_inconsistent_records_are_refused(change, message):
    with pytest.raises(MetaError, match=re.escape(message)):
        InferenceMeta.from_dict({**META.to_dict(), **change}, "ckpt")


def test_missing_fields_say_what_is_missing():
    d = META.to_dict()
    del d["num_frames"]
    with pytest.raises(MetaError, match="lacks num_frames"):
        InferenceMeta.from_dict(d)

