"""Output formats of predictions (ser_jax.predict.formats)."""

from __future__ import annotations

from ser_jax import predict
from ser_jax.predict import formats


def test_table_output_is_aligned_with_one_column_per_class():
    names = ["angry", "calm"]
    preds = [predict.Prediction("a.wav", "calm", {"angry": 0.25, "calm": 0.75}, 1.0),
             predict.Prediction("long/name.flac", "angry", {"angry": 0.9, "calm": 0.1}, 3.25)]
    lines = formats.format_table(preds, names).splitlines()
    assert lines[0].split() == ["file", "emotion", "angry", "calm", "seconds"]
    assert lines[1].split() == ["a.wav", "calm", "0.250", "0.750", "1.00"]
    assert lines[0].index("emotion") == lines[1].index("calm") == lines[2].index("angry")
    assert len({len(line) for line in lines}) == 1
