"""``python -m ser_jax.train`` (a package, so this entry point never imports a second copy of the library)."""

from ser_jax import cli, train

if __name__ == "__main__":
    cli.run_command(train)
