"""The package's layout as docs/development.md draws it: small files, no import circle, a training
loop without file or flag code, a module map that matches the imports of the code, and plug-ins
named only inside their own packages."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import ser_jax

PACKAGE = Path(ser_jax.__file__).parent
ROOT = PACKAGE.parent
MAX_LINES = 400


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _nodes(tree: ast.AST, top_level_only: bool):
    """The nodes of ``tree``, leaving out ``if TYPE_CHECKING:`` blocks (type hints import nothing at run
    time) and, for ``top_level_only``, function bodies (imported when called)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
            continue
        if top_level_only and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        yield node
        yield from _nodes(node, top_level_only)


def _imports(path: Path, top_level_only: bool = False, keep_self: bool = False) -> set[str]:
    """The ser_jax modules ``path`` imports (`from a import b` is module a.b when one exists)."""
    found = set()
    for node in _nodes(ast.parse(path.read_text()), top_level_only):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                     for a in node.names]
        found |= {n for n in names if n in MODULES}
    return found if keep_self else found - {_module(path)}


GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def test_no_source_file_is_longer_than_400_lines():
    long = {name: n for name, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these by what they do: {long}"


def test_no_module_imports_itself():
    for name, path in MODULES.items():
        if name.endswith("__main__"):  # python -m's entry point imports its package: that is its job
            continue
        assert name not in _imports(path, keep_self=True), f"{path} imports {name}, itself"


def test_no_import_circle():
    """A module never needs, even lazily, a module that needs it (python -m entry points aside)."""
    graph = {m: {d for d in deps if not d.endswith("__main__")} for m, deps in GRAPH.items()
             if not m.endswith("__main__")}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                cycle = stack[stack.index(d):] + [d]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def _circle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle of ``graph`` (node -> the nodes it imports), or [] when there is none."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str]:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state and (found := visit(d)):
                return found
        stack.pop()
        state[m] = 2
        return []

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return []


def test_no_import_circle_between_packages():
    """Read package by package (ser_jax.features, ser_jax.train, ... and each top-level module), no
    package needs, even lazily, a package that needs it: each can be understood from those below it."""
    def unit(module: str) -> str:
        return ".".join(module.split(".")[:2])

    graph: dict[str, set[str]] = {}
    for m, deps in GRAPH.items():
        if m.endswith("__main__"):
            continue
        graph.setdefault(unit(m), set()).update(unit(d) for d in deps if not d.endswith("__main__") and unit(d) != unit(m))
    assert not (found := _circle(graph)), "import circle between packages: " + " -> ".join(found)


def test_the_training_loop_holds_no_file_or_flag_code():
    tree = ast.parse((PACKAGE / "train" / "loop.py").read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in (n.names if isinstance(n, ast.Import) else [ast.alias(n.module or "")])}
    assert not imported & {"absl", "shutil", "json", "h5py", "tensorboardX", "ser_jax.cli"}, imported
    calls = {n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", "")
             for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert not calls & {"open", "mkdir", "write_text", "read_text", "unlink", "rmtree", "iterdir", "glob"}, calls


def _map() -> dict[str, tuple[str, set[str]]]:
    """docs/development.md's package map: {module or package: (what it holds, the ser_jax modules it may import)}."""
    text = (ROOT / "docs" / "development.md").read_text()
    section = text.split("## Package map", 1)[1].split("\n## ", 1)[0]
    out = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        names = [n.rstrip("/").removesuffix(".py").removesuffix("/__init__").replace("/", ".")
                 for n in re.findall(r"`([\w./]+)`", cells[0])]
        may = {f"ser_jax.{m}" for m in re.findall(r"`([\w.]+)`", cells[2])} | set(names)  # and each other
        for name in names:
            out[name] = (cells[1], may)
    return out


def _row(module: str, rows: dict) -> str | None:
    """The map's row for ``module``: its own, else its package's (the longest prefix)."""
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in rows:
            return ".".join(parts[:i])
    return None


def test_the_package_map_in_development_md_covers_every_module_and_its_imports():
    rows = _map()
    assert len(rows) >= 20
    for name in rows:
        assert name in MODULES or any(m.startswith(name + ".") for m in MODULES), f"map names {name}: no such module"
    for module, deps in GRAPH.items():
        row = _row(module, rows)
        assert row is not None, f"{module} is missing from docs/development.md's package map"
        _, may = rows[row]
        allowed = {r for r in rows if any(r == a or a.startswith(r + ".") for a in may)}
        for dep in deps:
            target = _row(dep, rows)
            if target == row or "*" in may:
                continue
            assert target in allowed, f"{module} imports {dep}, which its map row ({row}) does not allow: {sorted(may)}"


# The packages that hold plug-ins (and may name them); every other module finds them by name.
PLUGIN_PACKAGES = ("models", "corpora", "features", "recipes", "encoders", "perturb")
# String literals outside them that equal a plug-in's name: (module, literal) -> why it may stay.
NOT_A_PLUGIN_NAME = {
    ("ser_jax.experiments.spec", "seed"): "the --seed flag the runner sets, not the seed recipe",
    ("ser_jax.synth.command", "seed"): "the synth command's --seed flag",
    ("ser_jax.synth.corpus", "seed"): "the seed argument, named in its error",
    ("ser_jax.config", "vtlp"): "config.json's setting of earlier versions, which upgrade() renames",
    ("ser_jax.cli", "vtlp"): "the flag of earlier versions, which old_spelling() names --copies for",
    ("ser_jax.cli", "speed"): "the --copies kind an earlier flag (--speed_perturb) is now",
    ("ser_jax.cli", "noise"): "the --copies kind an earlier flag (--noise_snr) is now",
    ("ser_jax.testing.tiny", "fast"): "the tests' tiny feature settings, a run's settings as a test writes them",
}


def _plugin_names() -> dict[str, str]:
    """Every plug-in's name (and an encoder's module name) -> what kind of plug-in it is."""
    from ser_jax import corpora, encoders, features, models, perturb

    names = {}
    for kind, registry in (("model", models.MODELS), ("corpus reader", corpora.READERS),
                           ("feature recipe", features.RECIPES), ("encoder", encoders.ENCODERS),
                           ("perturbation", perturb.PERTURBATIONS)):
        for name in registry:
            names[name] = kind
            names[name.replace("-", "_")] = kind
    return names


def test_no_module_outside_the_plugin_packages_names_a_plugin():
    """A plug-in is found by its name in a run's settings, never named in the code around it: a new or
    renamed plug-in then edits no other module (config.py asks the model's hooks, not ``== "superb"``)."""
    names = _plugin_names()
    assert {"crnn", "superb", "ravdess", "manifest", "seed", "whisper", "whisper-base", "speed"} <= set(names)
    found = []
    for module, path in MODULES.items():
        if module.split(".")[1:2] and module.split(".")[1] in PLUGIN_PACKAGES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
                if (module, node.value) not in NOT_A_PLUGIN_NAME:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} names the {names[node.value]} "
                                 f"{node.value!r}")
    assert not found, "find these by name (a hook, an attribute, models.DEFAULT): " + "; ".join(found)
    stale = [k for k in NOT_A_PLUGIN_NAME if k[0] not in MODULES]
    assert not stale, f"allowed literals of modules that are gone: {stale}"


