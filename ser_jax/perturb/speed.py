"""speed: the clip played ``factor`` times faster, tempo and pitch together (Kaldi's speed perturbation).

Applied where every clip is resampled anyway: ``ser_jax.audio.load_audio(..., speed=factor)`` reads the
file as if recorded at factor x its native rate, so a speed copy costs no extra step (and has no
``apply`` here).
"""

from __future__ import annotations

from ser_jax.perturb import _factor

FIELD = "speed"  # the FeatureConfig field a copy sets (part of the cache key: a copy is a cache of its own)
UNCHANGED = 1.0
RANGE = (0.5, 2.0)
ORDER = 0  # applied first: while loading
EXAMPLE = "speed:0.9"
HELP = "the clip played that many times faster (tempo and pitch, Kaldi-style)"

parse = _factor.parser(RANGE)
check = _factor.checker(FIELD, RANGE)
spell = _factor.spell
tag = _factor.tagger("speed")
