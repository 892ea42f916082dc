"""Emotions of new recordings from trained runs: ``ser_jax.predict.load(run_dir)``.

The model it gives answers two questions, returning frozen dataclasses (ser_jax.predict.results):
``predict_file(path)`` / ``predict_files(paths)``, the emotion of each file (a Prediction), and
``timeline(path)``, a long recording's emotions over time (a Timeline of Segments). Several run
directories (or ``ensemble=True``) give an Ensemble, which answers both the same way.

Modules: ``predictor`` (Predictor, Ensemble, load), ``timeline`` (recordings cut into segments and
judged), ``speech`` (where a recording has speech), ``segments`` (how speech is cut), ``results``
(the dataclasses), ``formats`` and ``plot`` (how results are printed and drawn) and ``command``
(``python -m ser_jax.predict --checkpoint=RUN_DIR [--timeline] FILE_OR_DIR ...``).
"""

__all__ = ["Ensemble", "Prediction", "PredictionError", "Predictor", "Segment", "Timeline", "TimelineConfig", "load",
           "load_ensemble", "load_predictor"]
_HOME = {"Segment": "results", "Timeline": "results", "Prediction": "results", "PredictionError": "results",
         "TimelineConfig": "timeline"}


def __getattr__(name: str):
    """The library's names, imported on first use: so ``python -m ser_jax.predict`` sets its process up
    (ser_jax.runtime) before anything imports JAX."""
    if name in __all__:
        import importlib

        return getattr(importlib.import_module(f"ser_jax.predict.{_HOME.get(name, 'predictor')}"), name)
    raise AttributeError(f"module 'ser_jax.predict' has no attribute '{name}'")
