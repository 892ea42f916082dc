"""Results tables: a table spec's finished runs rendered as Markdown and LaTeX.

- ``results``: the finished runs of a spec, grouped into cells (and ensemble / per-corpus sub-rows).
- ``captions``: what every table says besides its numbers, and escaping for both formats.
- ``render``: metric tables (mean ± std over seeds, best in bold, LEAKY rows daggered); ``render``.
- ``per_emotion``: the per-emotion report of one configuration and its confusion-matrix PNG.
- ``command``: ``python -m ser_jax.tables SPEC [--format=markdown|latex|both]``.

The runs come from ``ser_jax.experiments``.
"""
