"""The metadata the split tests run on: full RAVDESS, ravdess-dev, and ravdess-dev beside an EmoDB-like corpus."""

from __future__ import annotations

import pytest

from .helpers import concat, corpus_metadata, ravdess_metadata


@pytest.fixture(scope="module")
def full():
    return ravdess_metadata()


@pytest.fixture(scope="module")
def dev():
    """The shape of ravdess-dev: actors 1-20."""
    return ravdess_metadata(actors=range(1, 21))


@pytest.fixture(scope="module")
def two_corpora(dev):
    """ravdess-dev (8 emotions, speech and song) + an EmoDB-like corpus (10 speakers, has boredom)."""
    return concat(dev, corpus_metadata("emodb"))
