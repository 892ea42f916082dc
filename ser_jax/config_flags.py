"""absl flags derived from config dataclasses: one generic binder, so a new field needs no CLI code.

Every field of a bound dataclass becomes a flag named like the field (or as its
:func:`ser_jax.fields.setting` says), typed by its annotation: bool, int, float and str fields are
flags of that type (str with choices: an enum), tuples are comma-separated lists, ``X | None``
accepts nothing for None. Nested config dataclasses are bound on their own; fields marked
``cli=False`` are derived by the program. Values go back through the dataclass itself, so its
validation runs, and its errors name the flag the user typed (``--val_speaker_ids``), not the field
(``SplitConfig.val_speaker_ids``).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
import types
import typing
from typing import Any

from absl import flags

from ser_jax.fields import CHOICES, CLI, FLAG, HELP, PARSE


class UsageError(ValueError):
    """A bad flag value; printed as one line naming the flag."""


# (id(flag values), dataclass, prefix) -> {field: flag name}, in definition order.
_BOUND: dict[tuple[int, type, str], dict[str, str]] = {}
_SIMPLE = (bool, int, float, str)


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp):
        rest = [a for a in typing.get_args(tp) if a is not type(None)]
        return (rest[0] if len(rest) == 1 else Any), True
    return tp, False


@functools.cache
def _comments(cls: type) -> dict[str, str]:
    """Trailing ``# comments`` of the class's field lines: the help of fields without one."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    found = re.findall(r"^\s+(\w+)\s*:[^#\n]*#\s*(.+?)\s*$", source, flags=re.M)
    return {name: text for name, text in found}


def bindable(cls: type) -> list[dataclasses.Field]:
    """The fields of ``cls`` that are flags: not derived (cli=False), not nested configs, not Any."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        tp, _ = _unwrap_optional(hints[f.name])
        if not f.metadata.get(CLI, True) or dataclasses.is_dataclass(tp) or tp is Any:
            continue
        out.append(f)
    return out


def help_of(cls: type, f: dataclasses.Field) -> str:
    return f.metadata.get(HELP) or _comments(cls).get(f.name, "")


def flag_name(f: dataclasses.Field, prefix: str = "") -> str:
    return f.metadata.get(FLAG) or prefix + f.name


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def define(cls: type, *, prefix: str = "", only: typing.Iterable[str] | None = None,
           skip: typing.Iterable[str] = (), flag_values: flags.FlagValues = flags.FLAGS) -> list[str]:
    """Define a flag for each bindable field of ``cls`` (those in ``only``, not in ``skip``).

    Returns the flag names. ``prefix`` names the flags of a config that shares field names with
    another (``tcn.filters``); defaults are the dataclass's.
    """
    hints = typing.get_type_hints(cls)
    only = None if only is None else set(only)
    bound = _BOUND.setdefault((id(flag_values), cls, prefix), {})
    names = []
    for f in bindable(cls):
        if (only is not None and f.name not in only) or f.name in skip or f.name in bound:
            continue
        name = flag_name(f, prefix)
        default = None if f.default is dataclasses.MISSING else f.default
        tp, _ = _unwrap_optional(hints[f.name])
        text = help_of(cls, f) or f"{cls.__qualname__}.{f.name}"
        kw = {"flag_values": flag_values}
        if PARSE in f.metadata:
            flags.DEFINE_string(name, _text(default), text, **kw)
        elif tp is bool:
            flags.DEFINE_boolean(name, default, text, **kw)
        elif tp is int:
            flags.DEFINE_integer(name, default, text, **kw)
        elif tp is float:
            flags.DEFINE_float(name, default, text, **kw)
        elif tp is str and CHOICES in f.metadata:
            choices = f.metadata[CHOICES]
            flags.DEFINE_enum(name, default, list(choices() if callable(choices) else choices), text, **kw)
        elif tp is str:
            flags.DEFINE_string(name, default, text, **kw)
        elif typing.get_origin(tp) is tuple:
            flags.DEFINE_list(name, [str(v) for v in default or ()], text, **kw)
        else:
            raise TypeError(f"{cls.__qualname__}.{f.name}: type {tp} has no flag; give it a parse= in its setting() "
                            "or mark it cli=False")
        bound[f.name] = name
        names.append(name)
    return names


def flag_names(cls: type, prefix: str = "", flag_values: flags.FlagValues = flags.FLAGS) -> dict[str, str]:
    """{field: flag name} of the fields of ``cls`` bound so far."""
    return dict(_BOUND.get((id(flag_values), cls, prefix), {}))


def values(cls: type, prefix: str = "", flag_values: flags.FlagValues = flags.FLAGS) -> dict[str, Any]:
    """The field values the bound flags of ``cls`` give, parsed by type; not yet validated by ``cls``."""
    hints = typing.get_type_hints(cls)
    by_name = {f.name: f for f in dataclasses.fields(cls)}
    out: dict[str, Any] = {}
    for field, name in flag_names(cls, prefix, flag_values).items():
        f, raw = by_name[field], flag_values[name].value
        tp, _ = _unwrap_optional(hints[field])
        if PARSE in f.metadata:
            try:
                out[field] = f.metadata[PARSE](raw)
            except ValueError as e:
                msg = str(e)
                raise UsageError(msg if msg.startswith("--") else f"--{name}={raw}: {msg}") from None
        elif typing.get_origin(tp) is tuple:
            args = typing.get_args(tp)
            inner = args[0] if args and args[0] in _SIMPLE else str
            try:
                out[field] = tuple(inner(v.strip()) for v in raw if str(v).strip())
            except ValueError:
                raise UsageError(f"--{name}={','.join(raw)}: expected comma-separated {inner.__name__} "
                                 "values") from None
        else:
            out[field] = raw
    return out


def build(cls: type, prefix: str = "", flag_values: flags.FlagValues = flags.FLAGS, **given: Any) -> Any:
    """``cls`` from its bound flags (and ``given`` fields); its validation errors name the flags."""
    try:
        return cls(**{**values(cls, prefix, flag_values), **given})
    except UsageError:
        raise
    except (ValueError, TypeError) as e:
        raise UsageError(flagify(str(e), cls, prefix, flag_values)) from None


def flagify(message: str, cls: type, prefix: str = "", flag_values: flags.FlagValues = flags.FLAGS) -> str:
    """``SplitConfig.val_speaker_ids`` / ``crnn.conv_kernels`` in a message -> the flag as typed."""
    names = flag_names(cls, prefix, flag_values)
    owners = {cls.__name__, cls.__module__.rsplit(".", 1)[-1]}

    def swap(m: re.Match) -> str:
        owner, field = m.group(1), m.group(2)
        return f"--{names[field]}" if owner in owners and field in names else m.group(0)

    out = re.sub(r"\b(\w+)\.(\w+)\b", swap, message)
    return out if out.startswith("--") else f"bad flag value: {out}"


def changed(cls: type, prefix: str = "", flag_values: flags.FlagValues = flags.FLAGS) -> list[str]:
    """Flags of ``cls`` whose value differs from the field's default (set to the default = not changed)."""
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    names = flag_names(cls, prefix, flag_values)
    return [names[k] for k, v in values(cls, prefix, flag_values).items() if v != defaults[k]]
