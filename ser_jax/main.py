"""The ``ser-jax`` console script: ``ser-jax COMMAND [--flags]``, the same as ``python -m ser_jax.COMMAND``.

Thin on purpose: it sets the process up (ser_jax.runtime) and runs the command's module as
``__main__``, so both ways of starting a command run the same code.
"""

from __future__ import annotations

import runpy
import sys

# name -> one line; each is a module ser_jax.<name> runnable with python -m.
COMMANDS = {
    "corpus": "check a corpus folder or manifest: speakers, emotions, files a reader skips",
    "synth": "write a synthetic RAVDESS-layout corpus (tests, demos)",
    "precompute": "build the HDF5 feature cache of a corpus",
    "train": "train and evaluate one model (or every fold of a protocol) into a run directory",
    "predict": "emotions of new recordings from a checkpoint, a run or an ensemble",
    "experiments": "run the rows of a table spec (experiments/tables/NAME.json by name, or a JSON file)",
    "tables": "render a table spec's finished runs as Markdown and LaTeX",
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {what}" for name, what in COMMANDS.items()]
    return ("usage: ser-jax COMMAND [--flags]   (COMMAND --help lists its flags)\n\ncommands:\n"
            + "\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        raise SystemExit(0)
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"error: unknown command '{command}'; choose from {', '.join(COMMANDS)}", file=sys.stderr)
        raise SystemExit(2)
    from ser_jax import runtime

    runtime.setup_process()
    sys.argv = [f"ser-jax {command}", *rest]
    runpy.run_module(f"ser_jax.{command}", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
