"""A checkpoint's inference metadata is a typed, versioned record: old ones load, newer ones are refused."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from ser_jax import features
from ser_jax.inference_meta import VERSION, InferenceMeta, MetaError
from ser_jax.models import crnn
from ser_jax.preprocess import Preprocessor

CFG = features.FeatureConfig()
META = InferenceMeta(label_names=("angry", "calm", "sad"), preprocessor=Preprocessor(CFG, ("mfcc", "rms"), "global",
                                                                                     num_frames=130),
                     model_name="crnn", model_config=crnn.Config(num_classes=3, lstm_units=8),
                     protocol="holdout", leaky=False, corpora=("ravdess",), epoch=4, val_accuracy=0.5)


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
    assert meta.preprocessor == Preprocessor(CFG, (), "global", num_frames=130)


def test_a_version_2_record_keeps_its_speaker_settings_in_the_preprocessor():
    old = {"version": 2, "label_names": ["a", "b"], "feature_config": CFG.to_dict(), "groups": ["mfcc"],
           "model_name": "crnn", "model_config": dataclasses.asdict(crnn.Config(num_classes=2)), "num_frames": 130,
           "protocol": "speaker_kfold", "leaky": False, "normalization": "speaker", "speaker_prior": 2.0,
           "speaker_min_clips": 10}
    assert InferenceMeta.from_dict(old).preprocessor == Preprocessor(CFG, ("mfcc",), "speaker", 2.0, 10, 130)


def test_a_newer_version_is_refused_in_one_line_naming_the_checkpoint():
    with pytest.raises(MetaError, match=r"^runs/x: written by a newer ser_jax \(metadata version 99"):
        InferenceMeta.from_dict({**META.to_dict(), "version": 99}, "runs/x")


@pytest.mark.parametrize("change,message", [
    ({"label_names": ["a"]}, "3 outputs but the label map has 1 names"),
    ({"groups": ["egemaps"]}, "feature group(s) ['egemaps']"),
    ({"normalization": "median"}, "unknown normalization"),
])
def test_inconsistent_records_are_refused(change, message):
    d = META.to_dict()
    if "label_names" not in change:
        d = {**d, "preprocessor": {**d["preprocessor"], **change}}
    with pytest.raises(MetaError, match=r"^ckpt: .*" + re.escape(message)):
        InferenceMeta.from_dict({**d, **({"label_names": change["label_names"]} if "label_names" in change else {})},
                                "ckpt")


@pytest.mark.parametrize("version,field", [(3, "preprocessor"), (2, "num_frames")])
def test_missing_fields_say_what_is_missing(version, field):
    d = META.to_dict() if version == 3 else {**META.to_dict(), "version": 2, "feature_config": CFG.to_dict(),
                                              "num_frames": 130}
    del d[field]
    with pytest.raises(MetaError, match=f"lacks {field}"):
        InferenceMeta.from_dict(d)

