"""When a service call heartbeats: none for a call that ends before the first heartbeat is due
(the demo's 1 s call), and one every interval for a longer call, the first one interval before
the timeout would pass. Run in the SDK's activity test environment, which records heartbeats."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from datetime import timedelta
from pathlib import Path

from temporalio import activity
from temporalio.testing import ActivityEnvironment

from activities import HEARTBEAT_TIMEOUT, BookingActivities, ServiceSettings
from runtime.heartbeat import HEARTBEATS_PER_TIMEOUT, heartbeating
from shared import BookingInput
from simulated_services import BookingServices


def environment(heartbeat_timeout: timedelta) -> tuple[ActivityEnvironment, list[float]]:
    """An activity environment with this heartbeat timeout, and when each heartbeat came
    (seconds since the environment was made)."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, heartbeat_timeout=heartbeat_timeout)
    started = time.monotonic()
    heartbeats: list[float] = []
    env.on_heartbeat = lambda *details: heartbeats.append(time.monotonic() - started)
    return env, heartbeats


async def test_the_demos_service_call_sends_no_heartbeat(tmp_path: Path) -> None:
    env, heartbeats = environment(HEARTBEAT_TIMEOUT)
    services = BookingServices(tmp_path / "ledger.sqlite3")
    activities = BookingActivities(services, ServiceSettings(service_latency_seconds=1.0))
    booking = BookingInput("Ada Lovelace", "Volvo EX30", "Hotel Adlon", "LH 404")

    confirmation = await env.run(activities.book_car, booking)

    assert confirmation.startswith("CAR-")
    assert heartbeats == []


async def test_a_longer_call_heartbeats_from_one_interval_before_the_timeout_until_it_ends() -> (
    None
):
    timeout = 0.9
    interval = timeout / HEARTBEATS_PER_TIMEOUT
    call_seconds = 2.0
    env, heartbeats = environment(timedelta(seconds=timeout))

    @activity.defn
    async def long_call() -> str:
        return await heartbeating(asyncio.sleep(call_seconds, result="done"))

    assert await env.run(long_call) == "done"

    # Not at once, yet before the server would give up on the call.
    assert heartbeats, "a call longer than its heartbeat timeout must heartbeat"
    assert timeout - interval <= heartbeats[0] < timeout, heartbeats
    # Then one every interval, never so far apart that the server gives up on the call (a
    # busy machine may delay one, which the timeout allows for), never more often.
    gaps = [later - earlier for earlier, later in itertools.pairwise(heartbeats)]
    assert all(interval * 0.9 <= gap < timeout for gap in gaps), gaps
    assert call_seconds - timeout <= heartbeats[-1] < call_seconds, heartbeats
