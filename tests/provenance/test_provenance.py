"""Content hashes (ser_jax/provenance/__init__.py): an array hashes alike whole, in blocks and written
block by block; a corpus by its file names and bytes wherever it lies; initial parameters by their key.
"""

from __future__ import annotations

import dataclasses
import shutil

import jax
import numpy as np

from ser_jax import optim, provenance, synth
from ser_jax.testing.tiny import TINY_MODEL
from ser_jax.train.steps import create_train_state

from .helpers import _corpus_hash


def test_an_array_hashes_the_same_whole_in_blocks_and_as_written_block_by_block():
    x = np.random.default_rng(0).standard_normal((37, 5, 3)).astype(np.float32)
    whole = provenance.hash_array(x)
    assert provenance.hash_array(x, chunk_bytes=64) == whole  # 1 row a block
    hasher = provenance.ArrayHasher(x.dtype, x.shape)
    for start in range(0, 37, 10):
        hasher.update(x[start:start + 10])
    assert hasher.hexdigest() == whole
    assert provenance.hash_array(x.copy()) == whole
    changed = x.copy()
    changed[20, 4, 2] = np.nextafter(changed[20, 4, 2], np.inf)  # one value, by one ulp
    assert provenance.hash_array(changed) != whole
    assert provenance.hash_array(x.astype(np.float64)) != whole  # dtype and shape count too
    assert provenance.hash_array(x.reshape(37, 15)) != whole
    assert provenance.hash_array(np.asarray(["a", "bc"], object)) != provenance.hash_array(np.asarray(["ab", "c"], object))
    assert provenance.hash_arrays({"a": x, "b": x[:1]}) == provenance.hash_arrays({"b": x[:1], "a": x})


def test_a_corpus_hash_is_its_file_names_and_bytes_wherever_it_lies(tmp_path):
    a = tmp_path / "a"
    synth.synthesize(a, actors=1, seed=0, sample_rate=16000, emotions=[3], channels=["speech"])
    shutil.copytree(a, tmp_path / "b")
    assert _corpus_hash(a) == _corpus_hash(tmp_path / "b")  # another folder (or machine): the same corpus
    files = sorted(p for p in (tmp_path / "b").rglob("*.wav"))
    assert provenance.hash_files(files[::-1], tmp_path / "b") == _corpus_hash(a)  # listing order does not count
    data = bytearray(files[3].read_bytes())
    data[-1] ^= 1  # one bit of one sample
    files[3].write_bytes(bytes(data))
    assert _corpus_hash(tmp_path / "b") != _corpus_hash(a)


def test_initial_parameters_hash_the_same_for_the_same_key_and_not_for_another():
    def init(seed: int):
        state = create_train_state(jax.random.PRNGKey(seed), dataclasses.replace(TINY_MODEL, num_classes=4),
                                   optim.OptimConfig(), 20, 6, total_steps=10)
        return provenance.hash_tree({"params": state.params, "batch_stats": state.batch_stats})

    assert init(0) == init(0)
    assert init(0) != init(1)
