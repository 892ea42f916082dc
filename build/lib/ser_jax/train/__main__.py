"""``python -m ser_jax.train``: the command-line edge of ser_jax.train (a package so that this entry
point imports the library once, never a second copy of itself)."""

from ser_jax import cli, train


def main() -> None:
    cli.define_data_flags()
    cli.define_feature_flags()
    cli.define_train_flags()
    cli.run(train.main, train.__doc__)


if __name__ == "__main__":
    main()
