"""Two runs compared stage by stage: where did they part?

Reads each run's config.json (its ``provenance``: stage hashes, code, host), its epoch logs
(metrics.jsonl) and test predictions (metrics.json), and says of each stage, in pipeline order,
whether it is the same: corpus, features, init_params, training (the first epoch whose logged numbers
differ), test_predictions. Settings, code, library versions and host are printed first, as context.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from ser_jax import rundir

# Settings that may differ between two runs of the same experiment: where things are, how many
# processes build features, whether batches stream (the corpus and features stages compare contents).
_PLACES = ("data_dir", *rundir.RESUMABLE_CHANGES)


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of the comparison: a stage (or context) and whether the two runs agree on it."""

    name: str
    same: bool | None  # None: not recorded in one of the runs (or neither)
    detail: str
    stage: bool = True  # False for context (settings, code, versions, host)

    def line(self) -> str:
        verdict = {True: "same", False: "DIFFERS", None: "unknown"}[self.same]
        return f"{self.name:<17} {verdict:<8} {self.detail}".rstrip()


def _config(run: Path) -> dict:
    path = run / rundir.CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"{run} is not a run directory (no {rundir.CONFIG})")
    return json.loads(path.read_text())


def _split_dirs(run: Path) -> dict[str, Path]:
    folds = rundir.fold_dirs(run)
    return {d.name: d for d in folds} if folds else {"run": run}


def _history(split_dir: Path) -> list[dict]:
    path = split_dir / rundir.HISTORY
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}.{k}" if prefix else k))
    return out


def _diffs(a: dict, b: dict, limit: int = 3) -> str:
    fa, fb = _flat(a), _flat(b)
    keys = [k for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]
    text = "; ".join(f"{k}: {fa.get(k)!r} vs {fb.get(k)!r}" for k in keys[:limit])
    return text + ("; ..." if len(keys) > limit else "")


def context(ca: dict, cb: dict) -> list[Row]:
    """Settings, code, library versions and host of the two runs (not stages: what may explain one)."""
    skip = {rundir.PROVENANCE_KEY, rundir.DEVICES_KEY, *_PLACES}
    sa = {k: v for k, v in ca.items() if k not in skip}
    sb = {k: v for k, v in cb.items() if k not in skip}
    pa, pb = ca.get(rundir.PROVENANCE_KEY, {}), cb.get(rundir.PROVENANCE_KEY, {})
    rows = [Row("settings", sa == sb, _diffs(sa, sb), stage=False)]
    ga, gb = pa.get("git_commit", ""), pb.get("git_commit", "")
    rows.append(Row("code", ga == gb if ga and gb else None, f"{ga[:12] or '?'} vs {gb[:12] or '?'}"
                    if ga != gb else ga[:12], stage=False))
    for key in ("versions", "host"):
        va, vb = pa.get(key), pb.get(key)
        if va is None or vb is None:
            rows.append(Row(key, None, "not recorded in " + ("A" if va is None else "B"), stage=False))
        else:
            rows.append(Row(key, va == vb, _diffs(va, vb) if va != vb else _host_text(va) if key == "host" else "",
                            stage=False))
    return rows


def _host_text(h: dict) -> str:
    return f"{h.get('cpu', '?')}, {h.get('cores', '?')} cores, {h.get('isa', '?')}"


def _entries(name: str, a: dict | None, b: dict | None) -> Row:
    """A hashed stage: per key (corpus, cache, split) the same digest or not (and which parts differ)."""
    if a is None or b is None:
        return Row(name, None, "not recorded in " + ("A" if a is None else "B") + (" nor B" if a is b else ""))
    notes, same = [], True
    for key in sorted(set(a) | set(b)):
        ea, eb = a.get(key), b.get(key)
        if ea is None or eb is None:
            same = False
            notes.append(f"{key}: only in {'B' if ea is None else 'A'}")
            continue
        da, db = (ea.get("sha256"), eb.get("sha256")) if isinstance(ea, dict) else (ea, eb)
        size = f" ({ea['files']} files)" if isinstance(ea, dict) and "files" in ea else (
            f" ({ea['rows']} rows)" if isinstance(ea, dict) and "rows" in ea else "")
        if da == db:
            notes.append(f"{key}{size}")
            continue
        same = False
        parts = [k for k in ea if k not in ("sha256", "rows", "files") and ea.get(k) != eb.get(k)] \
            if isinstance(ea, dict) and isinstance(eb, dict) else []
        notes.append(f"{key}: " + (f"{', '.join(parts)} differ" if parts else "differs")
                     + (f" ({ea.get('files')} vs {eb.get('files')} files)" if isinstance(ea, dict)
                        and ea.get("files") != eb.get("files") else ""))
    return Row(name, same, "; ".join(notes))


