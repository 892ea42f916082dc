"""Perturbed copies of the training clips, as plug-ins: speed-perturbed, VTLP and noisy feature sets, computed once.

Each kind of copy is one module of this package, found by its file name (modules starting with ``_``
hold shared code): ``speed.py``, ``vtlp.py``, ``noise.py``. A module gives
- ``FIELD``: the FeatureConfig field a copy sets (part of the cache key: a copy is a cache of its own),
  ``UNCHANGED`` its value for no copy, and ``check(value)``, the field's validation (FeatureConfig calls it);
- ``parse(text)`` (``--copies`` KIND:VALUE -> the value), ``spell(value)``, ``tag(value)`` (the copy's
  name: its speakers are SPEAKER~TAG, its paths PATH#TAG), ``EXAMPLE`` and ``HELP``;
- ``ORDER`` and ``apply(clip, own, value, sample_rate, seed_text)``: the audio work on a loaded clip
  (cropped or padded, its first ``own`` samples audio), in ORDER; a kind applied while loading
  (speed, in the resampling of ser_jax.audio.load_audio) has no ``apply``.

A run asks for copies with one setting, ``--copies=speed:0.9,speed:1.1``. A copy's features live in a
cache of their own, built once like any other and reused by every run and fold. A run appends the
copies to its base FeatureSet and adds to each split's training rows the copies of *its* training
clips only; validation and test rows are never perturbed, and no copy of a validation or test clip
is ever trained on.

A copy counts as a speaker of its own (``ravdess:07~speed0.9``), as Kaldi does with speed-perturbed
utterances, so per-speaker normalisation never mixes a voice with its perturbed version.
"""

from __future__ import annotations

import dataclasses
from types import ModuleType
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ser_jax import plugins, stream

if TYPE_CHECKING:
    from ser_jax.featureset import FeatureSet
    from ser_jax.features import FeatureConfig
    from ser_jax.splits import Split

SPEAKER_SEP = "~"

# kind -> module: every module of this package not starting with "_" (found as the other plug-ins
# are: ser_jax.plugins), in the order they apply. Each sets a FeatureConfig field, so none lives outside.
_FOUND = plugins.Registry(__name__, __path__, flag="copies", what="kind of copy")
PERTURBATIONS: dict[str, ModuleType] = dict(sorted(((name, _FOUND.module(name)) for name in _FOUND),
                                                   key=lambda item: item[1].ORDER))
OFF = {"copies": ()}  # the ExperimentConfig setting that asks for copies, at "no copies"


def kinds_help() -> str:
    return "; ".join(f"{name} ({p.EXAMPLE}: {p.HELP})" for name, p in PERTURBATIONS.items())


def parse_copies(items: str | Sequence[str]) -> tuple[str, ...]:
    """``--copies`` checked and spelled one way (``speed:0.9``); a bad item is a one-line error naming it."""
    items = [i.strip() for i in (items.split(",") if isinstance(items, str) else items) if str(i).strip()]
    shown = f"--copies={','.join(items)}"
    out, tags = [], set()
    for item in items:
        kind, sep, text = item.partition(":")
        p = PERTURBATIONS.get(kind.strip())
        if p is None:
            raise ValueError(f"{shown}: unknown kind of copy '{kind}'; kinds: "
                             + ", ".join(f"{k} (e.g. {v.EXAMPLE})" for k, v in PERTURBATIONS.items()))
        if not sep:
            raise ValueError(f"{shown}: '{item}' gives no value; write KIND:VALUE, e.g. {p.EXAMPLE}")
        try:
            value = p.parse(text.strip())
        except (TypeError, ValueError) as e:
            raise ValueError(f"{shown}: {item}: {e}") from None
        if p.tag(value) in tags:
            raise ValueError(f"{shown}: {item} is asked for twice")
        tags.add(p.tag(value))
        out.append(f"{kind.strip()}:{p.spell(value)}")
    return tuple(out)


