"""Each test process picks free ports from a share of its own.

Under pytest-xdist the test processes run at once, and a port one of them picked is free
until its server binds it: two that picked it both would start, and one would fail "port in
use". With a share each, they never pick the same port.
"""

from __future__ import annotations

import os

import pytest

from launcher.ports import share_out


def xdist_share() -> tuple[int, int] | None:
    """This test process's share number and the number of shares: worker gwN of M has share
    N of M; None outside pytest-xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        return None
    return int(worker.removeprefix("gw")), int(os.environ["PYTEST_XDIST_WORKER_COUNT"])


def pytest_configure(config: pytest.Config) -> None:
    share = xdist_share()
    if share is not None:
        share_out(*share)
