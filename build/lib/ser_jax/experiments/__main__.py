"""``python -m ser_jax.experiments``: the command-line edge of ser_jax.experiments (a package so that this entry
point imports the library once, never a second copy of itself)."""

from ser_jax import cli, experiments


def main() -> None:
    experiments.define_flags()
    cli.run(experiments.main, experiments.__doc__)


if __name__ == "__main__":
    main()
