"""Emotions of new recordings from trained runs: ``ser_jax.predict.load_predictor(run_dir).predict_file(path)``.

The package's public face is the library (``ser_jax.predict.predictor``): a Predictor for one
checkpoint, an Ensemble for several. ``formats`` prints predictions as a table, JSON or CSV, and
``command`` is ``python -m ser_jax.predict --checkpoint=RUN_DIR FILE_OR_DIR ...``.
"""

__all__ = ["Ensemble", "Prediction", "PredictionError", "Predictor", "load_ensemble", "load_predictor"]


def __getattr__(name: str):
    """The library's names, imported on first use: so ``python -m ser_jax.predict`` sets its process up
    (ser_jax.runtime) before anything imports JAX."""
    if name in __all__:
        from ser_jax.predict import predictor

        return getattr(predictor, name)
    raise AttributeError(f"module 'ser_jax.predict' has no attribute '{name}'")
