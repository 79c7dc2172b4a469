"""The order the tests run in, so that the suite is quick on several processes
(`pytest -n 4`, as `make test` runs it) and correct on each of them.

Longest first: the soak, then the tests that start real processes, so that their waits
overlap with the quick tests instead of trailing after them. Browser tests last in each
process: Playwright's sync API keeps its own event loop running in the process's main
thread from the first browser test to the end of the session, and an async test that
started after it would find a running loop and fail. pytest-xdist's `load` scheduling
hands each process its tests in this order, so the rule holds there too.
"""

from __future__ import annotations

import pytest


def running_order(item: pytest.Item) -> int:
    if "page" in getattr(item, "fixturenames", ()):
        return 3
    if item.get_closest_marker("soak"):
        return 0
    if item.get_closest_marker("real_server") or item.get_closest_marker("browser"):
        return 1
    return 2


@pytest.hookimpl(trylast=True)  # after tests/tiers.py has marked them
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=running_order)
