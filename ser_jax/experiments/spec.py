"""Table specs: the JSON file that names every run of a results table, parsed and checked.

A spec is read once and trusted afterwards, so every problem (an unknown key, a flag the runner
sets itself, a missing flagfile) is a one-line SpecError naming the file and the field, raised
before the first hour of training. The format is documented in ``ser_jax.experiments.command``
(``python -m ser_jax.experiments --help``). Specs shipped with the project live in
``experiments/tables`` and are found by name from any folder.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Any, Sequence

from ser_jax import flagfiles
from ser_jax import report as report_lib

KINDS = ("metrics", "per_emotion")
SPECS_DIR = flagfiles.TABLES_DIR  # experiments/tables of the checkout (shipped in the wheel too)
DEFAULT_SPEC_DIR = str(SPECS_DIR)
# The runner sets these itself; a spec that set them would silently lose them.
RESERVED_FLAGS = ("data_dir", "run_dir", "seed", "resume", "overwrite")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SPEC_KEYS = {"title", "caption", "kind", "base_flags", "rows", "columns", "fixed_flags", "metrics", "seeds"}
_ROW_KEYS = {"name", "label", "flags", "flagfile", "leaky", "corpora", "per_corpus", "per_channel", "ensemble",
             "members"}
_COLUMN_KEYS = {"name", "label", "flags"}
METRIC_TITLES = {"accuracy": "accuracy", "macro_f1": "macro F1", "weighted_f1": "weighted F1", "uar": "UAR",
                 "best_val_accuracy": "validation accuracy"}
# What a table may show: the test metrics, and the validation accuracy of the chosen epoch (what
# choices between rows must be made on).
TABLE_METRICS = (*report_lib.SCALAR_METRICS, "best_val_accuracy")


class SpecError(ValueError):
    """A table spec that cannot be used; the message names the file and the field."""


@dataclasses.dataclass(frozen=True)
class Row:
    name: str
    label: str
    flags: tuple[str, ...] = ()
    leaky: bool = False  # expected to early-stop on its test set (the renderer also reads the runs)
    corpora: tuple[str, ...] = ()  # corpus names (e.g. ravdess, emodb) of --data_dir this row trains on; () = all
    per_corpus: bool = False  # also show each tested corpus alone, as sub-rows (from metrics.json "per_corpus")
    ensemble: bool = False  # also show the seeds' mean test probabilities scored as one model, as a sub-row
    per_channel: bool = False  # also show each tested vocal channel alone (speech, song), as sub-rows
    # An ensemble of earlier rows (e.g. a Whisper head and a from-scratch crnn: other recipes alike):
    # no runs of its own; each seed scores the mean probabilities of the members' runs of that seed.
    members: tuple[str, ...] = ()

    @property
    def trains(self) -> bool:
        """False for an ensemble row, which scores other rows' runs."""
        return not self.members


@dataclasses.dataclass(frozen=True)
class Column:
    name: str
    label: str
    flags: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class TableSpec:
    name: str  # the spec file's stem; names the runs folder
    path: str
    title: str
    caption: str
    kind: str
    rows: tuple[Row, ...]
    columns: tuple[Column, ...]
    metrics: tuple[str, ...]
    seeds: tuple[int, ...]
    base_flags: tuple[str, ...] = ()
    fixed_flags: tuple[str, ...] = ()

    @property
    def num_runs(self) -> int:
        return sum(r.trains for r in self.rows) * len(self.columns) * len(self.seeds)


def _flag_list(where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{where}: expected a list of flag strings like \"--epochs=50\", got {value!r}")
    for v in value:
        if not v.startswith("--"):
            raise SpecError(f"{where}: {v!r} is not a flag; write it as \"--name=value\"")
        name = v[2:].split("=", 1)[0]
        if name in RESERVED_FLAGS or (name.startswith("no") and name[2:] in RESERVED_FLAGS):
            raise SpecError(f"{where}: {v!r}: --{name} is set by the runner (one run directory and seed per "
                            "row, column and seed; --data_dir at run time); remove it from the spec")
    return tuple(value)


def _check_keys(where: str, d: Any, allowed: set[str], required: Sequence[str]) -> None:
    if not isinstance(d, dict):
        raise SpecError(f"{where}: expected an object, got {type(d).__name__}")
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    missing = [k for k in required if k not in d]
    if missing:
        raise SpecError(f"{where}: missing key(s) {missing}")


def _name(where: str, value: Any) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise SpecError(f"{where}: {value!r} is not a usable name (letters, digits, _ . -; it names a folder)")
    return value


