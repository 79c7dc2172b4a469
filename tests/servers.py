"""A real Temporal dev server for the length of a `with` block, for fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from launcher.processes import DevServer
from tests.sync_bridge import run_async


@contextmanager
def running_dev_server(log: IO[bytes] | None = None) -> Iterator[DevServer]:
    """An in-memory dev server on free ports, ready when the block starts."""
    server = DevServer(log=log)
    server.start()
    try:
        run_async(server.wait_until_ready)
        yield server
    finally:
        server.kill()  # in memory: nothing to keep, no need to wait
