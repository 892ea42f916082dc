"""Flagfiles and presets: ``--flagfile=FILE`` from any folder, and ``--flagfile=NAME`` for a preset.

A preset is a flagfile of the checkout's top-level ``experiments/`` folder (``experiments/NAME.flags``;
its table specs are ``experiments/tables/NAME.json``). The wheel ships that folder inside the package
(``ser_jax/_experiments``, see setup.py), so an installed ser_jax finds the same files by name.

absl reads a relative ``--flagfile`` path from the working directory only; here a path is tried as
given, then relative to the file that includes it (so presets compose: ``holdout.flags`` starts with
``--flagfile=base.flags``); a bare name (no folder) is then a preset: ``--flagfile=holdout`` or
``--flagfile=holdout.flags`` from any folder. Files are expanded in place, later flags winning, as
absl does.
"""

from __future__ import annotations

import os
from pathlib import Path


def _experiments_dir() -> Path:
    """The wheel's copy inside the package, else the checkout's top-level folder."""
    here = Path(__file__).resolve().parent
    packaged = here / "_experiments"
    return packaged if packaged.is_dir() else here.parent / "experiments"


EXPERIMENTS_DIR = _experiments_dir()
TABLES_DIR = EXPERIMENTS_DIR / "tables"
_FLAGFILE = ("--flagfile=", "-flagfile=")


class FlagfileError(ValueError):
    """A --flagfile that names no file and no preset (one line)."""


def presets() -> list[str]:
    return sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.flags"))


def resolve(name: str, including: Path | None = None) -> Path:
    """The file ``--flagfile=name`` means (see the module docstring for the order)."""
    candidates = [Path(os.path.expanduser(name))]
    if including is not None and not os.path.isabs(name):
        candidates.append(including.parent / name)
    stem = name.removesuffix(".flags")
    bare = "/" not in name and os.sep not in name
    if bare:
        candidates.append(EXPERIMENTS_DIR / f"{stem}.flags")
    for path in candidates:
        if path.is_file():
            return path
    preset = f" and no preset named '{stem}'" if bare else ""
    raise FlagfileError(f"--flagfile={name}: no such file (from {os.getcwd()}){preset}; "
                        f"presets (by name, from any folder): {', '.join(presets())}")


def expand(argv: list[str], including: Path | None = None, _depth: int = 0) -> list[str]:
    """argv with every --flagfile replaced by the flags it holds (recursively)."""
    if _depth > 20:
        raise FlagfileError(f"--flagfile: flagfiles include each other in a loop (at {including})")
    out: list[str] = []
    for arg in argv:
        if not arg.startswith(_FLAGFILE):
            out.append(arg)
            continue
        path = resolve(arg.split("=", 1)[1], including)
        lines = [line.strip() for line in path.read_text().splitlines()]
        flags = [line for line in lines if line and not line.startswith(("#", "//"))]
        out += expand(flags, path, _depth + 1)
    return out
