"""Table experiments: the runs of a results table, named by a spec and trained resumably.

- ``spec``: the JSON table spec (rows, columns, seeds, flags), parsed, checked and found by name.
- ``runs``: where each (row, column, seed) run lives, its state, and the command that (re)starts it.
- ``runner``: trains the unfinished runs of a table, one subprocess each, recording failures.
- ``command``: ``python -m ser_jax.experiments run|list`` (its --help documents the spec format).

``ser_jax.tables`` renders the finished runs.
"""
