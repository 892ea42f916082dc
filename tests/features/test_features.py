"""The features package (ser_jax/features/__init__.py) as a whole: what it imports."""

from __future__ import annotations


def test_the_features_package_imports_no_package_that_imports_it():
    """Package-level, not only module-level: features/ and perturb/ import packages that never import
    them back (type hints aside), so no import of one ever waits on the other."""
    from test_layout import GRAPH

    def package(module: str) -> str:
        return ".".join(module.split(".")[:2])

    def deps(pkg: str) -> set[str]:
        return {package(d) for m, ds in GRAPH.items() if package(m) == pkg for d in ds} - {pkg}

    for pkg in ("ser_jax.features", "ser_jax.perturb"):
        back = {q for q in deps(pkg) if pkg in deps(q)}
        assert not back, f"{pkg} imports {back}, which import it"
    assert deps("ser_jax.audio") == set()  # loading and resampling only