# ------------------------------------------------------------------------------------------------
# The tests' own layout (docs/development.md, "Tests"): tests/<package>/test_<module>.py mirrors
# ser_jax/<package>/<module>.py, tests/test_<module>.py a top-level module, tests/e2e/ runs the commands.

TESTS = ROOT / "tests"
E2E = TESTS / "e2e"
# Top-level test files that test no one module: file name -> what they test instead.
NOT_A_MODULE_TEST = {
    "test_layout.py": "the package's layout as a whole (and the tests')",
}
# Files of a test folder besides its test_*.py: the folder's fixtures, what its files share, its package.
TEST_FOLDER_FILES = {"conftest.py", "helpers.py", "__init__.py"}


def _modules_in(folder: Path) -> set[str]:
    """What a test file in the mirror of ``folder`` may be named after: its modules (a leading ``_``
    dropped: test_layers.py tests _layers.py), its subpackages, and the package itself (its
    __init__: test_models.py in tests/models/ holds the zoo's generic tests)."""
    names = {p.stem.lstrip("_") for p in folder.glob("*.py") if p.stem != "__init__"}
    names |= {p.name for p in folder.iterdir() if (p / "__init__.py").is_file()}
    return names | ({folder.name} if folder != PACKAGE else set())


def _names_a_module(stem: str, modules: set[str]) -> bool:
    """test_<module>.py, or test_<module>_<topic>.py where one module's tests fill several files
    (tests/splits/test_speakers_emobox.py)."""
    name = stem.removeprefix("test_")
    return any(name == m or name.startswith(m + "_") for m in modules)


