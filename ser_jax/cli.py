"""The command-line edge: absl flags shared by several entry points, turned into config dataclasses.

Only ``__main__`` code of entry points imports this module; library code takes configs as
arguments and never reads global flags.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import sys
import traceback
from typing import Callable

from absl import app, flags

from ser_jax import features as features_lib

FLAGS = flags.FLAGS


def define_data_flags() -> None:
    from ser_jax import corpora

    group("data")
    flags.DEFINE_string("data_dir", None, "Corpus folder or manifest (.csv/.tsv); several corpora as A,B. Each "
                        "keeps its own feature cache.")
    flags.DEFINE_list("corpus", ["auto"], f"Reader of each --data_dir entry (one for all, or one each): auto "
                      f"(detected from the file names), {', '.join(corpora.READERS)}.")
    flags.DEFINE_string("cache_dir", "cache", "Where HDF5 feature caches live.")
    flags.DEFINE_integer("workers", os.cpu_count() or 1, "Processes for feature extraction.", lower_bound=1)
    group(None)


def define_feature_flags() -> None:
    d = features_lib.FeatureConfig()
    group("features")
    flags.DEFINE_enum("recipe", d.recipe, ["seed", "fast"],
                      "seed: the original notebook's features exactly; fast: one shared STFT, tonnetz from "
                      "the STFT chroma (no harmonic separation).")
    flags.DEFINE_integer("sample_rate", d.sample_rate, "Resample audio to this rate (Hz).", lower_bound=1000)
    flags.DEFINE_string("duration", str(d.duration),
                        "Crop/zero-pad every clip to this many seconds from the start, or 'full' to keep each "
                        "clip's true length (padded frames are masked in training).")
    flags.DEFINE_integer("n_fft", d.n_fft, "STFT window (samples).", lower_bound=16)
    flags.DEFINE_integer("hop_length", d.hop_length, "STFT hop (samples).", lower_bound=1)
    flags.DEFINE_integer("n_mfcc", d.n_mfcc, "MFCC coefficients.", lower_bound=1)
    flags.DEFINE_integer("n_mels", d.n_mels, "Mel bands of the mel feature group.", lower_bound=1)
    flags.DEFINE_boolean("mel_db", d.mel_db, "Mel group in dB instead of power (the seed used power).")
    flags.DEFINE_list("feature_groups", list(d.groups),
                      f"Feature groups to compute (precompute) or train on (train), from "
                      f"{', '.join(features_lib.ALL_GROUPS)}; also {', '.join(features_lib.OPTIONAL_GROUPS)} "
                      "(openSMILE's 25 eGeMAPS descriptors per frame), computed only when named.")
    flags.DEFINE_boolean("fast_hpss", d.fast_hpss,
                         "fast recipe: compute tonnetz on the harmonic part (HPSS of the shared STFT).")
    group(None)


def define_jax_cache_flag(default: str) -> None:
    flags.DEFINE_string("jax_cache", "", f"Folder of JAX's persistent compilation cache: a second run of the same "
                        f"shapes skips XLA compilation (same programs, same numbers). Default {default}; 'off' "
                        "disables it. The environment's JAX_COMPILATION_CACHE_DIR, when set, wins.")


def parse_duration(value: str) -> float | None:
    if value.strip().lower() in ("full", "none", "longest"):
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"--duration={value!r}: expected seconds (e.g. 3.0) or 'full'") from None
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"--duration={value}: must be a positive number of seconds; for each clip's full "
                         "length use --duration=full")
    return seconds


def feature_config_from_flags() -> features_lib.FeatureConfig:
    try:
        return features_lib.FeatureConfig(
            recipe=FLAGS.recipe,
            sample_rate=FLAGS.sample_rate,
            duration=parse_duration(FLAGS.duration),
            n_fft=FLAGS.n_fft,
            hop_length=FLAGS.hop_length,
            n_mfcc=FLAGS.n_mfcc,
            n_mels=FLAGS.n_mels,
            mel_db=FLAGS.mel_db,
            groups=tuple(FLAGS.feature_groups),
            fast_hpss=FLAGS.fast_hpss,
        )
    except ValueError as e:
        raise UsageError(str(e) if str(e).startswith("--") else f"feature flags: {e}") from None


def require_data(flag: str = "data_dir") -> tuple[str, ...]:
    """The corpus folders / manifest files of a --data_dir=A,B flag; each must exist."""
    value = getattr(FLAGS, flag)
    if not value:
        raise UsageError(f"--{flag} is required: give a corpus folder or a manifest file, several as A,B "
                         "(make a synthetic corpus with python -m ser_jax.synth --out DIR)")
    out = []
    for entry in (v.strip() for v in value.split(",") if v.strip()):
        path = os.path.expanduser(entry)
        if not os.path.exists(path):
            which = "" if entry == value.strip() else f"{entry}: "
            raise UsageError(f"--{flag}={value}: {which}no such folder or file")
        out.append(path)
    return tuple(out)


def corpus_readers(n: int) -> tuple[str, ...]:
    """--corpus for n data_dir entries (one name applies to all); unknown names are one-line errors."""
    from ser_jax import corpora

    names = tuple(FLAGS.corpus) or ("auto",)
    for name in names:
        if name != "auto" and name not in corpora.READERS:
            raise UsageError(f"--corpus={','.join(names)}: unknown reader '{name}'; choose from auto, "
                             f"{', '.join(corpora.READERS)}")
    if len(names) not in (1, n):
        raise UsageError(f"--corpus={','.join(names)}: give one reader per --data_dir entry ({n}), or one for all")
    return names * n if len(names) == 1 else names


_DISK_HINTS = {errno.ENOSPC: "free some space", errno.EDQUOT: "free some space", errno.EACCES: "fix its permissions",
               errno.EPERM: "fix its permissions", errno.EROFS: "choose a writable folder"}


def _os_error_line(e: OSError) -> str:
    """One line naming the file and what to do; work finished before it is kept in every case."""
    if not e.filename or not e.strerror:
        return str(e)
    hint = _DISK_HINTS.get(e.errno, "fix that")
    return (f"{e.strerror}: {e.filename}; {hint} and run the same command again (finished work is kept; "
            "a training continues with --resume)")


class UsageError(ValueError):
    """A bad flag value; printed as one line naming the flag."""


def run(main: Callable[[list[str]], int | None], doc: str | None = None) -> None:
    """absl's app.run, with library errors printed as one line instead of a traceback.

    ``--help`` prints ``doc`` and the command's own flags, grouped (``--helpfull``: absl's list of
    every flag). A bad flag is one line and exit status 2, as every usage error. Set
    SER_JAX_DEBUG=1 to see the full traceback of an error.
    """
    from ser_jax.cache import CacheError

    if doc is None:
        doc = getattr(sys.modules.get("__main__"), "__doc__", None) or ""

    def parse(argv: list[str]) -> list[str]:
        if any(a in ("-h", "-help", "--help", "-?", "--helpshort") for a in argv[1:]):
            print(help_text(doc))
            sys.exit(0)
        from ser_jax import flagfiles

        try:
            return FLAGS(flagfiles.expand(argv))
        except flagfiles.FlagfileError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
        except flags.Error as e:
            print(f"error: {e}; see --help", file=sys.stderr)
            sys.exit(2)

    def wrapped(argv: list[str]) -> int | None:
        from absl import logging

        if not FLAGS["verbosity"].present:  # orbax logs every save at INFO
            logging.set_verbosity(logging.WARNING)
        try:
            return main(argv)
        except KeyboardInterrupt:
            print("interrupted; work finished so far is kept, run the same command again to resume",
                  file=sys.stderr)
            return 130
        except (UsageError, CacheError, ValueError, OSError, FloatingPointError) as e:
            if os.environ.get("SER_JAX_DEBUG"):
                traceback.print_exc()
            print(f"error: {_os_error_line(e) if isinstance(e, OSError) else e}", file=sys.stderr)
            if isinstance(e, UsageError):
                return 2
            # Background threads of orbax and TensorBoard may still fail on the same cause (a full
            # disk) and print tracebacks at interpreter exit; everything is on disk, so leave now.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(1)

    app.run(wrapped, flags_parser=parse)


def run_command(module) -> None:
    """The whole ``__main__`` of a command package: its flags, then its ``main`` under :func:`run`."""
    module.define_flags()
    run(module.main, module.__doc__)


# --------------------------------------------------------------------------------------------
# Help: the command's own flags, in the groups their define_* functions mark.

_GROUPS: list[tuple[str, list[str]]] = []  # (title, flag names), in definition order
_open_group: tuple[str, set[str]] | None = None


def group(title: str | None) -> None:
    """Flags defined from here on belong to ``title`` in --help (None closes the group)."""
    global _open_group
    if _open_group is not None:
        name, before = _open_group
        _GROUPS.append((name, [n for n in FLAGS if n not in before]))
    _open_group = (title, set(FLAGS)) if title else None


def _flag_line(name: str) -> str:
    import textwrap

    flag = FLAGS[name]
    if flag.boolean:
        head = f"--[no]{name}" + (" (default: on)" if flag.default else "")
    else:
        default = flag.default_as_str if flag.default not in (None, [], "") else ""
        head = f"--{name}" + (f"={default.strip(chr(39))}" if default else "")
    body = textwrap.fill(flag.help or "", width=100, initial_indent="      ", subsequent_indent="      ")
    return f"  {head}\n{body}"


def _presets() -> list[str]:
    from ser_jax import flagfiles

    return flagfiles.presets()


def help_text(doc: str) -> str:
    """What --help prints: the command's docstring and its flags by group, with defaults."""
    group(None)
    grouped = {n for _, names in _GROUPS for n in names}
    sections = list(_GROUPS)
    own = [f.name for module, fl in FLAGS.flags_by_module_dict().items()
           if module.startswith("ser_jax") or module == "__main__" for f in fl]
    rest = [n for n in dict.fromkeys(own) if n not in grouped]
    if rest:
        sections.append(("flags", rest))
    lines = [doc.strip(), ""] if doc.strip() else []
    lines.append("Flags (also from a file or a preset: --flagfile=FILE|NAME, presets: " + ", ".join(_presets())
                 + "; every absl flag: --helpfull):")
    for title, names in sections:
        names = [n for n in names if n in FLAGS and not (FLAGS[n].help or "").startswith("Alias for")]
        if names:
            lines += ["", f"{title}:", *map(_flag_line, dict.fromkeys(names))]
    return "\n".join(lines)


