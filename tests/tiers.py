"""Markers that tell the truth, so the quick tier starts no process.

`real_server` and `browser` are added from the fixtures a test uses (and everything those
fixtures use in turn), so a new test that asks for `dev_server`, `live_url` or `page` is
marked without anyone remembering to. A test that starts processes itself carries the marker
in its module (`pytestmark`). The quick tier,

    pytest -m "not real_server and not browser and not soak"

then runs on the time-skipping test server alone. To keep it so, a test without either marker
that starts a child process of any kind (a dev server, a worker, the form, the launcher, a
browser) is refused at the start of that process, and fails naming the command.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Generator, Sequence
from pathlib import Path

import pytest

REAL_SERVER_FIXTURES = frozenset({"dev_server", "worker_process", "live_url", "dev_app"})
"""Fixtures that start (or need) a real Temporal dev server, a worker or the form process."""

BROWSER_FIXTURES = frozenset({"page", "context", "browser"})
"""pytest-playwright's fixtures that launch Chromium."""

PROCESS_MARKERS = ("real_server", "browser")
"""A test with one of these may start child processes."""

HARMLESS_PROGRAMS = frozenset({"dot"})
"""Programs a quick test may run: they finish at once and listen on nothing."""

QUICK_TIER = '-m "not real_server and not browser and not soak"'

_running: pytest.Item | None = None
"""The test whose setup, call or teardown runs now (session fixtures start in the first
test that needs them, so they are checked against that test's markers)."""


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Any other environment than the time-skipping server is a real server for every test
    # that talks to Temporal.
    real_env = config.getoption("--workflow-environment") != "time-skipping"
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & REAL_SERVER_FIXTURES or (real_env and "env" in used):
            item.add_marker(pytest.mark.real_server)
        if used & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    global _running
    _running = item
    try:
        return (yield)
    finally:
        _running = None


def may_start_processes(item: pytest.Item) -> bool:
    return any(item.get_closest_marker(name) for name in PROCESS_MARKERS)


def _text(value: object) -> str:
    if isinstance(value, str | bytes | os.PathLike):
        return os.fsdecode(value)
    return str(value)


def _command(argv: object) -> str:
    """The start of the command a subprocess.Popen audit event is about, for the message."""
    if isinstance(argv, Sequence) and not isinstance(argv, str | bytes):
        return " ".join(_text(arg) for arg in argv[:6])
    return _text(argv)


def _refuse_unmarked_processes(event: str, args: tuple[object, ...]) -> None:
    """An audit hook: Python raises the event before it forks, so raising here refuses."""
    if event != "subprocess.Popen" or _running is None or may_start_processes(_running):
        return
    executable, argv = args[0], args[1]
    program = _text(executable) if executable else _command(argv).split(" ")[0]
    if Path(program).name in HARMLESS_PROGRAMS:
        return
    raise RuntimeError(
        f"{_running.nodeid} starts a process ({_command(argv)}) but is not marked real_server: "
        f"the quick tier ({QUICK_TIER}) must start none. Use the dev_server fixture (marked "
        "automatically) or mark the test or its module with pytest.mark.real_server."
    )


def pytest_configure(config: pytest.Config) -> None:
    # Audit hooks cannot be removed, so the hook is added once per interpreter.
    if not getattr(sys, "_booking_tests_audit_hook", False):
        sys.addaudithook(_refuse_unmarked_processes)
        sys._booking_tests_audit_hook = True  # type: ignore[attr-defined]
