"""A small saga helper in the spirit of the Temporal Java SDK's `Saga` class.

Add a compensation before each step that may need undoing; on failure, `compensate()` runs
them, by default one after the other in reverse order. It only uses asyncio, so it is safe
to use inside a workflow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

Compensation = Callable[[], Awaitable[object]]


class CompensationError(Exception):
    """One or more compensations failed; `errors` holds each failure."""

    def __init__(self, errors: list[BaseException]) -> None:
        super().__init__(f"{len(errors)} compensation(s) failed: " + "; ".join(map(str, errors)))
        self.errors = errors


class Saga:
    def __init__(self, *, parallel_compensation: bool = False, continue_with_error: bool = False):
        """`parallel_compensation` runs all compensations at once. In sequential mode,
        `continue_with_error` goes on with the next compensation after one fails, instead of
        stopping there; either way `compensate()` raises `CompensationError` at the end."""
        self.parallel_compensation = parallel_compensation
        self.continue_with_error = continue_with_error
        self._compensations: list[Compensation] = []

    def add_compensation(self, compensation: Compensation) -> None:
        self._compensations.append(compensation)

    async def compensate(self) -> None:
        """Run every compensation added so far, newest first, once."""
        pending = self._compensations[::-1]
        self._compensations.clear()
        errors: list[BaseException] = []
        if self.parallel_compensation:
            results = await asyncio.gather(*(undo() for undo in pending), return_exceptions=True)
            errors = [result for result in results if isinstance(result, BaseException)]
        else:
            for undo in pending:
                try:
                    await undo()
                except Exception as error:
                    errors.append(error)
                    if not self.continue_with_error:
                        break
        if errors:
            raise CompensationError(errors)
