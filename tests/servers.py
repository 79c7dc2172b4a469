"""A real Temporal dev server for the length of a `with` block, for fixtures, and what it
counts of the requests it served."""

from __future__ import annotations

import re
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from launcher.ports import free_port
from launcher.processes import DevServer
from tests.sync_bridge import run_async


@contextmanager
def running_dev_server(log: IO[bytes] | None = None, **options: Any) -> Iterator[DevServer]:
    """An in-memory dev server on free ports (its metrics too), ready when the block starts;
    `options` go to `DevServer` (a `ui_port`, say)."""
    options.setdefault("metrics_port", free_port())
    server = DevServer(log=log, **options)
    server.start()
    try:
        run_async(server.wait_until_ready)
        yield server
    finally:
        server.kill()  # in memory: nothing to keep, no need to wait


_REQUESTS = re.compile(
    r'^service_requests\{namespace="(?P<namespace>[^"]*)",operation="(?P<operation>\w+)",'
    r'service_name="frontend"\} (?P<count>\d+)$',
    re.MULTILINE,
)


METRICS_REPORT_SECONDS = 1.0
"""The server's counters reach its metrics page once a second."""


def frontend_requests(server: DevServer, namespace: str = "default") -> Counter[str]:
    """The requests the server's frontend has answered for `namespace` until now, by
    operation (DescribeWorkflowExecution, QueryWorkflow, DescribeTaskQueue, ...), from its
    metrics: read once they have been reported."""
    time.sleep(METRICS_REPORT_SECONDS * 1.2)
    assert server.metrics_port is not None, "start the server with a metrics port"
    url = f"http://127.0.0.1:{server.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        metrics = response.read().decode()
    return Counter(
        {
            match["operation"]: int(match["count"])
            for match in _REQUESTS.finditer(metrics)
            if match["namespace"] == namespace
        }
    )
