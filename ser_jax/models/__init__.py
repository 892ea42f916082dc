"""The model zoo: every network ser_jax can train, found by name.

A model is one module here, named by its file (``--model=NAME``; ``_layers.py`` holds shared layers
and is none), or any module named by its dotted import path (``--model=my_lab.models.tiny_gru``: a
user's file on sys.path; see ser_jax.plugins). The module holds a frozen ``Config`` dataclass
(validated, with a ``num_classes`` field; its defaults are the model's recommended settings), a
Flax ``Model`` whose ``__call__(x, lengths, *, train)`` maps frame features (B, T, F) and true frame
counts (B,) to logits (B, num_classes), with frames past a clip's length never changing its logits,
and ``TINY``: Config overrides that make it tiny, with which tests/models/test_models.py runs every model
through padding, gradients, training and prediction. Training needs the ``dropout`` rng and, for
models with BatchNorm, a mutable ``batch_stats`` collection.

Optional hooks, called when a run's settings are checked with the features (a FeatureConfig, the
chosen groups, each group's width): ``fit_features(config, features, groups, sizes) -> config``
fills in sizes that follow from the features (superb's state width) and refuses a wrong one typed;
``check_features(config, features, groups, sizes)`` refuses features the model cannot read (a
one-line ValueError); ``reads_pooled(config) -> bool`` says it reads a cache of one pooled frame
per clip as it should (``--encoder_pool=mean``; ``READS_POOLED`` says when, for the error; models
without it need frames). A model that starts from pretrained weights defines ``initialize(config,
variables, *, norm, encoder, encoder_sha256)``, called once on its fresh variables
(:func:`initialize`); parameters under a name starting ``pretrained`` learn at the Config's
``pretrained_lr`` times the learning rate.

``--NAME.FIELD=value`` (or ``--model_config=field=value,...``; an outside model: that only) sets any
field of its Config, and the checkpoint stores the name and config, so ``predict`` rebuilds it.
Kernels of modules named ``conv_<i>``/``dense_<i>`` get the L2 penalty (see ``optim.l2_mask``).
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from typing import Any

import flax.linen as nn

from ser_jax import plugins
from ser_jax.models._layers import count_params  # noqa: F401  (part of the package's interface)

# name -> module path: every module of this package not starting with "_" (read-only, derived).
MODELS = plugins.Registry(__name__, __path__, flag="model", what="model")
DEFAULT = "crnn"  # the original notebook's CNN-BiLSTM-attention
LEGACY = "crnn"  # the model of checkpoints written before the zoo (their metadata names none)


def module(name: str) -> types.ModuleType:
    """The model module called ``name`` (or at that import path); a one-line ValueError if none."""
    found = MODELS.module(name)
    missing = [a for a in ("Config", "Model") if not hasattr(found, a)]
    if missing:
        raise ValueError(f"--model={name}: module {found.__name__} is not a model: it lacks {', '.join(missing)}")
    return found


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


def tiny(name: str, **fields: Any) -> Any:
    """Model ``name``'s Config with its ``TINY`` overrides (tiny widths, for fast tests)."""
    return make_config(name, getattr(module(name), "TINY", {}), **fields)


def fit_features(name: str, config: Any, features: Any, groups: Any, sizes: Mapping[str, int]) -> Any:
    """The model's Config with every size that follows from the features filled in (a FeatureConfig,
    the chosen groups, the width of each group the recipe has); a one-line ValueError when a size
    given differs from the features'."""
    fn = getattr(module(name), "fit_features", None)
    return config if fn is None else fn(config, features, tuple(groups), sizes)


def check_features(name: str, config: Any, features: Any, groups: Any, sizes: Mapping[str, int]) -> None:
    """A one-line ValueError when the features (a FeatureConfig, the chosen groups, the width of each
    group the recipe has) do not fit the model: a pooled cache (one frame per clip) for a model that
    reads frames, or whatever the model's own ``check_features`` refuses."""
    found = module(name)
    pool = features.encoder_pool
    reads_pooled = getattr(found, "reads_pooled", None)
    if pool != "frames" and not (reads_pooled is not None and reads_pooled(config)):
        when = getattr(found, "READS_POOLED", "")
        how = f"reads as it should only {when}" if when else "does not read as it should (it needs frames)"
        raise ValueError(f"--encoder_pool={pool} keeps one pooled frame per clip, which --model={name} {how}; use "
                         "--encoder_pool=frames for frame-level heads")
    fn = getattr(found, "check_features", None)
    if fn is not None:
        fn(config, features, tuple(groups), sizes)
