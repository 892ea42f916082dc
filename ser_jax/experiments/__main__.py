"""``python -m ser_jax.experiments``: the process is set up (ser_jax.runtime) before the command is imported."""

from ser_jax import runtime

if __name__ == "__main__":
    runtime.setup_process()

    from ser_jax import cli
    from ser_jax.experiments import command

    cli.run_command(command)
