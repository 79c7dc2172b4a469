"""CI never passes by skipping: with CI=true (`.ci/run` exports it) a skipped test fails.

A tool a test needs and cannot find (Chromium, Graphviz's `dot`, the time-skipping test
server) already fails the test under CI, naming the tool (tests/needs.py); this catches every
other skip, so a green CI run has run every test it collected.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from tests.needs import in_ci


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"CI=true: a test may not be skipped in CI ({reason})"
    return report
