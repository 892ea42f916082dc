"""The command-line edge: absl flags shared by several entry points, turned into config dataclasses.

Only ``__main__`` code of entry points imports this module; library code takes configs as
arguments and never reads global flags.
"""

from __future__ import annotations

import errno
import os
import sys
import traceback
from typing import Callable

from absl import app, flags

from ser_jax import config_flags
from ser_jax import features as features_lib
from ser_jax.config_flags import UsageError  # noqa: F401  (raised by every command)

FLAGS = flags.FLAGS


DATA_FIELDS = ("data_dir", "corpus", "cache_dir", "workers")  # ExperimentConfig fields shared with precompute


def define_data_flags() -> None:
    from ser_jax.config import ExperimentConfig

    group("data")
    config_flags.define(ExperimentConfig, only=DATA_FIELDS)
    group(None)


def define_feature_flags() -> None:
    """The FeatureConfig flags, and --feature_groups (the groups a job uses; same meaning everywhere)."""
    from ser_jax.config import ExperimentConfig

    group("features")
    config_flags.define(features_lib.FeatureConfig)
    config_flags.define(ExperimentConfig, only=("feature_groups",))
    group(None)


def define_jax_cache_flag(default: str) -> None:
    flags.DEFINE_string("jax_cache", "", f"Folder of JAX's persistent compilation cache: a second run of the same "
                        f"shapes skips XLA compilation (same programs, same numbers). Default {default}; 'off' "
                        "disables it. The environment's JAX_COMPILATION_CACHE_DIR, when set, wins.")


def feature_config_from_flags() -> features_lib.FeatureConfig:
    """The FeatureConfig of a cache for the job's --feature_groups (every default group + optional ones named)."""
    from ser_jax.config import ExperimentConfig

    wanted = config_flags.values(ExperimentConfig)["feature_groups"]
    chosen = config_flags.values(features_lib.FeatureConfig)
    try:
        groups = features_lib.cache_groups(wanted, chosen["recipe"], chosen["encoder"], chosen["encoder_pool"])
    except ValueError as e:
        raise UsageError(str(e)) from None
    return config_flags.build(features_lib.FeatureConfig, groups=groups)


def require_data(flag: str = "data_dir") -> tuple[str, ...]:
    """The corpus folders / manifest files of a --data_dir=A,B flag; each must exist."""
    value = getattr(FLAGS, flag)
    if isinstance(value, (list, tuple)):
        value = ",".join(value)
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


_DISK_HINTS = {errno.ENOSPC: "free some space", errno.EDQUOT: "free some space", errno.EACCES: "fix its permissions",
               errno.EPERM: "fix its permissions", errno.EROFS: "choose a writable folder"}


def _os_error_line(e: OSError) -> str:
    """One line naming the file and what to do; work finished before it is kept in every case."""
    if not e.filename or not e.strerror:
        return str(e)
    hint = _DISK_HINTS.get(e.errno, "fix that")
    return (f"{e.strerror}: {e.filename}; {hint} and run the same command again (finished work is kept; "
            "a training continues with --resume)")


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
            expanded = flagfiles.expand(argv)
            old = old_spelling(expanded)
            if old:
                print(f"error: {old}", file=sys.stderr)
                sys.exit(2)
            return FLAGS(expanded)
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


# Flags of earlier versions, each now a KIND of --copies: flagfiles may still hold them.
RENAMED_COPIES = {"speed_perturb": "speed", "vtlp": "vtlp", "noise_snr": "noise"}


