"""The synthetic corpus's design (ser_jax.synth.design): RAVDESS's files, per actor and channel."""

from __future__ import annotations

import collections

from ser_jax import synth


def test_plan_follows_the_ravdess_design():
    specs = synth.plan(actors=8)
    per = collections.Counter((s.channel, s.actor) for s in specs)
    assert sum(v for (c, _), v in per.items() if c == "speech") == 480
    assert sum(v for (c, _), v in per.items() if c == "song") == 352
    assert {v for (c, _), v in per.items() if c == "speech"} == {60}
    assert {v for (c, _), v in per.items() if c == "song"} == {44}
    assert not [s for s in specs if s.emotion_code == 1 and s.intensity == 2]
    assert len({s.name for s in specs}) == len(specs)
