"""A real Temporal dev server for the length of a `with` block, for fixtures."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from launcher.processes import DevServer
from tests.sync_bridge import run_async


@contextmanager
def running_dev_server(log: IO[bytes] | None = None, **options: Any) -> Iterator[DevServer]:
    """An in-memory dev server on free ports, ready when the block starts; `options` go to
    `DevServer` (a `ui_port`, say)."""
    server = DevServer(log=log, **options)
    server.start()
    try:
        run_async(server.wait_until_ready)
        yield server
    finally:
        server.kill()  # in memory: nothing to keep, no need to wait
