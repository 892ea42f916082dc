"""``python -m ser_jax.predict`` (a package, so this entry point never imports a second copy of the library)."""

from ser_jax import cli, predict

if __name__ == "__main__":
    cli.run_command(predict)
