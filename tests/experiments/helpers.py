"""Shared by the table tests (tests/experiments/, tests/tables/, tests/e2e/): a table spec written to a file."""

from __future__ import annotations

import json
from pathlib import Path


def write_spec(path: Path, **fields) -> Path:
    spec = {"title": "Tiny table", "caption": "A test of the table machinery.", "metrics": ["accuracy", "macro_f1"],
            "seeds": [0, 1], "rows": [{"name": "a", "label": "row a"}], **fields}
    path.write_text(json.dumps(spec))
    return path
