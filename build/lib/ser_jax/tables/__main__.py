"""``python -m ser_jax.tables``: the command-line edge of ser_jax.tables (a package so that this entry
point imports the library once, never a second copy of itself)."""

from ser_jax import cli, tables


def main() -> None:
    tables.define_flags()
    cli.run(tables.main, tables.__doc__)


if __name__ == "__main__":
    main()