def old_spelling(argv: list[str]) -> str | None:
    """A one-line error for the first flag that is spelled the way earlier versions did, naming the new one."""
    for arg in argv[1:]:
        name, _, value = arg.lstrip("-").partition("=")
        if not arg.startswith("-") or name not in RENAMED_COPIES:
            continue
        kind = RENAMED_COPIES[name]
        values = [value] if kind == "noise" else [v for v in value.split(",") if v.strip()]
        new = ",".join(f"{kind}:{v.strip()}" for v in values) or f"{kind}:VALUE"
        return (f"{arg} is spelled --copies={new} now (one setting for every kind of perturbed copy: "
                f"{', '.join(dict.fromkeys(RENAMED_COPIES.values()))}); see --help")
    return None


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
    """Flags of python -m ser_jax.train, derived from the ExperimentConfig fields; defaults are the original's."""
    from ser_jax import augment as augment_lib
    from ser_jax import models as models_lib
    from ser_jax import optim as optim_lib
    from ser_jax import splits as splits_lib
    from ser_jax.config import ExperimentConfig, TrainConfig

    group("run")
    flags.DEFINE_string("run_dir", None, "Where this run writes config, metrics, report, TensorBoard events and "
                        "checkpoints (default runs/<protocol>-<recipe>-<time>).")
    flags.DEFINE_boolean("resume", False, "Continue the interrupted run in --run_dir from its last checkpoint.")
    flags.DEFINE_boolean("overwrite", False, "Replace whatever --run_dir holds.")
    define_jax_cache_flag("<cache_dir>/xla")
    config_flags.define(ExperimentConfig, only=("devices",))
    group("several processes (hosts)")
    flags.DEFINE_string("coordinator_address", os.environ.get("JAX_COORDINATOR_ADDRESS", ""),
                        "HOST:PORT where process 0 listens, the same on every process (default "
                        "$JAX_COORDINATOR_ADDRESS).")
    flags.DEFINE_integer("num_processes", int(os.environ.get("JAX_NUM_PROCESSES", "1")),
                         "Processes of a multi-host run, each started with the same flags (default "
                         "$JAX_NUM_PROCESSES or 1).")
    flags.DEFINE_integer("process_id", int(os.environ.get("JAX_PROCESS_ID", "0")),
                         "This process's number, 0..num_processes-1; process 0 writes the run directory "
                         "(default $JAX_PROCESS_ID or 0).")
    group("split")
    config_flags.define(splits_lib.SplitConfig)
    config_flags.define(ExperimentConfig, only=("emotions", "merge_emotions"))
    for old, new in (("val_actors", "val_speakers"), ("train_actors", "train_speakers"),
                     ("val_actor_ids", "val_speaker_ids"), ("test_actors", "test_speakers")):
        flags.DEFINE_alias(old, new)
    group("model")
    config_flags.define(ExperimentConfig, only=("model",))
    flags.DEFINE_list("model_config", [], "FIELD=VALUE settings of the chosen model's Config, e.g. "
                      "dropout=0.2,filters=64 (tuples as 128:64): a shorthand for its own flags below.")
    for name in models_lib.MODELS:
        group(f"model {name}" + (" (the default; its flags have no prefix)" if name == models_lib.DEFAULT else "")
              + f": {models_lib.summary(name).split(': ', 1)[-1].rstrip('.')}")
        config_flags.define(models_lib.config_class(name), prefix=model_prefix(name), skip=("num_classes",))
    group("optimiser")
    config_flags.define(optim_lib.OptimConfig)
    group("training")
    config_flags.define(TrainConfig)
    group("augmentation")
    config_flags.define(augment_lib.AugmentConfig)
    config_flags.define(ExperimentConfig, only=("copies",))
    group("other")
    config_flags.define(ExperimentConfig)  # any field not placed above
    group(None)


def _set_model_flags(chosen: str, items: list[str]) -> None:
    """``--model_config=F=V,...``: a shorthand that sets model ``chosen``'s own flags (one parser for both)."""
    from ser_jax import models as models_lib

    cls = models_lib.config_class(chosen)
    names = config_flags.flag_names(cls, model_prefix(chosen))
    for item in items:
        key, sep, raw = (part.strip() for part in str(item).partition("="))
        if not sep or not key:
            raise UsageError(f"--model_config={item}: expected FIELD=VALUE (e.g. dropout=0.2)")
        if key not in names:
            raise UsageError(f"--model_config={item}: model {chosen!r} has no setting {key!r}; it has "
                             f"{', '.join(names)}")
        flag = FLAGS[names[key]]
        try:  # a list flag (tuples) takes 128:64 here, since commas separate the items of --model_config
            flag.parse(raw.replace(":", ",") if isinstance(flag.value, list) else raw)
        except flags.IllegalFlagValueError:
            raise UsageError(f"--model_config={item}: {raw!r} is not a valid value of --{names[key]}") from None


def model_prefix(name: str) -> str:
    """Flags of the default model have no prefix (--lstm_units); every other model's are --NAME.FIELD."""
    from ser_jax import models as models_lib

    return "" if name == models_lib.DEFAULT else f"{name}."


def experiment_config_from_flags():
    """The ExperimentConfig the train flags describe; bad values are one-line UsageErrors naming the flag."""
    from ser_jax import augment as augment_lib
    from ser_jax import models as models_lib
    from ser_jax import optim as optim_lib
    from ser_jax import splits as splits_lib
    from ser_jax.config import ExperimentConfig, TrainConfig

    data_dir = require_data("data_dir")
    chosen = FLAGS.model
    try:
        cls = models_lib.config_class(chosen)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if chosen not in models_lib.MODELS:  # a model module outside ser_jax: its flags only now, for --model_config
        config_flags.define(cls, prefix=model_prefix(chosen), skip=("num_classes",))
    _set_model_flags(chosen, FLAGS.model_config)
    for name in models_lib.MODELS:
        given = config_flags.changed(models_lib.config_class(name), model_prefix(name))
        if name != chosen and given:
            raise UsageError(f"--{given[0]} is a setting of --model={name}, not of --model={chosen}; drop it or "
                             f"set {chosen}'s own flags")
    try:
        model = config_flags.build(cls, model_prefix(chosen))
    except UsageError as e:  # an outside model's flags exist only for --model_config: name that
        if chosen in models_lib.MODELS:
            raise
        raise UsageError(str(e).replace(f"--{model_prefix(chosen)}", "--model_config=")) from None
    return config_flags.build(
        ExperimentConfig, data_dir=data_dir, corpus=tuple(FLAGS.corpus), features=feature_config_from_flags(),
        split=config_flags.build(splits_lib.SplitConfig), model_config=model,
        optim=config_flags.build(optim_lib.OptimConfig), train=config_flags.build(TrainConfig),
        augment=config_flags.build(augment_lib.AugmentConfig))
