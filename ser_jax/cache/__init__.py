"""The HDF5 feature cache: computed once, incrementally, safely; read in well under a second.

One file per (corpus, feature config): ``<cache_dir>/<corpus>-<recipe>-<config key>.h5``. The key
hashes the config and the library versions, so a cache made any other way is never read for this
config. Several corpora in one experiment keep one cache each (``featureset.concat`` joins them in
memory), so adding a corpus never recomputes another. Besides the features, a cache holds the metadata
columns its corpus reader gives (``corpus``, ``speaker``, ``emotion``, ``gender`` and the reader's
own), so nothing downstream needs to know the corpus' naming scheme.

Safety rests on three rules:
- the final file is only ever produced by writing a temporary file and ``os.replace``-ing it, and its
  ``complete`` attribute is written last, so a reader never sees a half-written cache;
- every finished utterance is first journalled as its own small file (also atomically renamed), so
  a run killed at any moment (SIGINT or SIGKILL) resumes where it stopped;
- a lock file (``flock``, released by the kernel even on SIGKILL) keeps two writers apart.
Every byte is checksummed: the features per chunk (HDF5 Fletcher-32), every other dataset by a
SHA-256 digest stored with the file; loading verifies both, and that the features are finite and the
lengths and layout consistent, so a damaged cache fails loudly (and a run reports it and rebuilds it)
instead of reading wrong.

The modules, by what they do:
- ``format``: a cache file: its name and key, HDF5 layout, checksums; ``load``, ``damage``, writing;
- ``journal``: the writer's lock and the per-utterance journal an interrupted build resumes from;
- ``build``: ``build`` (bring a cache up to date, computing in feature workers) and ``ensure`` (the
  FeatureSet of a corpus, building its cache first when needed: what training calls);
- ``shards``: one cache computed by N jobs (``build_shard``) and written by one (``merge_shards``).
"""

from __future__ import annotations

from ser_jax.errors import CacheError  # defined below the cache, for the FeatureSets it is read into




class CacheLockedError(CacheError):
    pass
