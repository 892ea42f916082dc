"""Table specs (ser_jax.experiments.spec): found by name from any folder, the shipped ones load, bad ones are
one-line errors.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ser_jax.experiments.spec import SpecError, check_flagfiles, find_specs, load_spec
from ser_jax.features import ALL_GROUPS

from .helpers import write_spec

ROOT = Path(__file__).resolve().parents[2]


def test_specs_live_in_experiments_tables_and_load_by_name_from_any_folder(monkeypatch, tmp_path):
    by_path = load_spec("experiments/tables/protocols.json")  # from the checkout
    monkeypatch.chdir(tmp_path)
    by_name = load_spec("protocols")
    assert load_spec("protocols.json") == by_name
    assert Path(by_name.path) == ROOT / "experiments" / "tables" / "protocols.json" and by_path.rows == by_name.rows
    with pytest.raises(SpecError, match=r"no spec of that name; by name, from any folder: corpora, "):
        load_spec("nonesuch")
    with pytest.raises(SpecError, match=r"experiments/tables/protocols.json: no such table spec"):
        load_spec("experiments/tables/protocols.json")  # a path is a path: no lookup by its name


def test_the_four_ravdess_specs_load_and_name_existing_flagfiles(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # flagfiles are presets: found from any folder
    specs = {p.stem: load_spec(p) for p in find_specs()}
    assert {"protocols", "features", "model", "per_emotion"} <= set(specs)
    for spec in specs.values():
        check_flagfiles(spec)
        assert len(spec.seeds) >= 3 and spec.caption
    assert [c.name for c in specs["protocols"].columns] == ["speech", "song", "both"]
    assert len(specs["protocols"].rows) == 3 and set(specs["protocols"].metrics) == {"accuracy", "macro_f1", "uar"}
    assert len(specs["features"].rows) == 13  # all, 9 leave-one-out, MFCC only, fast recipe, full length
    assert specs["per_emotion"].kind == "per_emotion"
    # Each feature group is left out by exactly one row.
    dropped = []
    for row in specs["features"].rows:
        groups = [f.split("=", 1)[1].split(",") for f in row.flags if f.startswith("--feature_groups=")]
        if groups and len(groups[0]) == 8:
            dropped += sorted(set(ALL_GROUPS) - set(groups[0]))
    assert sorted(dropped) == sorted(ALL_GROUPS)


@pytest.mark.parametrize("change,message", [
    ({"rows": [{"name": "a", "flags": ["--seed=3"]}]}, r"rows\[0\]\.flags: '--seed=3': --seed is set by the runner"),
    ({"rows": [{"name": "a b"}]}, r"rows\[0\]\.name: 'a b' is not a usable name"),
    ({"rows": [{"name": "a"}, {"name": "a"}]}, r"rows\[1\]\.name: 'a' appears twice"),
    ({"rows": [{"name": "a", "flag": []}]}, r"rows\[0\]: unknown key\(s\) \['flag'\]"),
    ({"rows": [{"name": "a", "flags": ["epochs=3"]}]}, r"'epochs=3' is not a flag"),
    ({"metrics": ["acc"]}, r"metrics: expected a non-empty list drawn from"),
    ({"seeds": [0, 0]}, r"seeds: expected a non-empty list of distinct integers"),
    ({"kind": "per_emotion", "rows": [{"name": "a"}, {"name": "b"}]}, r"exactly one row and one column"),
])
def test_bad_specs_are_one_line_errors_naming_file_and_field(tmp_path, change, message):
    path = write_spec(tmp_path / "bad.json", **change)
    with pytest.raises(SpecError, match=message) as e:
        load_spec(path)
    assert str(e.value).startswith(str(path)) and "\n" not in str(e.value)
