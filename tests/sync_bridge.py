"""Run a coroutine from synchronous test code, whatever event loop is running in this thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def run_async(make: Callable[[], Awaitable[T]], timeout: float = 30) -> T:
    """Run a coroutine to the end on a fresh loop in another thread, whatever loop is running
    here (an async test's loop must not be blocked by its own client calls)."""

    async def bounded() -> T:
        return await asyncio.wait_for(make(), timeout)

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, bounded()).result()
