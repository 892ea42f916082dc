"""Flagfiles and presets: ``--flagfile=FILE`` from any folder, and ``--flagfile=NAME`` for a preset.

A preset is a flagfile shipped inside the package (``ser_jax/presets/NAME.flags``), so an installed
ser_jax has them too. absl reads a relative ``--flagfile`` path from the working directory only;
here a path is tried as given, then relative to the file that includes it (so presets compose:
``holdout.flags`` starts with ``--flagfile=base.flags``), then as a preset name: its file name
without folder and ``.flags`` (so the README's ``--flagfile=experiments/holdout.flags`` works from
any folder). Files are expanded in place, later flags winning, as absl does.
"""

from __future__ import annotations

import os
from pathlib import Path

PRESETS_DIR = Path(__file__).parent / "presets"
_FLAGFILE = ("--flagfile=", "-flagfile=")


class FlagfileError(ValueError):
    """A --flagfile that names no file and no preset (one line)."""


def presets() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.flags"))


def resolve(name: str, including: Path | None = None) -> Path:
    """The file ``--flagfile=name`` means (see the module docstring for the order)."""
    candidates = [Path(os.path.expanduser(name))]
    if including is not None and not os.path.isabs(name):
        candidates.append(including.parent / name)
    stem = Path(name).name.removesuffix(".flags")
    candidates.append(PRESETS_DIR / f"{stem}.flags")
    for path in candidates:
        if path.is_file():
            return path
    raise FlagfileError(f"--flagfile={name}: no such file (from {os.getcwd()}) and no preset named '{stem}'; "
                        f"presets: {', '.join(presets())}")


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
