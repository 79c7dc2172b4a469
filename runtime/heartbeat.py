"""Heartbeats: how an activity tells Temporal, while it waits on a service, that its worker lives.

A worker that is killed mid-call stops heartbeating, so the server gives up on that attempt
after the activity's heartbeat timeout (2 s in the demo) instead of its whole
start-to-close timeout (10 s), and retries it on a worker that runs. Heartbeats carry no
retry logic: they only say "still alive", and what happens on a timeout is Temporal's retry
policy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

from temporalio import activity

T = TypeVar("T")

HEARTBEATS_PER_TIMEOUT = 3
"""Once they have begun, heartbeats sent within one heartbeat timeout: two may be late before
the server gives up."""
MAX_HEARTBEAT_INTERVAL = timedelta(seconds=0.5)
"""The worker sends a heartbeat at most this long after the activity asked for it (the
SDK's default throttle, 0.8 of the timeout, leaves too little room on a busy machine)."""


async def heartbeating(work: Awaitable[T]) -> T:
    """Await `work`, heartbeating meanwhile if the activity has a heartbeat timeout.

    The server only needs to hear from the worker before the timeout passes, and each
    heartbeat is a write on the server. So the first one goes out one interval before the
    timeout would pass, not at once: a call that ends sooner (the demo's 1 s call, with its
    2 s timeout) sends none, and a longer one sends one every interval from then on."""
    timeout = activity.info().heartbeat_timeout
    if not timeout:
        return await work
    interval = timeout.total_seconds() / HEARTBEATS_PER_TIMEOUT
    task = asyncio.ensure_future(work)
    try:
        wait = timeout.total_seconds() - interval
        while not (await asyncio.wait({task}, timeout=wait))[0]:
            activity.heartbeat()
            wait = interval
        return task.result()
    finally:
        task.cancel()  # only does something when the activity itself was cancelled
