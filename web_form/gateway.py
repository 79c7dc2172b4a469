"""One Temporal client for the whole web app, living on its own asyncio loop thread.

Flask views are synchronous and each request runs on its own thread. A Temporal client is
bound to the event loop it was created on, so sharing one client across per-request loops
can hang. Instead the client lives on one dedicated loop, and a view hands it a coroutine
with `asyncio.run_coroutine_threadsafe(...).result(timeout=...)`.

Every call is bounded three times: a short client `RetryConfig`, an `rpc_timeout` on each
call (`RPC_TIMEOUT`), and an outer timeout here. So a server that is down, frozen or
unreachable raises `TemporalUnavailable` within seconds, never a hung request.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio.client import Client
from temporalio.envconfig import ClientConnectConfig
from temporalio.service import RetryConfig, RPCError, RPCStatusCode

from runtime.connection import TemporalUnavailable, connect

log = logging.getLogger("booking.web")

T = TypeVar("T")

RPC_TIMEOUT = timedelta(seconds=2)
"""What one call to the server may take; pass it as `rpc_timeout` on every call."""
CONNECT_TIMEOUT = timedelta(seconds=2)
CALL_TIMEOUT_SECONDS = 3.5
"""The outer bound of one view's whole conversation with the server."""

# Retries server calls that fail for a moment (a restarting server), but gives up within
# about a second, so the presenter sees a clear page instead of a spinner.
CLIENT_RETRY = RetryConfig(
    initial_interval_millis=100,
    max_interval_millis=500,
    max_elapsed_time_millis=1000,
    max_retries=3,
)

# The server did not answer, or answered that it cannot serve right now.
_SERVER_TROUBLE = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.CANCELLED,
    RPCStatusCode.UNKNOWN,
}


class TemporalGateway:
    """The app's one Temporal client, on one asyncio loop in a daemon thread."""

    def __init__(
        self, config: ClientConnectConfig, call_timeout_seconds: float = CALL_TIMEOUT_SECONDS
    ) -> None:
        self.config = config
        self.call_timeout_seconds = call_timeout_seconds
        self._client: Client | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="temporal-client", daemon=True
        )
        self._thread.start()
        self._connecting = asyncio.Lock()

    @property
    def address(self) -> str:
        return str(self.config.get("target_host"))

    @property
    def namespace(self) -> str:
        return str(self.config.get("namespace"))

    def connect(self) -> None:
        """Connect now (the app does at start), or raise `TemporalUnavailable`."""
        self.call(lambda client: asyncio.sleep(0))

    def call(self, work: Callable[[Client], Awaitable[T]]) -> T:
        """Run `work(client)` on the client's loop and return its result, within the timeout."""
        future = asyncio.run_coroutine_threadsafe(self._with_client(work), self._loop)
        try:
            return future.result(timeout=self.call_timeout_seconds)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TemporalUnavailable(
                self.config, f"it did not answer within {self.call_timeout_seconds:g} seconds"
            ) from None

    async def _with_client(self, work: Callable[[Client], Awaitable[T]]) -> T:
        client = await self._client_connected()
        try:
            return await work(client)
        except RPCError as error:
            if error.status in _SERVER_TROUBLE:
                raise TemporalUnavailable(
                    self.config, f"it did not answer ({error.message})"
                ) from error
            raise

    async def _client_connected(self) -> Client:
        # Connected once and reused: the client itself reconnects after a server restart.
        # Only a failed first connection is tried again, on the next call.
        async with self._connecting:
            if self._client is None:
                self._client = await connect(
                    self.config, connect_timeout=CONNECT_TIMEOUT, retry_config=CLIENT_RETRY
                )
                log.info("Connected to Temporal at %s (%s)", self.address, self.namespace)
            return self._client

    def close(self) -> None:
        """Stop the loop thread; the client's connection goes with it."""
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()
