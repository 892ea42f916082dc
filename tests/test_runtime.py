"""Process setup (ser_jax.runtime): the compilation cache flag. A command's setup before JAX loads:
tests/e2e/test_cli.py.
"""

from __future__ import annotations

import os


def test_the_compilation_cache_flag(tmp_path):
    from ser_jax import runtime

    assert runtime.compilation_cache_dir("", tmp_path / "xla") == str(tmp_path / "xla")
    assert runtime.compilation_cache_dir("off", tmp_path / "xla") is None
    assert runtime.compilation_cache_dir("~/x", "unused") == os.path.expanduser("~/x")
