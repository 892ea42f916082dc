"""``python -m ser_jax.predict``: the command-line edge of ser_jax.predict (a package so that this entry
point imports the library once, never a second copy of itself)."""

from ser_jax import cli, predict


def main() -> None:
    predict.define_flags()
    cli.run(predict.main, predict.__doc__)


if __name__ == "__main__":
    main()
