"""Shared by the corpus reader tests (tests/corpora/) and the corpus command's (tests/e2e/)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def bad_name(module, path: str, field: str, root: str | None = None) -> str:
    """The ValueError message module.parse gives for path, checked to name the file and the field."""
    with pytest.raises(ValueError) as e:
        module.parse(path, root)
    msg = str(e.value)
    assert msg.startswith(f"{path}: "), msg
    assert field in msg, msg
    assert "\n" not in msg
    return msg


def _write(path: Path, channels: int = 1, sr: int = 8000, fmt: str = "WAV") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    y = np.zeros((800, channels) if channels > 1 else 800, np.float32)
    sf.write(path, y, sr, format=fmt)
    return path
