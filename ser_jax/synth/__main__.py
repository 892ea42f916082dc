"""``python -m ser_jax.synth``: the command of ser_jax.synth.command, run by absl."""

from absl import app, flags

from ser_jax.synth import command

__doc__ = command.__doc__  # absl's --help prints the __main__ module's docstring: the command's

if __name__ == "__main__":
    command.define_flags()
    flags.adopt_module_key_flags(command)  # so --help lists the command's flags, as the main module's
    app.run(command.main)
