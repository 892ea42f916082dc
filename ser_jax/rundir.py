"""The layout of a run directory, in one place: every module that reads or writes a run uses these.

    <run>/config.json       settings and provenance          <run>/metrics.json   written last: finished
    <run>/metrics.jsonl     one line per epoch               <run>/report.txt     classification report
    <run>/checkpoints/      orbax best/ and last/            <run>/.lock          held while training
    <run>/training_curves.png  loss/accuracy per epoch
    <run>/fold_<k>/         one of these per fold of a k-fold run (the aggregate at the top)

and its life: claimed by one training at a time, checked before a resume (same settings), emptied or
continued, finished when metrics.json exists.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ser_jax import runtime

CONFIG = "config.json"
METRICS = "metrics.json"  # written last: its presence marks a finished run (or fold)
HISTORY = "metrics.jsonl"
REPORT = "report.txt"
CHECKPOINTS = "checkpoints"
LOCK = ".lock"
CONFUSION = "confusion_matrix.png"  # counts; also the TensorBoard image
CONFUSION_NORMALIZED = "confusion_matrix_normalized.png"  # rows sum to 1
CURVES = "training_curves.png"  # loss and accuracy per epoch (every fold's, at the top of a k-fold run)
FOLD_PREFIX = "fold_"


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """JSON with numpy scalars/arrays converted, indented for people to read."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # atomic: a kill never leaves half a file
    try:
        with open(tmp, "w") as f:
            f.write(json.dumps(obj, indent=2, default=_json_default) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def fold_dir(run_dir: str | os.PathLike, fold: int) -> Path:
    return Path(run_dir) / f"{FOLD_PREFIX}{fold}"


def fold_dirs(run_dir: str | os.PathLike) -> list[Path]:
    """The fold directories of a k-fold run, in fold order ([] for a single-split run)."""
    found = [p for p in Path(run_dir).glob(f"{FOLD_PREFIX}*") if p.is_dir() and p.name[len(FOLD_PREFIX):].isdigit()]
    return sorted(found, key=lambda p: int(p.name[len(FOLD_PREFIX):]))


def finished(run_dir: str | os.PathLike) -> bool:
    return (Path(run_dir) / METRICS).is_file()


# --------------------------------------------------------------------------------------------
# A run directory's life: claimed (locked) by one training, checked before a resume, started
# afresh or continued, marked finished by its metrics.json (written last, by the report).

PROVENANCE_KEY = "provenance"  # in config.json: how the run was made (not a setting; never compared)
# Settings that may differ on --resume: where features are cached, how many processes build them,
# how many devices train and whether batches stream (the same numbers either way).
RESUMABLE_CHANGES = ("cache_dir", "workers", "devices", "stream")


class RunLockedError(OSError):
    """Another process is writing the run directory."""


@contextlib.contextmanager
def claimed(run_dir: Path, *, hold: bool = True) -> Iterator[None]:
    """The run directory, locked (flock) for this process while it trains (``hold``: process 0 of a
    multi-process run holds it for all)."""
    from ser_jax import lockfile

    run_dir.mkdir(parents=True, exist_ok=True)
    if not hold:
        yield
        return

    def busy(holder: str) -> RunLockedError:
        return RunLockedError(f"{run_dir} is being written by another training (pid {holder}); wait for it to "
                              "finish, or choose another --run_dir")

    with lockfile.exclusive(run_dir / LOCK, busy):
        yield


def contents(run_dir: Path) -> list[Path]:
    return [p for p in run_dir.iterdir() if p.name != LOCK]


def check_start(run_dir: Path, settings: dict, defaults: dict, *, resume: bool, overwrite: bool,
                progress: bool = True, upgrade: Callable[[dict], dict] = dict) -> None:
    """Whether a training may start in ``run_dir``: a one-line error when it would mix or lose runs.

    ``upgrade``: the saved settings in today's names (config.upgrade), for runs of earlier versions.
    """
    held = contents(run_dir)
    if resume and not held:
        if progress:
            print(f"note: nothing to resume in {run_dir}; starting a new run", flush=True)
    elif resume and (run_dir / CONFIG).exists():
        check_same_settings(upgrade(json.loads((run_dir / CONFIG).read_text())), settings, defaults, run_dir)
    if finished(run_dir) and not (resume or overwrite):
        raise FileExistsError(f"{run_dir} already holds a finished run; pass --overwrite to replace it "
                              "or choose another --run_dir")
    if held and not resume and not overwrite:
        raise FileExistsError(f"{run_dir} holds an unfinished run; pass --resume to continue it or "
                              "--overwrite to start again")


def start(run_dir: Path, config: dict, *, resume: bool) -> None:
    """Empties ``run_dir`` (unless resuming) and writes its config.json (settings, provenance, devices).

    A resumed run keeps the stage hashes of its start (``add_stages`` adds the others as they are known).
    """
    stages = _saved_provenance(run_dir).get(STAGES_KEY, {}) if resume else {}
    for p in contents(run_dir) if not resume else ():
        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    made = {**provenance(), **({STAGES_KEY: stages} if stages else {})}
    write_json(run_dir / CONFIG, {**config, PROVENANCE_KEY: made})


STAGES_KEY = "stages"  # in config.json's provenance: content hashes of each stage's input (ser_jax.provenance)


def run_root(split_dir: Path) -> Path:
    """The run directory a split's directory belongs to: its parent for a fold, else itself."""
    split_dir = Path(split_dir)
    is_fold = split_dir.name.startswith(FOLD_PREFIX) and split_dir.name[len(FOLD_PREFIX):].isdigit()
    return split_dir.parent if is_fold and (split_dir.parent / CONFIG).is_file() else split_dir


def stage_hashes(run_dir: Path) -> dict:
    """What config.json's provenance records of the run's stages so far ({} when nothing)."""
    return _saved_provenance(run_dir).get(STAGES_KEY, {})


def add_stages(run_dir: Path, stages: dict[str, dict]) -> None:
    """Adds stage hashes ({stage: {key: hash}}) to config.json's provenance, atomically; a key already
    recorded is kept (a resumed run describes the inputs it started from)."""
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        return
    config = json.loads(path.read_text())
    section = config.setdefault(PROVENANCE_KEY, {}).setdefault(STAGES_KEY, {})
    for stage, entries in stages.items():
        section[stage] = {**entries, **section.get(stage, {})}
    write_json(path, config)


def _saved_provenance(run_dir: Path) -> dict:
    try:
        saved = json.loads((Path(run_dir) / CONFIG).read_text())
    except (OSError, ValueError):
        return {}
    return saved.get(PROVENANCE_KEY, {}) if isinstance(saved, dict) else {}


def check_same_settings(saved: dict, settings: dict, defaults: dict, run_dir: Path) -> None:
    """--resume continues a run with its own settings; different ones would make a mixed run.

    ``defaults``: top-level settings at their defaults, for a setting added since the run started
    (absent from its config.json: it ran at the default).
    """
    now = json.loads(json.dumps(settings))
    diffs = []

    def walk(a: Any, b: Any, path: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                if not path and k in (*RESUMABLE_CHANGES, PROVENANCE_KEY, DEVICES_KEY):
                    continue
                walk(a.get(k), b.get(k), f"{path}.{k}" if path else k)
        elif a != b:
            diffs.append(f"{path}: {a!r} then, {b!r} now")

    walk(_same_paths({**json.loads(json.dumps(defaults)), **saved}), _same_paths(now), "")
    if diffs:
        raise ValueError(f"--resume: {run_dir} was started with other settings ({'; '.join(diffs[:3])}"
                         f"{'; ...' if len(diffs) > 3 else ''}); resume it with its own flags, or pass --overwrite")


def _same_paths(settings: dict) -> dict:
    """--data_dir entries as real paths: the same folder given relatively or absolutely is the same data."""
    entries = settings.get("data_dir")
    if isinstance(entries, list):
        settings = {**settings, "data_dir": [os.path.realpath(os.path.expanduser(d)) for d in entries]}
    return settings


def provenance() -> dict:
    """The code and command behind a run: git commit (when in a checkout), package versions, argv, and
    the CPU (XLA's CPU results depend on its cores and instruction set)."""
    import subprocess
    import sys
    from importlib import metadata

    commit = ""
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5)
        if out.returncode == 0:
            commit = out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    versions = {}
    for name in ("ser_jax", "jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy", "librosa", "h5py",
                 "scikit-learn", "opensmile"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return {"git_commit": commit, "versions": versions, "python": sys.version.split()[0], "command": list(sys.argv),
            "host": runtime.host()}


DEVICES_KEY = "devices_used"  # in config.json: the devices and processes the run trained on (never compared)


def read_metrics(run_dir: str | os.PathLike) -> dict:
    return json.loads((Path(run_dir) / METRICS).read_text())


def append_history(run_dir: Path, row: dict) -> None:
    with open(run_dir / HISTORY, "a") as f:
        f.write(json.dumps(row) + "\n")


def rewrite_history(run_dir: Path, rows: list[dict]) -> None:
    """The epoch log as a resumed run's checkpoint knows it (epochs logged after it are dropped)."""
    with open(run_dir / HISTORY, "w") as f:
        f.writelines(json.dumps(row) + "\n" for row in rows)
