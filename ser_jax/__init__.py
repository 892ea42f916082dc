"""ser_jax: speech and song emotion recognition on RAVDESS-layout corpora, in JAX/Flax.

Importing ser_jax (or any of its modules) changes nothing in the importing process; the commands
(``python -m ser_jax.<command>``, ``ser-jax``) set their own process up (ser_jax.runtime).
"""
