"""The experiment config: every setting of a training run, as frozen dataclasses defined once.

``ExperimentConfig`` nests the configs of each part (features, split, model, optimiser, training,
augmentation), each defined beside the code it configures and validated on construction. The
command line is derived from these fields (``ser_jax.config_flags``); ``config.json`` in every run
directory is ``ExperimentConfig.to_dict()``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Sequence

from ser_jax import augment as augment_lib
from ser_jax import corpora, plugins
from ser_jax import features as features_lib
from ser_jax import models as models_lib
from ser_jax import optim as optim_lib
from ser_jax import perturb as perturb_lib
from ser_jax import splits as splits_lib
from ser_jax.fields import setting


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    epochs: int = setting(80, "Maximum epochs.")
    batch_size: int = setting(32, "Training batch size.")
    patience: int = setting(15, "Early-stopping patience: epochs without a better validation accuracy (0 = off).")
    seed: int = setting(0, "Seed of initialisation, shuffling and dropout.")
    standardize: bool = setting(True, "Per-feature standardisation fitted on training rows (off to replicate the "
                                "original exactly).")
    # Per-speaker instead: every speaker (training, validation and test alike) standardised by the
    # statistics of its own clips in the split, labels unused. Assumes several clips per test speaker.
    speaker_norm: bool = setting(False, "Standardise every speaker (training and test alike) by the statistics of "
                                 "its own clips instead of the training set's; uses no labels, assumes several "
                                 "clips per test speaker.")
    # Below this many clips a speaker's own statistics are not used at all (its corpus's are): a few
    # clips cannot cover a speaker's emotional range, so standardising by them erases what they express
    # (10: chosen on validation speakers, docs/results.md "Speakers with few clips").
    speaker_min_clips: int = setting(10, "Under --speaker_norm: a speaker with fewer clips than this is standardised "
                                     "by its corpus's statistics instead of its own (0 = always its own).")
    # Shrinkage of speaker statistics (normalize.shrink): a speaker with n clips is standardised by
    # n / (n + k) of its own statistics and k / (n + k) of its corpus's, k = this many clips. Off by
    # default: every k > 0 tried lowered validation accuracy where speakers have 12 or 60 clips.
    speaker_prior: float = setting(0.0, "Under --speaker_norm: shrink each speaker's statistics toward its corpus's "
                                   "as if the speaker had this many more clips drawn from the corpus (n / (n + k) "
                                   "its own); 0 = no shrinkage.")
    # Loss weights per training clip: n_corpus^-power, normalised to mean 1 (0: every clip alike;
    # 1: every training corpus weighs the same in total, however many clips it has).
    corpus_balance: float = setting(0.0, "Weight each training clip's loss by (clips of its corpus)^-POWER: 0 = "
                                    "every clip alike, 1 = every training corpus counts the same in total.")
    # Test-time adaptation (transductive, like speaker statistics of the test speakers): after the
    # epoch is chosen, rounds of fine-tuning on training clips plus the test clips whose predicted
    # class is at least this sure, labelled by that prediction. The true test labels are never read.
    self_train: int = setting(0, "Rounds of test-time self-training on the test clips' confident predictions "
                              "(transductive: uses the unlabelled test clips; 0 = off).")
    self_train_threshold: float = setting(0.9, "Self-training: the class probability a test clip's prediction needs "
                                          "to be trained on.")
    self_train_epochs: int = setting(3, "Self-training: epochs per round, at a tenth of the learning rate, constant.")
    class_weights: bool = setting(False, "Weight the loss by n / (classes * class count) of the training rows, so "
                                  "rare classes count as much as frequent ones.")
    eval_batch_size: int = setting(128, "Batch size of validation and test passes (speed and memory only).")

    def __post_init__(self):
        for name in ("epochs", "batch_size", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name}={getattr(self, name)}: must be at least 1")
        if self.speaker_prior < 0:
            raise ValueError(f"--speaker_prior={self.speaker_prior:g}: must be >= 0 (0 = no shrinkage)")
        if self.self_train < 0 or self.self_train_epochs < 1:
            raise ValueError(f"--self_train={self.self_train} / --self_train_epochs={self.self_train_epochs}: rounds "
                             "must be >= 0 and epochs >= 1")
        if not 0.0 < self.self_train_threshold < 1.0:
            raise ValueError(f"--self_train_threshold={self.self_train_threshold:g}: must be in (0, 1)")
        if self.speaker_min_clips < 0:
            raise ValueError(f"--speaker_min_clips={self.speaker_min_clips}: must be >= 0")
        if not 0.0 <= self.corpus_balance <= 1.0:
            raise ValueError(f"--corpus_balance={self.corpus_balance:g}: must be in [0, 1]")
        if self.patience < 0:
            raise ValueError(f"--patience={self.patience}: must be >= 0 (0 disables early stopping)")


def _names(value: str | Sequence[str]) -> tuple[str, ...]:
    """'a,b' or ['a', 'b'] -> ('a', 'b'), blanks dropped."""
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(str(v).strip() for v in items if str(v).strip())


def data_sources(data_dir: str | Sequence[str], corpus: str | Sequence[str] = ()
                 ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """--data_dir and --corpus checked together (every command that reads corpora): one reader per
    corpus, or one for all; ``auto`` detects it from the file names."""
    data_dirs, readers = _names(data_dir or ()), _names(corpus) or ("auto",)
    if not data_dirs:
        raise ValueError("--data_dir is empty: give a corpus folder or manifest file (several: A,B)")
    if len(readers) == 1:
        readers = readers * len(data_dirs)
    if len(readers) != len(data_dirs):
        raise ValueError(f"--corpus={','.join(readers)}: give one reader per --data_dir entry "
                         f"({len(data_dirs)}), or one for all")
    for r in readers:
        if r != "auto" and r not in corpora.READERS and not plugins.is_path(r):
            raise ValueError(f"--corpus={','.join(_names(corpus))}: unknown reader '{r}'; choose from auto, "
                             f"{', '.join(corpora.READERS)} (or a reader module's import path, e.g. my_lab.mycorpus)")
        if plugins.is_path(r):
            corpora.reader(r)  # a reader outside ser_jax: importable, and a reader
    return data_dirs, readers


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """Every setting of a run; written to config.json, so a run directory explains itself."""

    data_dir: tuple[str, ...] = setting(help="Corpus folder or manifest (.csv/.tsv); several corpora as A,B. Each "
                                        "keeps its own feature cache.")
    corpus: tuple[str, ...] = setting(("auto",), "Reader of each --data_dir entry (one for all, or one each): auto "
                                      "(detected from the file names), a reader of ser_jax/corpora ("
                                      + ", ".join(corpora.READERS) + ") or the import path of a reader module of "
                                      "your own (e.g. my_lab.readers.mycorpus).")
    emotions: tuple[str, ...] = setting((), "Keep only these emotions (after --merge_emotions); empty = all.")
    merge_emotions: tuple[tuple[str, str], ...] = setting(
        (), "FROM:TO pairs mapping one emotion onto another, e.g. calm:neutral.")
    cache_dir: str = setting("cache", "Where HDF5 feature caches live.")
    features: features_lib.FeatureConfig = features_lib.FeatureConfig()
    feature_groups: tuple[str, ...] = setting(
        (), "Feature groups to use, from " + ", ".join(features_lib.ALL_GROUPS) + " (empty = all); also "
        "egemaps, compare (openSMILE's 25 eGeMAPS or 65 ComParE descriptors per frame), computed only when named. "
        "A cache always holds every default group, so runs on subsets share it.")
    split: splits_lib.SplitConfig = splits_lib.SplitConfig()
    model: str = setting(models_lib.DEFAULT, "The network: one of the model zoo (ser_jax/models: "
                         + models_lib.MODELS.choices() + "; its settings are the flags of its group below) or the "
                         "import path of a model module of your own (e.g. my_lab.models.tiny_gru; its settings: "
                         "--model_config).")
    # That model's Config; None = its defaults (a dict of fields is accepted). Its flags: --NAME.FIELD,
    # or --model_config=FIELD=VALUE,... (ser_jax.cli).
    model_config: Any = None
    optim: optim_lib.OptimConfig = optim_lib.OptimConfig()
    train: TrainConfig = TrainConfig()
    augment: augment_lib.AugmentConfig = augment_lib.AugmentConfig()
    devices: int = setting(0, "Local devices (GPUs, TPU cores, host CPU devices) each batch is split over: data "
                           "parallelism; 0 = every visible device. The batch size stays global; N devices give one "
                           "device's result up to float rounding.")
    stream: str = setting("auto", "Read training batches from the feature cache on disk instead of holding every "
                          "feature in memory: auto (when they would not fit), on, off. Same results either way.",
                          choices=("auto", "on", "off"))
    workers: int | None = setting(None, "Processes for feature extraction when a cache must be built (default: "
                                  "one per core).")
    # Perturbed copies of the training clips (ser_jax/perturb/), each a cached feature set.
    copies: tuple[str, ...] = setting(
        (), "Train also on perturbed copies of the training clips, KIND:VALUE each, e.g. speed:0.9,speed:1.1; each "
        "copy is a feature cache of its own, built once; validation and test clips are never perturbed. Kinds: "
        + perturb_lib.kinds_help() + ".")

    def __post_init__(self):
        data_dirs, readers = data_sources(self.data_dir, self.corpus)
        model = self.model_config
        if model is None or isinstance(model, dict):
            model = models_lib.make_config(self.model, model or {})
        elif not isinstance(model, models_lib.config_class(self.model)):
            raise ValueError(f"--model={self.model}: the model config given is a {type(model).__module__}"
                             ".Config; pass that model's Config")
        groups, sizes = _names(self.feature_groups) or self.features.groups, features_lib.group_sizes(self.features)
        model = models_lib.fit_features(self.model, model, self.features, groups, sizes)  # sizes the features set
        models_lib.check_features(self.model, model, self.features, groups, sizes)
        object.__setattr__(self, "model_config", model)
        emotions = tuple(corpora.canonical_emotion(e) for e in _names(self.emotions))
        object.__setattr__(self, "data_dir", data_dirs)
        object.__setattr__(self, "corpus", readers)
        object.__setattr__(self, "emotions", emotions)
        object.__setattr__(self, "merge_emotions", corpora.parse_merges(self.merge_emotions))
        groups = _names(self.feature_groups)
        features_lib.cache_groups(groups, self.features.recipe, self.features.encoder,  # unknown: one line
                                  self.features.encoder_pool)
        object.__setattr__(self, "feature_groups", () if set(groups) == set(self.features.groups) else groups)
        object.__setattr__(self, "copies", perturb_lib.parse_copies(self.copies))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def upgrade(saved: dict) -> dict:
    """A config.json written before settings were renamed, in today's names (so --resume compares like
    with like): model_name/model -> model/model_config, groups -> feature_groups, split.random_state ->
    split.split_seed, speed_perturb/noise_snr/vtlp -> copies."""
    d = json.loads(json.dumps(saved))
    if "model_name" in d:
        d["model_config"] = d.pop("model", None)
        d["model"] = d.pop("model_name")
    if "groups" in d:
        d["feature_groups"] = d.pop("groups")
    if isinstance(d.get("split"), dict) and "random_state" in d["split"]:
        d["split"]["split_seed"] = d["split"].pop("random_state")
    if {"speed_perturb", "noise_snr", "vtlp"} & set(d):
        snr = d.pop("noise_snr", None)
        d["copies"] = ([f"speed:{v:g}" for v in d.pop("speed_perturb", None) or ()]
                       + ([f"noise:{snr[0]:g}:{snr[1]:g}"] if snr else [])
                       + [f"vtlp:{v:g}" for v in d.pop("vtlp", None) or ()])
    return d

