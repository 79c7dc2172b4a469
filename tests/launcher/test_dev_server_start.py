"""A dev server that exits while it starts (one of its ports taken meanwhile) is started
again, up to three times, and only then reported."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from launcher.ports import free_port
from launcher.processes import START_ATTEMPTS, DevServer, ExitedEarly

pytestmark = pytest.mark.real_server


@contextmanager
def holding_a_free_port() -> Iterator[socket.socket]:
    """A port that the server cannot bind, and where a connection is refused at once. Picked
    with `free_port`, not `bind(0)`, so nobody else is handed it once the test lets it go."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", free_port()))
        yield holder


async def test_a_server_whose_port_is_taken_at_first_starts_once_it_is_free(
    tmp_path: Path,
) -> None:
    with holding_a_free_port() as holder, (tmp_path / "server.log").open("wb") as log:
        server = DevServer(port=holder.getsockname()[1], log=log)
        server.start()
        first = server.process
        assert first is not None

        async def free_the_port_once_the_first_attempt_fails() -> None:
            await asyncio.to_thread(first.wait)
            holder.close()

        freeing = asyncio.ensure_future(free_the_port_once_the_first_attempt_fails())
        try:
            await server.wait_until_ready()
            assert server.process is not first, "the server was started again"
            assert first.returncode != 0
            assert server.running
        finally:
            freeing.cancel()
            server.stop()


async def test_a_server_that_keeps_exiting_is_reported_after_three_starts(
    tmp_path: Path,
) -> None:
    started: list[int] = []
    with holding_a_free_port() as holder, (tmp_path / "server.log").open("wb") as log:
        server = DevServer(port=holder.getsockname()[1], log=log)
        original_start = server.start

        def counted_start() -> None:
            original_start()
            started.append(1)

        server.start = counted_start  # type: ignore[method-assign]
        server.start()
        with pytest.raises(ExitedEarly, match="temporal dev server: the process exited with"):
            await server.wait_until_ready()
        server.stop()
    assert len(started) == START_ATTEMPTS == 3
