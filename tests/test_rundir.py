"""The run directory's layout (ser_jax.rundir): its file names spelled in one module only, folds in fold order,
a fold's stage hashes recorded at the run's top.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import ser_jax
from ser_jax import rundir

PACKAGE = Path(ser_jax.__file__).parent


def test_the_run_directory_layout_is_named_in_one_module_only():
    from ser_jax import rundir

    names = {rundir.CONFIG, rundir.METRICS, rundir.HISTORY, rundir.REPORT, rundir.CHECKPOINTS, rundir.CONFUSION,
             rundir.CONFUSION_NORMALIZED, rundir.CURVES}
    for path in PACKAGE.rglob("*.py"):
        if path.name == "rundir.py":
            continue
        literals = {n.value for n in ast.walk(ast.parse(path.read_text()))
                    if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        assert not literals & names, f"{path} spells {literals & names}; use ser_jax.rundir"


def test_fold_directories_come_in_fold_order(tmp_path):
    from ser_jax import rundir

    for k in (10, 2, 0):
        rundir.fold_dir(tmp_path, k).mkdir()
    (tmp_path / "fold_notes").mkdir()
    assert [p.name for p in rundir.fold_dirs(tmp_path)] == ["fold_0", "fold_2", "fold_10"]


def test_stage_hashes_of_a_fold_go_to_the_run_at_the_top(tmp_path):
    rundir.write_json(tmp_path / rundir.CONFIG, {"seed": 0, rundir.PROVENANCE_KEY: {"git_commit": "x"}})
    fold = rundir.fold_dir(tmp_path, 2)
    fold.mkdir()
    assert rundir.run_root(fold) == tmp_path and rundir.run_root(tmp_path) == tmp_path
    rundir.add_stages(tmp_path, {"init_params": {"fold_2": "abc"}})
    rundir.add_stages(tmp_path, {"init_params": {"fold_2": "other", "fold_3": "def"}})  # the first one stays
    saved = json.loads((tmp_path / rundir.CONFIG).read_text())
    assert saved[rundir.PROVENANCE_KEY] == {"git_commit": "x", "stages": {"init_params": {"fold_2": "abc",
                                                                                         "fold_3": "def"}}}
