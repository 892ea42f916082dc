"""ser_jax: speech and song emotion recognition on RAVDESS-layout corpora, in JAX/Flax."""

import sys as _sys

# `python -m ser_jax.<command>` imports this package while sys.argv[0] is still "-m", before the
# command's module (and JAX) is imported: the one moment to set the process up. Any other import of
# ser_jax (a notebook, pytest, another program) leaves the process as it is; `ser-jax` (main.py)
# does the same setup itself.
if _sys.argv[:1] == ["-m"]:
    from ser_jax import runtime as _runtime

    _runtime.setup_process()
