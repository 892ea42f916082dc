"""Which files the wheel holds; everything else is in pyproject.toml.

The checkout's top-level ``experiments/`` (flagfiles and table specs) ships inside the package as
``ser_jax/_experiments``, so an installed ser_jax finds ``--flagfile=holdout`` and the table specs
by name (ser_jax.flagfiles). A checkout reads the top-level folder itself.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["ser_jax", "ser_jax.*"]), "ser_jax._experiments"],
    package_dir={"ser_jax._experiments": "experiments"},
    package_data={"ser_jax._experiments": ["*.flags", "tables/*.json"]},
)
