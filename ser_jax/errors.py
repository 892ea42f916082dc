"""Errors that several layers raise and the command-line edge turns into one line.

``CacheError`` lives here rather than in ser_jax.cache so that what sits below the cache (a
FeatureSet joining several corpora' caches) can raise it without importing the cache package that
imports it: no package needs a package that needs it.
"""


class CacheError(RuntimeError):
    """A cache that cannot be used as it is; the message says what is wrong and what to do."""