def define_train_flags() -> None:
    """Flags of python -m ser_jax.train; defaults are the original notebook's values."""
    from ser_jax import augment as augment_lib
    from ser_jax import models as models_lib
    from ser_jax import optim as optim_lib
    from ser_jax import splits as splits_lib
    from ser_jax import train as train_lib
    from ser_jax.models import crnn

    s, m, o, t = splits_lib.SplitConfig(), crnn.Config(), optim_lib.OptimConfig(), train_lib.TrainConfig()
    a = augment_lib.AugmentConfig()
    group("run")
    flags.DEFINE_string("run_dir", None, "Where this run writes config, metrics, report, TensorBoard events and "
                        "checkpoints (default runs/<protocol>-<recipe>-<time>).")
    flags.DEFINE_boolean("resume", False, "Continue the interrupted run in --run_dir from its last checkpoint.")
    flags.DEFINE_boolean("overwrite", False, "Replace whatever --run_dir holds.")
    define_jax_cache_flag("<cache_dir>/xla")
    group("split")
    flags.DEFINE_enum("split", s.protocol, [*splits_lib.PROTOCOLS, *splits_lib.ALIASES],
                      "seed_leaky: the original (early stopping on the TEST set); holdout: same test split, "
                      "validation carved from training; speaker_kfold: k-fold over speakers; speakers: explicit "
                      "speaker lists; loso: leave one speaker out; emobox: EmoBox's RAVDESS folds; cross_corpus: "
                      "test on every file of --test_corpus, train on the others. actor_kfold/actors: old names.")
    flags.DEFINE_enum("channels", s.channels, ["speech", "song", "both"], "Which vocal channels to use.")
    flags.DEFINE_float("test_size", s.test_size, "Test fraction (seed_leaky, holdout).")
    flags.DEFINE_float("val_size", s.val_size, "Validation fraction of the training part (holdout).")
    flags.DEFINE_integer("split_seed", s.random_state, "random_state of the stratified splits.")
    flags.DEFINE_integer("folds", s.folds, "Folds over speakers (speaker_kfold).")
    flags.DEFINE_integer("fold", None, "Run one fold only (0-based; speaker_kfold, loso, emobox); default all.")
    flags.DEFINE_integer("val_speakers", s.val_speakers, "Validation speakers per fold and corpus "
                         "(speaker-independent protocols); never test speakers.")
    flags.DEFINE_list("train_speakers", [], "Training speakers (split=speakers), e.g. ravdess:01 or 1.")
    flags.DEFINE_list("val_speaker_ids", [], "Validation speakers (split=speakers).")
    flags.DEFINE_list("test_speakers", [], "Test speakers (split=speakers).")
    flags.DEFINE_string("test_corpus", "", "split=cross_corpus: the corpus to test on (e.g. emodb, ravdess).")
    flags.DEFINE_list("emotions", [], "Keep only these emotions (after --merge_emotions); empty = all.")
    flags.DEFINE_list("merge_emotions", [], "FROM:TO pairs mapping one emotion onto another, e.g. calm:neutral.")
    for old, new in (("val_actors", "val_speakers"), ("train_actors", "train_speakers"),
                     ("val_actor_ids", "val_speaker_ids"), ("test_actors", "test_speakers")):
        flags.DEFINE_alias(old, new)
    group("model")
    flags.DEFINE_enum("model", models_lib.DEFAULT, list(models_lib.MODELS),
                      "The network, from the model zoo (ser_jax/models): "
                      + "; ".join(f"{n}: {models_lib.summary(n).split(': ', 1)[-1]}" for n in models_lib.MODELS))
    flags.DEFINE_list("model_config", [], "FIELD=VALUE settings of the chosen model's Config, e.g. "
                      "dropout=0.2,filters=64 (tuples as 128:64); any field, see ser_jax/models/<model>.py. The "
                      "flags --conv_filters ... --keras_init below set crnn's fields and are ignored by other models.")
    flags.DEFINE_list("conv_filters", [str(v) for v in m.conv_filters], "Filters per conv block; empty = no CNN.")
    flags.DEFINE_list("conv_kernels", [str(v) for v in m.conv_kernels], "Kernel size per conv block.")
    flags.DEFINE_float("conv_dropout", m.conv_dropout, "Dropout after each conv block.")
    flags.DEFINE_integer("pool_size", m.pool_size, "Max-pool size after the conv blocks (1 = none).")
    flags.DEFINE_integer("lstm_units", m.lstm_units, "LSTM units per direction.")
    flags.DEFINE_integer("lstm_layers", m.lstm_layers, "Stacked BiLSTM layers (0 = none).")
    flags.DEFINE_float("lstm_dropout", m.lstm_dropout, "LSTM input dropout (mask shared over time).")
    flags.DEFINE_float("recurrent_dropout", m.lstm_recurrent_dropout, "LSTM recurrent dropout (mask shared "
                       "over time).")
    flags.DEFINE_boolean("attention", m.attention, "Attention pooling over time (else masked mean pooling).")
    flags.DEFINE_list("dense_units", [str(v) for v in m.dense_units], "Hidden dense layers.")
    flags.DEFINE_float("dense_dropout", m.dense_dropout, "Dropout after each hidden dense layer.")
    flags.DEFINE_boolean("keras_init", m.keras_init, "Keras initialisers and BatchNorm epsilon.")
    group("optimiser")
    flags.DEFINE_float("learning_rate", o.learning_rate, "Adam learning rate.")
    flags.DEFINE_float("l2", o.l2, "L2 factor on conv and hidden dense kernels (Keras l2(l) semantics).")
    flags.DEFINE_enum("decay", o.decay, ["coupled", "decoupled", "none"],
                      "coupled: L2 added to the gradient before Adam (as Keras l2); decoupled: AdamW.")
    flags.DEFINE_enum("schedule", o.schedule, ["constant", "cosine", "warmup_cosine"], "Learning-rate schedule.")
    flags.DEFINE_integer("warmup_steps", o.warmup_steps, "Warm-up steps (warmup_cosine).")
    flags.DEFINE_float("clip_norm", o.clip_norm, "Clip gradients to this global norm (default none).")
    group("training")
    flags.DEFINE_integer("epochs", t.epochs, "Maximum epochs.")
    flags.DEFINE_integer("batch_size", t.batch_size, "Training batch size.")
    flags.DEFINE_integer("patience", t.patience, "Early-stopping patience in epochs (0 = off).")
    flags.DEFINE_integer("seed", t.seed, "Seed of initialisation, shuffling and dropout.")
    flags.DEFINE_boolean("standardize", t.standardize, "Per-feature standardisation fitted on training rows "
                         "(off to replicate the original exactly).")
    flags.DEFINE_boolean("speaker_norm", t.speaker_norm, "Standardise every speaker (training and test alike) by "
                         "the statistics of its own clips instead of the training set's; uses no labels, assumes "
                         "several clips per test speaker.")
    flags.DEFINE_boolean("class_weights", t.class_weights, "Weight the loss by n / (classes * class count) of "
                         "the training rows, so rare classes count as much as frequent ones.")
    group("augmentation")
    flags.DEFINE_integer("time_masks", a.time_masks, "SpecAugment: spans of frames zeroed per training clip (0 = off).")
    flags.DEFINE_integer("time_mask_width", a.time_mask_width, "SpecAugment: maximum frames per time mask.")
    flags.DEFINE_integer("feature_masks", a.feature_masks, "SpecAugment: bands of feature rows zeroed per training "
                         "clip (0 = off).")
    flags.DEFINE_float("mixup", a.mixup, "Mixup: mix each training clip with another of its batch, weight drawn "
                       "from Beta(alpha, alpha) (the clip's own label keeps the larger share); 0 = off.")
    flags.DEFINE_integer("feature_mask_width", a.feature_mask_width, "SpecAugment: maximum rows per feature mask.")
    flags.DEFINE_list("speed_perturb", [], "Train also on copies of the training clips played this many times "
                      "faster (tempo and pitch), one copy per factor, e.g. 0.9,1.1; each is a feature cache of its "
                      "own, built once. Validation and test clips are never perturbed.")
    flags.DEFINE_string("noise_snr", "", "Train also on a copy of the training clips with white noise at an SNR "
                        "drawn per file from LOW:HIGH dB (or one value), e.g. 10:30; empty = off.")
    group(None)