def parse_spec(data: Any, path: str | os.PathLike) -> TableSpec:
    """A TableSpec from a spec's parsed JSON; SpecError naming the file and field if it is invalid."""
    p = str(path)
    _check_keys(p, data, _SPEC_KEYS, ("title", "rows", "metrics", "seeds"))
    kind = data.get("kind", "metrics")
    if kind not in KINDS:
        raise SpecError(f"{p}: kind: {kind!r} is not one of {', '.join(KINDS)}")
    for key in ("title", "caption"):
        if not isinstance(data.get(key, ""), str):
            raise SpecError(f"{p}: {key}: expected a string")

    def parse_rows(key: str, cls, keys: set[str]) -> tuple:
        items = data.get(key, [{"name": "all", "label": "all", "flags": []}] if key == "columns" else None)
        if not isinstance(items, list) or not items:
            raise SpecError(f"{p}: {key}: expected a non-empty list")
        out, seen = [], set()
        for i, item in enumerate(items):
            where = f"{p}: {key}[{i}]"
            _check_keys(where, item, keys, ("name",))
            name = _name(f"{where}.name", item["name"])
            if name in seen:
                raise SpecError(f"{where}.name: {name!r} appears twice in {key}")
            seen.add(name)
            label = item.get("label", name)
            if not isinstance(label, str):
                raise SpecError(f"{where}.label: expected a string")
            flags = _flag_list(f"{where}.flags", item.get("flags", []))
            kw = {}
            if "flagfile" in item:
                if not isinstance(item["flagfile"], str) or not item["flagfile"]:
                    raise SpecError(f"{where}.flagfile: expected a path")
                flags = (f"--flagfile={item['flagfile']}", *flags)
            if "leaky" in item:
                if not isinstance(item["leaky"], bool):
                    raise SpecError(f"{where}.leaky: expected true or false")
                kw["leaky"] = item["leaky"]
            if "corpora" in item:
                if (not isinstance(item["corpora"], list) or not item["corpora"]
                        or not all(isinstance(c, str) and c for c in item["corpora"])):
                    raise SpecError(f"{where}.corpora: expected a non-empty list of corpus names, e.g. [\"emodb\"]")
                kw["corpora"] = tuple(item["corpora"])
            if "members" in item:
                members = item["members"]
                if (not isinstance(members, list) or len(members) < 2
                        or not all(isinstance(m, str) and m in seen - {name} for m in members)):
                    raise SpecError(f"{where}.members: expected a list of 2 or more names of earlier rows, got "
                                    f"{members!r}")
                if item.get("flags") or "flagfile" in item:
                    raise SpecError(f"{where}: an ensemble row (members) trains nothing; remove its flags")
                kw["members"] = tuple(members)
            for option in ("per_corpus", "per_channel", "ensemble"):
                if option in item:
                    if not isinstance(item[option], bool):
                        raise SpecError(f"{where}.{option}: expected true or false")
                    kw[option] = item[option]
            out.append(cls(name=name, label=label, flags=flags, **kw))
        return tuple(out)

    rows = parse_rows("rows", Row, _ROW_KEYS)
    columns = parse_rows("columns", Column, _COLUMN_KEYS)
    metrics = data["metrics"]
    if not isinstance(metrics, list) or not metrics or any(m not in TABLE_METRICS for m in metrics):
        raise SpecError(f"{p}: metrics: expected a non-empty list drawn from {list(TABLE_METRICS)}, "
                        f"got {metrics!r}")
    seeds = data["seeds"]
    if (not isinstance(seeds, list) or not seeds or len(set(seeds)) != len(seeds)
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)):
        raise SpecError(f"{p}: seeds: expected a non-empty list of distinct integers >= 0, got {seeds!r}")
    if kind == "per_emotion" and (len(rows) != 1 or len(columns) != 1):
        raise SpecError(f"{p}: kind per_emotion reports one configuration: give exactly one row and one column "
                        f"(got {len(rows)} rows, {len(columns)} columns)")
    return TableSpec(
        name=Path(p).stem, path=p, title=data["title"], caption=data.get("caption", ""), kind=kind, rows=rows,
        columns=columns, metrics=tuple(metrics), seeds=tuple(seeds),
        base_flags=_flag_list(f"{p}: base_flags", data.get("base_flags", [])),
        fixed_flags=_flag_list(f"{p}: fixed_flags", data.get("fixed_flags", [])))


def spec_names() -> list[str]:
    return sorted(p.stem for p in SPECS_DIR.glob("*.json"))


def resolve_spec(path: str | os.PathLike) -> Path:
    """A spec file as given, else (a bare name: ``protocols`` or ``protocols.json``) the spec of that
    name in experiments/tables, from any folder."""
    p = Path(os.path.expanduser(str(path)))
    if p.is_file():
        return p
    bare = "/" not in str(path) and os.sep not in str(path)
    packaged = SPECS_DIR / f"{str(path).removesuffix('.json')}.json"
    if bare and packaged.is_file():
        return packaged
    raise SpecError(f"{path}: no such table spec (from {os.getcwd()})" + (" and no spec of that name" if bare else "")
                    + f"; by name, from any folder: {', '.join(spec_names())}")


def load_spec(path: str | os.PathLike) -> TableSpec:
    """Reads and checks a table spec (JSON): a file, or a spec of experiments/tables by name."""
    p = resolve_spec(path)
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise SpecError(f"{p}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
    return parse_spec(data, p)


def find_specs(directory: str | os.PathLike = DEFAULT_SPEC_DIR) -> list[Path]:
    return sorted(Path(directory).glob("*.json"))


def check_flagfiles(spec: TableSpec) -> None:
    """Every --flagfile the spec names must be a file or a preset (ser_jax.flagfiles), before any run."""
    groups = [("base_flags", spec.base_flags), ("fixed_flags", spec.fixed_flags)]
    groups += [(f"rows[{r.name}]", r.flags) for r in spec.rows]
    groups += [(f"columns[{c.name}]", c.flags) for c in spec.columns]
    for where, flags in groups:
        for f in flags:
            if f.startswith("--flagfile="):
                try:
                    flagfiles.resolve(f.split("=", 1)[1])
                except flagfiles.FlagfileError as e:
                    raise SpecError(f"{spec.path}: {where}: {e}") from None