def variants(base: FeatureConfig, copies: Sequence[str]) -> list[tuple[str, FeatureConfig]]:
    """(tag, FeatureConfig) of each copy ``copies`` (checked --copies items) asks for, in its order."""
    out = []
    for item in copies:
        kind, _, text = item.partition(":")
        p = PERTURBATIONS[kind]
        value = p.parse(text)
        out.append((p.tag(value), dataclasses.replace(base, **{p.FIELD: value})))
    return out


def requested(cfg) -> list[tuple[str, FeatureConfig]]:
    """The copies an ExperimentConfig asks for (--copies)."""
    return variants(cfg.features, cfg.copies)


def apply(clip: np.ndarray, own: int, cfg: FeatureConfig, seed_text: str) -> np.ndarray:
    """The loaded clip (cropped or padded per cfg, its first ``own`` samples audio) with the perturbations
    cfg sets, in their ORDER; ``seed_text`` (the file name) seeds any random draw."""
    for p in PERTURBATIONS.values():
        value = getattr(cfg, p.FIELD)
        if value != p.UNCHANGED and hasattr(p, "apply"):
            clip = p.apply(clip, own, value, cfg.sample_rate, seed_text)
    return clip


def attach(base: FeatureSet, copies: Sequence[tuple[str, FeatureSet]]) -> tuple[FeatureSet, np.ndarray]:
    """The base rows followed by each copy's rows, and ``origin``: the base row of every row.

    Copies are matched to base rows by corpus and file path; a file whose copy failed to compute
    simply has no copy, a copy whose base row failed is dropped. origin[i] == i for base rows.
    """
    n = len(base)
    corpus = base.meta.get("corpus", np.full(n, "", dtype=object))
    row_of = {(str(c), p): i for i, (c, p) in enumerate(zip(corpus, base.paths))}
    feats, lengths, origin, tags = [base.features], [base.lengths], [np.arange(n)], []
    for tag, fs in copies:
        if fs.layout != base.layout:
            raise ValueError(f"the {tag} copy has feature groups {fs.feature_names}, the base set {base.feature_names}")
        c_corpus = fs.meta.get("corpus", np.full(len(fs), "", dtype=object))
        pairs = [(row_of.get((str(c), p)), j) for j, (c, p) in enumerate(zip(c_corpus, fs.paths))]
        pairs = sorted((i, j) for i, j in pairs if i is not None)
        src = np.asarray([i for i, _ in pairs], np.int64)
        take = np.asarray([j for _, j in pairs], np.int64)
        if stream.is_lazy(fs.features):
            feats.append(stream.View(fs.features, rows=take))
        else:
            f = fs.features[take]
            t = max(base.features.shape[1], f.shape[1])
            feats = [stream.pad_frames(a, t) for a in feats] + [stream.pad_frames(f, t)]
        lengths.append(fs.lengths[take])
        origin.append(src)
        tags.append(np.full(len(src), tag, dtype=object))
    if not copies:
        return base, np.arange(n)
    origin_all = np.concatenate(origin)
    tag_all = np.concatenate([np.full(n, "", dtype=object), *tags])
    meta = {k: v[origin_all] for k, v in base.meta.items()}
    meta["speaker"] = np.asarray([s if not t else f"{s}{SPEAKER_SEP}{t}" for s, t in zip(meta["speaker"], tag_all)],
                                 dtype=object)
    meta["perturbation"] = tag_all
    paths = tuple(p if not t else f"{p}#{t}" for p, t in zip((base.paths[i] for i in origin_all), tag_all))
    stacked = (stream.Stack(feats) if any(stream.is_lazy(f) for f in feats) else np.concatenate(feats))
    combined = dataclasses.replace(base, features=stacked, lengths=np.concatenate(lengths),
                                   meta=meta, paths=paths)
    return combined, origin_all


def extend_train(split: Split, origin: np.ndarray, n_base: int) -> Split:
    """The split with the copies of its training clips added to its training rows (only those)."""
    if len(origin) == n_base:
        return split
    is_train = np.zeros(n_base, bool)
    is_train[split.train] = True
    copies = n_base + np.flatnonzero(is_train[origin[n_base:]])
    return dataclasses.replace(split, train=np.concatenate([split.train, copies]),
                               description=f"{split.description}; + {len(copies)} perturbed training copies")