def _ints(flag: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in getattr(FLAGS, flag) if str(v).strip())
    except ValueError:
        raise UsageError(f"--{flag}={','.join(getattr(FLAGS, flag))}: expected comma-separated integers") from None


def _floats(flag: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in getattr(FLAGS, flag) if str(v).strip())
    except ValueError:
        raise UsageError(f"--{flag}={','.join(getattr(FLAGS, flag))}: expected comma-separated numbers") from None


def experiment_config_from_flags():
    """The ExperimentConfig the train flags describe; bad values are one-line UsageErrors naming the flag."""
    from ser_jax import augment as augment_lib
    from ser_jax import models as models_lib
    from ser_jax import optim as optim_lib
    from ser_jax import splits as splits_lib
    from ser_jax import train as train_lib
    from ser_jax.models import crnn

    data_dir = require_data("data_dir")
    readers = corpus_readers(len(data_dir))
    for name in ("learning_rate", "l2", "conv_dropout", "lstm_dropout", "recurrent_dropout", "dense_dropout",
                 "test_size", "val_size"):
        if getattr(FLAGS, name) < 0:
            raise UsageError(f"--{name}={getattr(FLAGS, name)}: must not be negative")
    groups = tuple(FLAGS.feature_groups)
    unknown = sorted(set(groups) - set(features_lib.GROUP_ORDER))
    if unknown:
        raise UsageError(f"--feature_groups: unknown group(s) {unknown}; choose from {list(features_lib.GROUP_ORDER)}")
    # The cache holds every default group (ablations reuse it) plus the optional groups asked for.
    optional = tuple(g for g in groups if g in features_lib.OPTIONAL_GROUPS)
    features = features_lib.FeatureConfig(**{**feature_config_from_flags().to_dict(),
                                             "groups": features_lib.ALL_GROUPS + optional})
    try:
        split = splits_lib.SplitConfig(
            protocol=FLAGS.split, channels=FLAGS.channels, test_size=FLAGS.test_size, val_size=FLAGS.val_size,
            random_state=FLAGS.split_seed, folds=FLAGS.folds, fold=FLAGS.fold, val_speakers=FLAGS.val_speakers,
            train_speakers=tuple(FLAGS.train_speakers), val_speaker_ids=tuple(FLAGS.val_speaker_ids),
            test_speakers=tuple(FLAGS.test_speakers), test_corpus=FLAGS.test_corpus)
        crnn_cfg = crnn.Config(
            conv_filters=_ints("conv_filters"), conv_kernels=_ints("conv_kernels"),
            conv_dropout=FLAGS.conv_dropout, pool_size=FLAGS.pool_size, lstm_units=FLAGS.lstm_units,
            lstm_layers=FLAGS.lstm_layers, lstm_dropout=FLAGS.lstm_dropout,
            lstm_recurrent_dropout=FLAGS.recurrent_dropout, attention=FLAGS.attention,
            dense_units=_ints("dense_units"), dense_dropout=FLAGS.dense_dropout, keras_init=FLAGS.keras_init)
        if FLAGS.model != "crnn" and crnn_cfg != crnn.Config():
            changed = [f.name for f in dataclasses.fields(crnn.Config)
                       if getattr(crnn_cfg, f.name) != getattr(crnn.Config(), f.name)]
            raise UsageError(f"--model={FLAGS.model}: crnn's settings ({', '.join(changed)}) do not apply to it; "
                             "set its own with --model_config=FIELD=VALUE")
        model = models_lib.make_config(FLAGS.model, FLAGS.model_config,
                                       base=crnn_cfg if FLAGS.model == "crnn" else None)
        optim = optim_lib.OptimConfig(
            learning_rate=FLAGS.learning_rate, l2=FLAGS.l2, decay=FLAGS.decay, schedule=FLAGS.schedule,
            warmup_steps=FLAGS.warmup_steps, clip_norm=FLAGS.clip_norm)
        train = train_lib.TrainConfig(epochs=FLAGS.epochs, batch_size=FLAGS.batch_size, patience=FLAGS.patience,
                                      seed=FLAGS.seed, standardize=FLAGS.standardize,
                                      speaker_norm=FLAGS.speaker_norm, class_weights=FLAGS.class_weights)
        augment = augment_lib.AugmentConfig(
            time_masks=FLAGS.time_masks, time_mask_width=FLAGS.time_mask_width, feature_masks=FLAGS.feature_masks,
            feature_mask_width=FLAGS.feature_mask_width, mixup=FLAGS.mixup)
        return train_lib.ExperimentConfig(
            data_dir=data_dir, corpus=readers, emotions=tuple(FLAGS.emotions),
            merge_emotions=tuple(FLAGS.merge_emotions), cache_dir=FLAGS.cache_dir, features=features,
            groups=() if set(groups) == set(features.groups) else groups,
            split=split, model_name=FLAGS.model, model=model, optim=optim, train=train, augment=augment,
            workers=FLAGS.workers, speed_perturb=_floats("speed_perturb"), noise_snr=FLAGS.noise_snr or None)
    except UsageError:
        raise
    except ValueError as e:
        msg = str(e)
        raise UsageError(msg if msg.startswith("--") else f"bad flag value: {msg}") from None
