"""Config fields that describe themselves, so the command line is derived from the dataclasses.

A config dataclass is the one definition of a setting: its name, type, default and validation.
:func:`setting` adds what the command line needs to know and the type cannot say (a one-line
meaning, a flag name kept from an earlier version, the allowed values, a parser for a value that
is not a plain int/float/str/bool/tuple). ``ser_jax.config_flags`` turns every field into a flag;
a plain field with a trailing ``# comment`` needs nothing at all (the comment is its help).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

HELP, FLAG, CHOICES, PARSE, CLI = "help", "flag", "choices", "parse", "cli"


def setting(default: Any = dataclasses.MISSING, help: str = "", *, flag: str | None = None,
            choices: Sequence[str] | Callable[[], Sequence[str]] | None = None,
            parse: Callable[[str], Any] | None = None, cli: bool = True) -> Any:
    """A dataclass field with command-line metadata.

    help: one line for ``--help`` (default: the field's trailing comment).
    flag: the flag's name when it is not the field's (names users already type).
    choices: allowed string values (or a function giving them, for registries filled lazily).
    parse: turns the flag's text into the field's value (e.g. 'full' -> None for a duration).
    cli: False for fields derived by the program (never a flag).
    """
    meta = {HELP: help, FLAG: flag, CHOICES: choices, PARSE: parse, CLI: cli}
    return dataclasses.field(default=default, metadata={k: v for k, v in meta.items() if v is not None})