def _training(a: Path, b: Path) -> Row:
    """The epoch logs, split by split: the first epoch whose logged numbers differ."""
    da, db = _split_dirs(a), _split_dirs(b)
    notes, same = [], True
    for key in sorted(set(da) | set(db)):
        if key not in da or key not in db:
            same = False
            notes.append(f"{key}: only in {'A' if key in da else 'B'}")
            continue
        ha, hb = _history(da[key]), _history(db[key])
        first = next((i for i, (ra, rb) in enumerate(zip(ha, hb)) if ra != rb), None)
        if first is not None:
            same = False
            ra, rb = ha[first], hb[first]
            field = next(k for k in ra if ra.get(k) != rb.get(k))
            notes.append(f"{key}: epoch {ra.get('epoch', first + 1)}: {field} {ra.get(field)!r} vs {rb.get(field)!r}")
        elif len(ha) != len(hb):
            same = False
            notes.append(f"{key}: the same {min(len(ha), len(hb))} epochs, then A ran {len(ha)}, B {len(hb)}")
        else:
            notes.append(f"{key}: {len(ha)} epochs")
    return Row("training", same, "; ".join(notes))


def _predictions(a: Path, b: Path, hashes: Row) -> Row:
    """The test predictions: their hashes, and how many clips changed class (from metrics.json)."""
    da, db = _split_dirs(a), _split_dirs(b)
    notes = []
    for key in sorted(set(da) & set(db)):
        try:
            ma, mb = rundir.read_metrics(da[key]), rundir.read_metrics(db[key])
        except (OSError, ValueError):
            continue
        pa, pb = ma.get("test_predictions", {}), mb.get("test_predictions", {})
        if pa.get("paths") != pb.get("paths"):
            notes.append(f"{key}: other test clips")
            continue
        changed = sum(x != y for x, y in zip(pa.get("y_pred", []), pb.get("y_pred", [])))
        notes.append(f"{key}: {changed} of {len(pa.get('y_pred', []))} test clips predicted differently, "
                     f"accuracy {100 * ma.get('accuracy', 0):.2f}% vs {100 * mb.get('accuracy', 0):.2f}%")
    return dataclasses.replace(hashes, detail="; ".join(notes) or hashes.detail)


def compare(a: str | Path, b: str | Path) -> list[Row]:
    """The comparison of runs A and B: context rows, then one row per stage in pipeline order."""
    a, b = Path(a), Path(b)
    ca, cb = _config(a), _config(b)
    sa = ca.get(rundir.PROVENANCE_KEY, {}).get(rundir.STAGES_KEY, {})
    sb = cb.get(rundir.PROVENANCE_KEY, {}).get(rundir.STAGES_KEY, {})
    rows = context(ca, cb)
    rows += [_entries(stage, sa.get(stage), sb.get(stage)) for stage in ("corpus", "features", "init_params")]
    rows.append(_training(a, b))
    hashes = _entries("test_predictions", sa.get("test_predictions"), sb.get("test_predictions"))
    rows.append(_predictions(a, b, hashes))
    return rows


def first_difference(rows: list[Row]) -> Row | None:
    """The first stage (not context) that differs, None when every recorded stage agrees."""
    return next((r for r in rows if r.stage and r.same is False), None)


def main(argv: list[str]) -> int:
    """``python -m ser_jax.provenance RUN_A RUN_B``: 0 when no stage differs, 1 when one does, 2 on bad use."""
    if len(argv) != 2 or any(a.startswith("-") for a in argv):
        asked = bool(argv) and argv[0] in ("-h", "--help", "--helpfull")
        print(f"usage: python -m ser_jax.provenance RUN_A RUN_B  (no --flags)\n{__doc__}")
        return 0 if asked else 2
    try:
        rows = compare(*argv)
    except (OSError, ValueError) as e:
        print(f"error: {e}")
        return 2
    print(f"A: {argv[0]}\nB: {argv[1]}")
    for row in rows:
        print(row.line())
    first = first_difference(rows)
    print(f"first stage that differs: {first.name}" if first else "no recorded stage differs")
    return 1 if first else 0
