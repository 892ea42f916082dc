"""Shared by the provenance tests (tests/provenance/): a corpus folder's content hash."""

from __future__ import annotations

from pathlib import Path

from ser_jax import corpora, provenance


def _corpus_hash(root: Path) -> str:
    corpus = corpora.read(root)
    return provenance.hash_files([r.path for r in corpus.records], corpus.root)
