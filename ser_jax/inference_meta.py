"""What a checkpoint must say so that ``predict`` can rebuild the model and its inputs.

Written by training beside each best checkpoint's arrays, read by ``predict``. Versioned: a
checkpoint from an older ser_jax (no version: 1) still loads, one from a newer version is refused
in one line instead of being misread.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ser_jax import features as features_lib
from ser_jax import models as models_lib
from ser_jax import recipes
from ser_jax.checkpoint import CheckpointError

VERSION = 2  # 1: untyped dict before this module (no "version" key); 2: this record
NORMALIZATIONS = ("global", "speaker", "none")


class MetaError(CheckpointError):
    """A checkpoint's metadata cannot be used; the message names the checkpoint."""


@dataclasses.dataclass(frozen=True)
class InferenceMeta:
    label_names: tuple[str, ...]  # the model's outputs, in order
    feature_config: features_lib.FeatureConfig  # how the features of a clip are computed
    groups: tuple[str, ...]  # feature groups the model reads, in cache order; () = all of feature_config's
    model_name: str  # a name in ser_jax.models.MODELS
    model_config: Any  # that model's Config
    num_frames: int  # frames per training window
    protocol: str  # the split protocol of the run (seed_leaky: test scores are optimistic)
    leaky: bool
    normalization: str  # global (training statistics, stored with the arrays), speaker (per speaker), none
    corpora: tuple[str, ...] = ()  # corpora trained on
    speaker_prior: float = 0.0  # speaker normalisation: clips of shrinkage toward the wider statistics (0: none)
    speaker_min_clips: int = 0  # speaker normalisation: fewer clips than this use the wider statistics alone
    epoch: int | None = None  # of the checkpoint (1-based)
    val_accuracy: float | None = None
    version: int = VERSION

    def __post_init__(self):
        if len(self.label_names) != self.model_config.num_classes:
            raise MetaError(f"the model has {self.model_config.num_classes} outputs but the label map has "
                            f"{len(self.label_names)} names")
        layout = {name for name, _, _ in recipes.feature_layout(self.feature_config)}
        unknown = sorted(set(self.groups) - layout)
        if unknown:
            raise MetaError(f"it selects feature group(s) {unknown} that its feature config does not compute")
        if self.normalization not in NORMALIZATIONS:
            raise MetaError(f"unknown normalization {self.normalization!r}")

    def to_dict(self) -> dict:
        """JSON-ready, as stored in the checkpoint."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d.update(label_names=list(self.label_names), groups=list(self.groups), corpora=list(self.corpora),
                 feature_config=self.feature_config.to_dict(), model_config=dataclasses.asdict(self.model_config))
        return d

    @classmethod
    def from_dict(cls, d: dict, where: str = "checkpoint") -> InferenceMeta:
        """The record a checkpoint's metadata holds; ``where`` names it in errors."""
        version = int(d.get("version", 1))
        if version > VERSION:
            raise MetaError(f"{where}: written by a newer ser_jax (metadata version {version}, this one reads up "
                            f"to {VERSION}); upgrade ser_jax to use it")
        missing = [k for k in ("label_names", "feature_config", "model_config", "num_frames") if k not in d]
        if missing:
            raise MetaError(f"{where}: the checkpoint lacks {', '.join(missing)} (damaged, or not written by "
                            "python -m ser_jax.train); train that run again")
        name = str(d.get("model_name", "crnn"))  # version 1 checkpoints before the model zoo: the original net
        try:
            return cls(
                label_names=tuple(str(n) for n in d["label_names"]),
                feature_config=features_lib.FeatureConfig.from_dict(d["feature_config"]),
                groups=tuple(d.get("groups") or ()), model_name=name,
                model_config=models_lib.config_from_dict(name, d["model_config"]),
                num_frames=int(d["num_frames"]), protocol=str(d.get("protocol", "?")),
                leaky=bool(d.get("leaky", False)), normalization=str(d.get("normalization", "global")),
                corpora=tuple(d.get("corpora") or ()), speaker_prior=float(d.get("speaker_prior", 0.0)),
                speaker_min_clips=int(d.get("speaker_min_clips", 0)),
                epoch=d.get("epoch"), val_accuracy=d.get("val_accuracy"))
        except MetaError as e:
            raise MetaError(f"{where}: {e}") from None
        except (TypeError, ValueError) as e:
            raise MetaError(f"{where}: unreadable metadata ({e})") from None
