"""How many generated inputs each property test tried; printed at the end of the run."""

from __future__ import annotations

EXAMPLES_TRIED: dict[str, int] = {}


def count_example(test_name: str) -> None:
    EXAMPLES_TRIED[test_name] = EXAMPLES_TRIED.get(test_name, 0) + 1
