"""What a checkpoint must say so that ``predict`` can rebuild the model and its inputs.

Written by training beside each best checkpoint's arrays, read by ``predict``. The inputs are the
run's :class:`ser_jax.preprocess.Preprocessor`, stored whole, so predict prepares a file as training
prepared its cached rows. Versioned: a checkpoint from an older ser_jax (no version: 1; 2: the
preprocessing settings as separate fields) still loads, one from a newer version is refused in one
line instead of being misread.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ser_jax import features as features_lib
from ser_jax import models as models_lib
from ser_jax.checkpoint import CheckpointError
from ser_jax.preprocess import Preprocessor

VERSION = 3  # 1: untyped dict before this module (no "version" key); 2: flat fields; 3: a preprocessor record


class MetaError(CheckpointError):
    """A checkpoint's metadata cannot be used; the message names the checkpoint."""


@dataclasses.dataclass(frozen=True)
class InferenceMeta:
    label_names: tuple[str, ...]  # the model's outputs, in order
    preprocessor: Preprocessor  # features, groups, clip length, standardisation, padding: the one input path
    model_name: str  # a model of ser_jax.models, by name
    model_config: Any  # that model's Config
    protocol: str  # the split protocol of the run (seed_leaky: test scores are optimistic)
    leaky: bool
    corpora: tuple[str, ...] = ()  # corpora trained on
    epoch: int | None = None  # of the checkpoint (1-based)
    val_accuracy: float | None = None
    version: int = VERSION

    def __post_init__(self):
        if len(self.label_names) != self.model_config.num_classes:
            raise MetaError(f"the model has {self.model_config.num_classes} outputs but the label map has "
                            f"{len(self.label_names)} names")

    # The preprocessor's settings, under the names callers know them by.
    feature_config = property(lambda self: self.preprocessor.feature_config)
    groups = property(lambda self: self.preprocessor.groups)
    normalization = property(lambda self: self.preprocessor.normalization)
    num_frames = property(lambda self: self.preprocessor.num_frames)
    speaker_prior = property(lambda self: self.preprocessor.speaker_prior)
    speaker_min_clips = property(lambda self: self.preprocessor.speaker_min_clips)

    def to_dict(self) -> dict:
        """JSON-ready, as stored in the checkpoint."""
        return {"label_names": list(self.label_names), "preprocessor": self.preprocessor.to_dict(),
                "model_name": self.model_name, "model_config": dataclasses.asdict(self.model_config),
                "protocol": self.protocol, "leaky": self.leaky, "corpora": list(self.corpora),
                "epoch": self.epoch, "val_accuracy": self.val_accuracy, "version": self.version}

    @classmethod
    def from_dict(cls, d: dict, where: str = "checkpoint") -> InferenceMeta:
        """The record a checkpoint's metadata holds; ``where`` names it in errors."""
        version = int(d.get("version", 1))
        if version > VERSION:
            raise MetaError(f"{where}: written by a newer ser_jax (metadata version {version}, this one reads up "
                            f"to {VERSION}); upgrade ser_jax to use it")
        flat = version < 3  # versions 1 and 2 kept the preprocessing settings beside the others
        missing = [k for k in ("label_names", "model_config") + (("feature_config", "num_frames") if flat else
                                                                  ("preprocessor",)) if k not in d]
        if missing:
            raise MetaError(f"{where}: the checkpoint lacks {', '.join(missing)} (damaged, or not written by "
                            "python -m ser_jax.train); train that run again")
        name = str(d.get("model_name", models_lib.LEGACY))  # version 1: from before the model zoo
        try:
            pre = (Preprocessor.from_dict(d["preprocessor"]) if not flat else Preprocessor(
                features_lib.FeatureConfig.from_dict(d["feature_config"]), tuple(d.get("groups") or ()),
                str(d.get("normalization", "global")), float(d.get("speaker_prior", 0.0)),
                int(d.get("speaker_min_clips", 0)), int(d["num_frames"])))
            return cls(label_names=tuple(str(n) for n in d["label_names"]), preprocessor=pre, model_name=name,
                       model_config=models_lib.config_from_dict(name, d["model_config"]),
                       protocol=str(d.get("protocol", "?")), leaky=bool(d.get("leaky", False)),
                       corpora=tuple(d.get("corpora") or ()), epoch=d.get("epoch"), val_accuracy=d.get("val_accuracy"))
        except MetaError as e:
            raise MetaError(f"{where}: {e}") from None
        except (TypeError, ValueError) as e:
            raise MetaError(f"{where}: {e}") from None
