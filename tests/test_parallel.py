"""Data parallelism (ser_jax.parallel): one process with 2 and 4 CPU devices trains as one device; the
device mesh and its errors. Two processes training as one: tests/e2e/test_parallel_training.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ser_jax import parallel

# One process with 4 host-platform CPU devices trains the same tiny run on 1, 2 and 4 of them.
_RUNS = """
import json, sys
import jax
from ser_jax import optim, splits
from ser_jax.testing.tiny import TINY_FEATURES, TINY_MODEL
from ser_jax import config as config_lib
from ser_jax.train import loop as train_lib
out = {{"devices": jax.local_device_count()}}
for n in (1, 2, 4):
    cfg = config_lib.ExperimentConfig(
        data_dir={corpus!r}, cache_dir={cache!r}, features=TINY_FEATURES, split=splits.SplitConfig(protocol="holdout"),
        model_config=TINY_MODEL, optim=optim.OptimConfig(learning_rate=3e-3), devices=n, workers=1,
        train=config_lib.TrainConfig(epochs=1, patience=0, batch_size=16))
    m = train_lib.train_and_evaluate(cfg, f"{{sys.argv[1]}}/run_{{n}}", progress=False).metrics
    out[n] = {{"history": m["history"], "accuracy": m["accuracy"], "probs": m["test_predictions"]["probabilities"]}}
try:
    cfg = config_lib.ExperimentConfig(data_dir={corpus!r}, cache_dir={cache!r}, features=TINY_FEATURES,
                                      model_config=TINY_MODEL, devices=4, train=config_lib.TrainConfig(batch_size=10))
    train_lib.train_and_evaluate(cfg, f"{{sys.argv[1]}}/bad", progress=False)
except ValueError as e:
    out["bad_batch"] = str(e)
print(json.dumps(out))
"""


TOLERANCE = 1e-5  # on losses and probabilities; measured differences are about 2e-7


@pytest.mark.slow
def test_two_and_four_devices_train_as_one_device(tiny_corpus, tiny_cache_dir, tmp_path):
    script = _RUNS.format(corpus=str(tiny_corpus), cache=str(tiny_cache_dir))
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["devices"] == 4
    one = result["1"]
    for n in ("2", "4"):
        many = result[n]
        assert many["accuracy"] == one["accuracy"]
        for a, b in zip(one["history"], many["history"], strict=True):
            for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
                assert abs(a[key] - b[key]) <= TOLERANCE, (n, a["epoch"], key, a[key], b[key])
        flat = [abs(p - q) for r, s in zip(one["probs"], many["probs"]) for p, q in zip(r, s)]
        assert max(flat) <= TOLERANCE
    assert result["bad_batch"].startswith("--batch_size=10 does not divide into the 4 devices")


def test_one_device_has_no_mesh_and_too_many_devices_is_a_one_line_error():
    assert parallel.make_mesh(1) is None
    with pytest.raises(ValueError, match=r"^--devices=99: only \d+ local device\(s\) visible"):
        parallel.make_mesh(99)
    parallel.check_batch_size(7, None)  # one device: any batch size
