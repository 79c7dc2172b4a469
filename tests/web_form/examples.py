"""How many generated inputs each property test tried, printed at the end of the run, also
when the tests ran on several processes (pytest-xdist): each worker hands its counts over."""

from __future__ import annotations

from typing import Any

import pytest

EXAMPLES_TRIED: dict[str, int] = {}


def count_example(test_name: str, count: int = 1) -> None:
    EXAMPLES_TRIED[test_name] = EXAMPLES_TRIED.get(test_name, 0) + count


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput: dict[str, object] | None = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # in a pytest-xdist worker
        workeroutput["examples_tried"] = dict(EXAMPLES_TRIED)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist: a worker has finished; add what its property tests tried."""
    tried: dict[str, int] = getattr(node, "workeroutput", {}).get("examples_tried", {})
    for test_name, count in tried.items():
        count_example(test_name, count)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if EXAMPLES_TRIED:
        terminalreporter.section("hypothesis: generated inputs tried")
        for test_name, count in EXAMPLES_TRIED.items():
            terminalreporter.write_line(f"{test_name}: {count}")
