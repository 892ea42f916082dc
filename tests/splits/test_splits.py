"""The splits package (ser_jax/splits/__init__.py): what it re-exports."""

from __future__ import annotations


def test_standardizer_is_reachable_from_splits():
    from ser_jax import normalize, splits

    assert splits.fit_standardizer is normalize.fit_standardizer and splits.standardize is normalize.standardize
