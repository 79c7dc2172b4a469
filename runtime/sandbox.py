"""The workflow sandbox, without compiling the workflow's module again on every run.

Temporal's sandbox imports a workflow's module afresh for each workflow run, so that no state
leaks from one run into the next. Python loads that module from its cached bytecode in
`__pycache__`, if there is one; where bytecode writing is disabled (PYTHONDONTWRITEBYTECODE,
as on our CI machines) there is none, and every run compiles the source again: 1-2 ms of
CPU per booking, for `book_workflow.py`.

`compile_sandboxed_modules_once` keeps those compiled modules in memory, as `__pycache__`
would on disk. The sandbox stays as it is: each run still executes the module in its own
fresh namespace, with the same restrictions; only the compiling, which depends on nothing but
the source file, is shared. A changed file is compiled again, as with `__pycache__`.
"""

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import CodeType, ModuleType

from temporalio import workflow

_compiled: dict[tuple[str, float, int], CodeType] = {}
"""Compiled modules by file, modification time and size: what `__pycache__` checks too."""


class _CompiledOnceLoader(importlib.machinery.SourceFileLoader):
    def get_code(self, fullname: str) -> CodeType:
        stats = self.path_stats(self.path)
        key = (self.path, stats["mtime"], stats["size"])
        code = _compiled.get(key)
        if code is None:
            compiled = super().get_code(fullname)
            if compiled is None:
                raise ImportError(f"no code for module {fullname}", name=fullname)
            code = _compiled[key] = compiled
        return code


class _SandboxImportFinder(importlib.abc.MetaPathFinder):
    """Finds a module as the other finders do; inside the sandbox, hands back a source
    module with a loader that compiles each file once."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if not workflow.unsafe.in_sandbox():
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if type(spec.loader) is importlib.machinery.SourceFileLoader:
                    spec.loader = _CompiledOnceLoader(spec.loader.name, spec.loader.path)
                return spec
        return None


def compile_sandboxed_modules_once() -> None:
    """From now on, modules the workflow sandbox imports are compiled once per process."""
    if not any(isinstance(finder, _SandboxImportFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SandboxImportFinder())
