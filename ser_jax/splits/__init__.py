"""Which rows train, validate and test: pure functions over metadata columns. Import splits from here.

The protocols, from the most optimistic to the most honest:

- ``seed_leaky``: the original notebook's split, exactly (stratified 80/20 on emotion x
  channel, random_state 42). It had no validation set, so validation IS the test set and
  early stopping peeks at it; every report of such a run is flagged LEAKY.
- ``holdout``: the same test rows as ``seed_leaky``, with validation carved out of the
  training part, so the test set is touched once. Speakers still overlap across parts.
- ``speaker_kfold`` (alias ``actor_kfold``): k-fold over speakers (no speaker in two parts);
  with several corpora each fold holds out speakers of every corpus.
- ``speakers`` (alias ``actors``): explicit train / validation / test speaker lists.
- ``loso``: leave one speaker out; each speaker is the test set of one fold.
- ``emobox``: EmoBox's six RAVDESS speech folds (fixed test actors), so figures compare with its
  leaderboard; a fold whose test actors are missing from the data is skipped and reported.
- ``cross_corpus``: train and validate on the other corpora, test on every file of
  ``test_corpus``, over the emotions both sides have.

Rows are described by columns (``emotion``, ``speaker``; ``gender``, ``channel`` and ``corpus`` when
the data has them), never by a corpus' file names. Rows of channels not selected by
``SplitConfig.channels`` are never used by any part; neither are rows whose emotion is "".

Modules: ``config`` (SplitConfig, Split), ``metadata`` (the columns protocols read), ``stratified``
and ``speakers`` (the protocols), ``protocols`` (``make_splits``). Standardisation is fitted on a
split's training rows; it lives in ser_jax.normalize and is reachable here because callers reach
for it together with the split.
"""

from ser_jax.normalize import fit_standardizer, standardize
from ser_jax.splits.config import EMOBOX_RAVDESS_FOLDS, PROTOCOLS, Split, SplitConfig
from ser_jax.splits.protocols import make_splits
from ser_jax.splits.speakers import speaker_folds

__all__ = ["EMOBOX_RAVDESS_FOLDS", "PROTOCOLS", "Split", "SplitConfig", "fit_standardizer", "make_splits",
           "speaker_folds", "standardize"]
