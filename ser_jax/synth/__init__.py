"""A synthetic emotional speech and song corpus in the RAVDESS layout and naming.

Tests, demos and CI need audio whose emotion is really carried by the signal, yet must not depend
on the (licensed, large) RAVDESS corpus. ``synthesize(out_dir, actors=..., seed=...)`` writes one;
this package's public face is that call and what it is made of:

- ``design``: which files the corpus holds (``plan``, ``FileSpec``) and what they share (``SynthConfig``);
- ``prosody``: how each emotion and each actor sounds;
- ``voice``: the source-filter voice that renders one file (``render``);
- ``corpus``: the writer (``synthesize``);
- ``command``: ``python -m ser_jax.synth --out DIR [--actors 8 --seed 0 ...]``.
"""

from ser_jax.synth.corpus import synthesize
from ser_jax.synth.design import CHANNEL_FOLDERS, MAX_SECONDS, MIN_SECONDS, BadArgument, FileSpec, SynthConfig, plan
from ser_jax.synth.voice import render

__all__ = ["CHANNEL_FOLDERS", "MAX_SECONDS", "MIN_SECONDS", "BadArgument", "FileSpec", "SynthConfig", "plan", "render",
           "synthesize"]
