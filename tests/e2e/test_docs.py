"""Every command the README and docs show runs as written: its command exists and answers --help,
every flag it passes is one of that command's flags, every flagfile and table spec it names exists.

Commands are found in the Markdown itself (fenced blocks, with continued lines joined, and inline
code), so a renamed flag or a moved preset fails here before a reader meets it.
"""

from __future__ import annotations

import functools
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
INTERNAL = {"workers"}  # python -m ser_jax.workers: the feature worker interpreter, named in docs, not run by hand
_COMMAND = re.compile(r"(?:\.venv/bin/)?(?:python -m ser_jax\.([a-z_]+)|ser-jax ([a-z]+)|python (benchmarks/\w+\.py))")


def _snippets(text: str) -> list[str]:
    """Fenced code lines (a trailing backslash joins the next line) and inline code spans."""
    out, fenced = [], re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S)
    for block in fenced:
        out += block.replace("\\\n", " ").splitlines()
    out += re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return out


def _invocations() -> list[tuple[str, str, list[str]]]:
    """(where, command, arguments) of every documented command line."""
    found = []
    for doc in DOCS:
        for snippet in _snippets(doc.read_text()):
            for m in _COMMAND.finditer(snippet):
                command = m.group(1) or m.group(2) or m.group(3)
                if command in INTERNAL:
                    continue
                rest = snippet[m.end():].split("  #", 1)[0].split(" | ", 1)[0].split(" && ", 1)[0]
                rest = rest.split(";", 1)[0].split("`", 1)[0]
                try:
                    args = shlex.split(rest)
                except ValueError:
                    args = rest.split()
                found.append((doc.name, command, args))
    return found


INVOCATIONS = _invocations()
COMMANDS = sorted({c for _, c, _ in INVOCATIONS})


@functools.cache
def _help(command: str) -> str:
    argv = ([str(ROOT / command), "--help"] if command.endswith(".py")
            else ["-m", f"ser_jax.{command}", "--helpfull"])
    out = subprocess.run([sys.executable, *argv], capture_output=True, text=True, cwd=ROOT, timeout=300)
    text = out.stdout + out.stderr
    # absl's own --help/--helpfull exit 1; the corpus command prints its usage line with status 2.
    assert out.returncode in (0, 1, 2) and "--" in text and "Traceback" not in text and "No module" not in text, (
        f"{command} --help failed: {text[-500:]}")
    return text


def test_the_docs_show_every_command_of_the_package():
    assert {"train", "experiments", "tables", "precompute", "predict", "corpus", "synth"} <= set(COMMANDS)
    assert len(INVOCATIONS) > 50


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
def test_each_documented_command_answers_help_and_knows_every_flag_the_docs_pass_it(command):
    text = _help(command)
    known = set(re.findall(r"--(?:\[no\])?([A-Za-z_][\w.]*)", text))
    for where, cmd, args in INVOCATIONS:
        if cmd != command:
            continue
        for arg in args:
            if not arg.startswith("--") or arg == "--":
                continue
            name = arg[2:].split("=", 1)[0]
            base = name[2:] if name.startswith("no") and name[2:] in known else name
            assert base in known, f"{where}: `{command} ... {arg}`: no such flag of {command}"


def test_every_flagfile_and_table_spec_the_docs_name_exists():
    from ser_jax import flagfiles

    for where, command, args in INVOCATIONS:
        for arg in args:
            if arg.startswith("--flagfile="):
                value = arg.split("=", 1)[1]
                if not re.search(r"[A-Z]{3}|<|\.\.\.", value):  # not a placeholder
                    path = flagfiles.resolve(value if "/" not in value else str(ROOT / value))
                    assert path.is_file(), f"{where}: {arg}"
        if command in ("experiments", "tables"):
            names = [a for a in args if not a.startswith("-") and a not in ("run", "list")]
            for name in names[:1] if command == "experiments" else names:
                if re.search(r"[A-Z]{3}|<|\.\.\.|\|", name):
                    continue
                spec = ROOT / name if "/" in name else flagfiles.TABLES_DIR / f"{name.removesuffix('.json')}.json"
                assert spec.is_file(), f"{where}: {command} {name}: no such table spec"


def test_every_make_target_the_docs_name_exists():
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), flags=re.M))
    for doc in DOCS:
        for snippet in _snippets(doc.read_text()):
            for target in re.findall(r"(?:^|\s|`)make ([a-z][\w-]*)", snippet):
                assert target in targets, f"{doc.name}: make {target}: no such target"