def test_each_test_file_mirrors_the_module_it_tests():
    wrong = []
    for path in sorted(TESTS.rglob("*.py")):
        rel = path.relative_to(TESTS)
        if rel.parts[0] == "e2e" or rel.parts[0].startswith((".", "__")) or "__pycache__" in rel.parts:
            continue
        if len(rel.parts) == 1:  # tests/test_<module>.py: a top-level module (a package's tests have its folder)
            modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
            if path.name.startswith("test_") and path.name not in NOT_A_MODULE_TEST and not _names_a_module(
                    path.stem, modules):
                wrong.append(f"{rel}: no module ser_jax/{path.stem.removeprefix('test_')}.py")
            continue
        folder = PACKAGE.joinpath(*rel.parts[:-1])
        if not (folder / "__init__.py").is_file():
            where = "/".join(rel.parts[:-1])
            wrong.append(f"{rel}: tests/{where}/ mirrors no package ser_jax/{where}/")
        elif path.name.startswith("test_"):
            if not _names_a_module(path.stem, _modules_in(folder)):
                wrong.append(f"{rel}: names no module of ser_jax/{'/'.join(rel.parts[:-1])}/")
        elif path.name not in TEST_FOLDER_FILES:
            wrong.append(f"{rel}: a test folder holds test_*.py, {', '.join(sorted(TEST_FOLDER_FILES))}")
    for folder in sorted(p for p in TESTS.rglob("*") if p.is_dir() and "__pycache__" not in p.parts
                         and not p.name.startswith(".")):
        if not (folder / "__init__.py").is_file():  # test files' module names are their paths: splits.test_config
            wrong.append(f"{folder.relative_to(TESTS)}/: no __init__.py")
    assert not wrong, "tests/<package>/test_<module>.py mirrors ser_jax/<package>/<module>.py: " + "; ".join(wrong)
    assert not [n for n in NOT_A_MODULE_TEST if not (TESTS / n).is_file()], "allowed names of files that are gone"


def test_no_test_file_is_longer_than_400_lines():
    long = {str(p.relative_to(TESTS)): n for p in TESTS.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these by topic: {long}"


def _commands_run(path: Path) -> list[str]:
    """The ser_jax commands ``path`` runs: ``-m ser_jax.X`` in an argument list (subprocess, or a helper
    that passes its arguments to sys.executable), the ``ser-jax`` console script, ``runpy.run_module``
    of ser_jax in a script run by ``python -c``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        items = (node.elts if isinstance(node, (ast.List, ast.Tuple)) else
                 node.args if isinstance(node, ast.Call) else [])
        values = [i.value if isinstance(i, ast.Constant) and isinstance(i.value, str) else None for i in items]
        for a, b in zip(values, values[1:]):
            if a == "-m" and b and b.startswith("ser_jax"):
                found.append(f"line {node.lineno}: python -m {b}")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value == "ser-jax" or node.value.startswith("ser-jax "):
                found.append(f"line {node.lineno}: {node.value}")
            if re.search(r"run_module\([\"']ser_jax", node.value):
                found.append(f"line {node.lineno}: runpy.run_module of ser_jax in a script")
    return found


def test_only_the_end_to_end_tests_run_the_commands():
    """Tests that run ser_jax's commands (python -m ser_jax.X, ser-jax) are in tests/e2e/; everywhere
    else a test calls the library (a ``python -c`` script for a fresh process is a unit test's)."""
    assert _commands_run(E2E / "test_cli.py"), "the check finds nothing: it no longer sees the commands run"
    found = {str(p.relative_to(TESTS)): c for p in sorted(TESTS.rglob("*.py"))
             if not p.is_relative_to(E2E) and p != Path(__file__) and (c := _commands_run(p))}
    assert not found, f"move these tests to tests/e2e/: {found}"
