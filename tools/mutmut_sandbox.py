"""A pytest plugin for mutation runs only (`tools/mutation.py` loads it; `make test` never does).

1. Pass mutmut through Temporal's workflow sandbox. mutmut 3 swaps code with trampolines: each
   mutated function asks `mutmut.mutation.trampoline` which mutant is active, from the
   environment variable MUTANT_UNDER_TEST. The sandbox re-imports every module a workflow
   imports, mutmut included, and refuses `os.environ` reads inside a workflow
   ("Cannot access os.environ.MUTANT_UNDER_TEST from inside a workflow"): the workflow task
   fails and Temporal retries it forever, so every workflow test hangs. Passed through, mutmut
   is the one module object of the test process (as `temporalio` and the standard library
   are), and the coverage it records while collecting stats lands where mutmut reads it. The
   sandbox itself stays on: the workflow's own modules are still re-imported and restricted.

2. Report a hang as a timeout. A mutant that makes workflow code raise an unexpected error, or
   an undo that can never succeed, leaves Temporal retrying for ever. pytest-timeout fails
   such a test after PYTEST_TIMEOUT seconds (20 unless set: a workflow test takes under 0.5 s; the
   300 s of `make test` would make each hang cost minutes), and this plugin then ends the run
   with exit status 36, which mutmut files as "timeout" instead of "killed".

3. Leave no test server behind. When mutmut's own wall-clock limit fires first it sends
   SIGXCPU; the handler here stops this process's children (the time-skipping test server)
   before exiting, so they are not orphaned.
"""

from __future__ import annotations

import contextlib
import os
import signal
from types import FrameType

import psutil
import pytest
from temporalio.worker.workflow_sandbox import SandboxRestrictions

# mutmut's exit code for "timeout" (mutmut.stats.status_by_exit_code).
MUTMUT_TIMEOUT_EXIT_STATUS = 36

# Read by pytest-timeout when it configures, after `-p` imported this plugin; it beats the
# `timeout` in pyproject.toml, and `tools/mutation.py --recheck-timeouts` raises it.
os.environ.setdefault("PYTEST_TIMEOUT", "20")

# `SandboxRestrictions.default` (what every Worker and Replayer uses unless told otherwise)
# holds this very set, so adding to it reaches the runners that the tests build.
assert (
    SandboxRestrictions.default.passthrough_modules
    is SandboxRestrictions.passthrough_modules_default
), "temporalio changed how the sandbox's default restrictions are built"
SandboxRestrictions.passthrough_modules_default.add("mutmut")

_timed_out = False


def _stop_children_and_exit(signum: int, frame: FrameType | None) -> None:
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    os._exit(MUTMUT_TIMEOUT_EXIT_STATUS)


def pytest_configure(config: pytest.Config) -> None:
    global _timed_out
    _timed_out = False
    signal.signal(signal.SIGXCPU, _stop_children_and_exit)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _timed_out
    if report.failed and "from pytest-timeout" in str(report.longrepr):
        _timed_out = True


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _timed_out:
        session.exitstatus = MUTMUT_TIMEOUT_EXIT_STATUS
