"""Plug-ins found one way: a package's modules by file name, or any module by its dotted import path.

Models, corpus readers and pretrained encoders are plug-ins, one module each (feature recipes are
found the same way). Every module of a plug-in package whose name does not start with ``_`` is
one, named by its file (``_``-modules hold what several share); so adding one is one new file and
no registry line. A name with a dot in it is the import path of a module anywhere on ``sys.path``
(``--model=my_lab.models.tiny_gru``): a user's own file is a plug-in without editing ser_jax, and
the name a run records (config.json, checkpoints) imports it again.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import ModuleType


class Registry(Mapping[str, str]):
    """{name: module path} of one package's plug-ins, in file-name order; read-only.

    ``spell`` turns a module name into the name users type (encoders: ``whisper_base`` ->
    ``whisper-base``); ``flag`` and ``what`` word the one-line error for a name that is none.
    """

    def __init__(self, package: str, path: Iterable[str], *, flag: str, what: str,
                 spell: Callable[[str], str] = str, also: tuple[str, ...] = ()) -> None:
        found = sorted(m.name for m in pkgutil.iter_modules(list(path)) if not m.name.startswith("_"))
        self._modules = {spell(m): f"{package}.{m}" for m in found}
        self.flag, self.what, self.also = flag, what, also  # also: choices beside the plug-ins ("auto")

    def __getitem__(self, name: str) -> str:
        return self._modules[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __repr__(self) -> str:
        return f"Registry({self._modules!r})"

    def choices(self) -> str:
        """The names to choose from, for help and errors."""
        return ", ".join((*self.also, *self._modules))

    def module(self, name: str) -> ModuleType:
        """The plug-in called ``name``: one of the package's, or the module at a dotted import path;
        a one-line ValueError naming the flag otherwise."""
        if name in self._modules:
            return importlib.import_module(self._modules[name])
        if not is_path(name):
            raise ValueError(f"--{self.flag}={name}: unknown {self.what}; choose from {self.choices()} (or give "
                             "the import path of a module of your own, e.g. my_lab.module)")
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as e:
            raise ValueError(f"--{self.flag}={name}: no module {e.name} on the Python path, so no {self.what} "
                             f"there; put its folder on PYTHONPATH, or choose from {self.choices()}") from None


def is_path(name: str) -> bool:
    """True for a dotted import path (``my_lab.models.tiny_gru``), the spelling of an outside plug-in."""
    parts = name.split(".")
    return len(parts) > 1 and all(p.isidentifier() for p in parts)
