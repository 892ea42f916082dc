"""``python -m ser_jax.tables`` (a package, so this entry point never imports a second copy of the library)."""

from ser_jax import cli, tables

if __name__ == "__main__":
    cli.run_command(tables)
