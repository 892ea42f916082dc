"""``python -m ser_jax.train``: the process is set up (ser_jax.runtime) before anything imports JAX."""

from ser_jax import runtime

if __name__ == "__main__":
    runtime.setup_process()

    from ser_jax import cli
    from ser_jax.train import command

    cli.run_command(command)
