"""The model zoo: every network ser_jax can train, found by name.

Each model is one module here holding a frozen ``Config`` dataclass (validated, with a
``num_classes`` field; its defaults are the model's recommended settings) and a Flax ``Model`` whose
``__call__(x, lengths, *, train)`` maps frame features (B, T, F) and true frame counts (B,) to
logits (B, num_classes), with frames past a clip's length never changing its logits. Training
needs the ``dropout`` rng and, for models with BatchNorm, a mutable ``batch_stats`` collection.

A model that reads particular features may define ``check_features(config, features, groups,
sizes)`` (a FeatureConfig, the chosen groups, each group's width; a one-line ValueError when they do
not fit), called when a run's settings are checked. A model that starts from pretrained weights
defines ``initialize(config, variables, *, norm, encoder, encoder_sha256)``, called once on its
fresh variables (:func:`initialize`); parameters under a name starting ``pretrained`` learn at the
Config's ``pretrained_lr`` times the learning rate.

Adding a model is one new file plus one line in :data:`MODELS`; ``--model=NAME`` then trains it,
``--NAME.FIELD=value`` (or ``--model_config=field=value,...``) sets any field of its Config, and
the checkpoint stores the name and config, so ``predict`` rebuilds it. Kernels of modules named
``conv_<i>``/``dense_<i>`` get the L2 penalty (see ``optim.l2_mask``); name layers accordingly.
"""

from __future__ import annotations

import dataclasses
import importlib
import types
from collections.abc import Mapping
from typing import Any

import flax.linen as nn

from ser_jax.models.layers import count_params  # noqa: F401  (part of the package's interface)

# name -> module holding Config and Model. One line per model.
MODELS: dict[str, str] = {
    "crnn": "ser_jax.models.crnn",  # the original notebook's CNN-BiLSTM-attention
    "tcn": "ser_jax.models.tcn",  # TIM-Net-style bidirectional dilated temporal convolutions
    "conformer": "ser_jax.models.conformer",  # small conformer encoder with attention pooling
    "superb": "ser_jax.models.superb",  # weighted encoder layers, pooling, MLP (over pretrained encoder states)
    "whisper_top": "ser_jax.models.whisper_top",  # a Whisper encoder's top blocks, fine-tuned, and superb's head
}
DEFAULT = "crnn"


def module(name: str) -> types.ModuleType:
    if name not in MODELS:
        raise ValueError(f"--model={name}: unknown model; choose from {', '.join(MODELS)}")
    return importlib.import_module(MODELS[name])


def config_class(name: str) -> type:
    return module(name).Config


def summary(name: str) -> str:
    """The first line of the model module's docstring."""
    return (module(name).__doc__ or name).strip().splitlines()[0]


def build(name: str, config: Any) -> nn.Module:
    """The Flax module of model ``name`` with ``config`` (its Config, or a dict of its fields)."""
    if isinstance(config, Mapping):
        config = config_from_dict(name, config)
    cls = config_class(name)
    if not isinstance(config, cls):
        raise ValueError(f"model {name!r} needs a {cls.__module__}.Config, got {type(config).__name__}")
    return module(name).Model(config)


def config_from_dict(name: str, d: Mapping[str, Any]) -> Any:
    """Inverse of dataclasses.asdict for a model's Config (as stored in config.json and checkpoints)."""
    cls = config_class(name)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - fields)
    if unknown:
        raise ValueError(f"model {name!r} has no setting(s) {', '.join(unknown)}; it has {', '.join(sorted(fields))}")
    return cls(**d)


def make_config(name: str, overrides: Mapping[str, Any] | None = None, base: Any = None, **fields: Any) -> Any:
    """Model ``name``'s Config: ``base`` (default: the model's defaults) with ``overrides`` applied.

    (Command-line values are parsed by the model's flags, ser_jax.cli; ``--model_config`` sets those.)
    """
    cls = config_class(name)
    base = cls() if base is None else base
    values = {**(overrides or {}), **fields}
    unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise ValueError(f"model {name!r} has no setting(s) {', '.join(unknown)}; it has "
                         f"{', '.join(f.name for f in dataclasses.fields(cls))}")
    return dataclasses.replace(base, **values)


def initialize(name: str, config: Any, variables: Mapping[str, Any], *, norm: Mapping[str, Any] | None = None,
               encoder: str = "", encoder_sha256: str = "") -> Any:
    """A new run's starting variables: as initialised, or with pretrained weights put in by the model
    (``norm``: the training statistics the features are standardised with; ``encoder``: the weights
    the features were made with)."""
    fn = getattr(module(name), "initialize", None)
    if fn is None:
        return variables
    return fn(config, variables, norm=norm, encoder=encoder, encoder_sha256=encoder_sha256)


def check_features(name: str, config: Any, features: Any, groups: Any, sizes: Mapping[str, int]) -> None:
    """A one-line ValueError when the features (a FeatureConfig, the chosen groups, the width of each
    group the recipe has) do not fit the model."""
    fn = getattr(module(name), "check_features", None)
    if fn is not None:
        fn(config, features, tuple(groups), sizes)
