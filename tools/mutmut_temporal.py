"""`mutmut` with one change: it also mutates Temporal's decorated entry points.

mutmut 3 leaves every decorated function alone (except @staticmethod and @classmethod), because
it copies a function once per mutant, decorators included: a second `@workflow.run` in the
class would break `@workflow.defn`. That leaves out the heart of the saga, `BookingWorkflow.run`,
with its `__init__` (`@workflow.init`), its `status` query and the six `@activity.defn` methods.

For the decorators named below, this launcher lets mutmut mutate the function and strips the
decorator from the copies (the unmutated copy and each mutant), so only the trampoline that
keeps the function's name carries it. The trampoline is made with functools.wraps, so Temporal
still reads the real signature and type hints through `__wrapped__`.

tools/mutation.py runs `python -m tools.mutmut_temporal run ...` instead of `mutmut run ...`.
It patches mutmut internals, so pyproject.toml pins mutmut's version.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import libcst as cst
from libcst.metadata import PositionProvider
from mutmut.__main__ import cli
from mutmut.mutation import file_mutation

# Decorators that only register the function: its copies need not, and must not, carry them.
REGISTERING_DECORATORS = {
    "workflow.run",
    "workflow.init",
    "workflow.query",
    "workflow.signal",
    "workflow.update",
    "activity.defn",
    "contextmanager",
}


def _decorator_name(decorator: cst.Decorator) -> str:
    expression = decorator.decorator
    if isinstance(expression, cst.Call):
        expression = expression.func
    return str(cst.Module([]).code_for_node(expression))


def _registered(node: cst.CSTNode) -> bool:
    return (
        isinstance(node, cst.FunctionDef)
        and bool(node.decorators)
        and all(_decorator_name(d) in REGISTERING_DECORATORS for d in node.decorators)
    )


_skip_node_and_children = file_mutation.MutationVisitor._skip_node_and_children
_function_trampoline_arrangement = file_mutation.function_trampoline_arrangement


def skip_node_and_children(self: Any, node: cst.CSTNode) -> bool:
    if _registered(node):
        # Everything mutmut checks for a function besides its decorators: a pragma on its line.
        position = self.get_metadata(PositionProvider, node, None)
        return bool(position and position.start.line in self._ignored_node_lines)
    return bool(_skip_node_and_children(self, node))


def function_trampoline_arrangement(
    function: cst.FunctionDef, mutants: Iterable[Any], class_name: str | None
) -> tuple[Sequence[Any], Sequence[Any], Sequence[Any], Sequence[str]]:
    declarations, methods, assignments, names = _function_trampoline_arrangement(
        function, mutants, class_name
    )
    if _registered(function):
        trampoline, *copies = methods
        methods = [trampoline, *(copy.with_changes(decorators=[]) for copy in copies)]
    return declarations, methods, assignments, names


setattr(file_mutation.MutationVisitor, "_skip_node_and_children", skip_node_and_children)  # noqa: B010
file_mutation.function_trampoline_arrangement = function_trampoline_arrangement

if __name__ == "__main__":
    cli()
