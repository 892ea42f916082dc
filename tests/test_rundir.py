"""The run directory's layout (ser_jax.rundir): its file names spelled in one module only, folds in fold order."""

from __future__ import annotations

import ast
from pathlib import Path

import ser_jax

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
