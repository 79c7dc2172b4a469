"""Where the Temporal server is: one place for the worker, the web form and the tools.

The address, namespace, TLS and API key come from Temporal's environment configuration
(`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS*`, a profile
in `temporal.toml` chosen by `TEMPORAL_PROFILE`), so the same code runs against the local
dev server, a self-hosted cluster or Temporal Cloud.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import timedelta
from typing import Any, NoReturn

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.envconfig import ClientConfig, ClientConnectConfig

DEFAULT_ADDRESS = "localhost:7233"
DEFAULT_NAMESPACE = "default"
START_DEV_SERVER = "temporal server start-dev --ui-port 8080"


def connect_config() -> ClientConnectConfig:
    """The connection settings from the environment, with the dev server's defaults."""
    config = ClientConfig.load_client_connect_config()
    config.setdefault("target_host", DEFAULT_ADDRESS)
    config.setdefault("namespace", DEFAULT_NAMESPACE)
    return config


class TemporalUnreachable(Exception):
    """No Temporal server answers at the configured address; the message says what to do."""


async def connect(
    config: ClientConnectConfig | None = None,
    connect_timeout: timedelta = timedelta(seconds=5),
    **client_options: Any,
) -> Client:
    """Connect, or raise `TemporalUnreachable` with one line a presenter can act on."""
    config = config or connect_config()
    try:
        return await Client.connect(**config, connect_timeout=connect_timeout, **client_options)
    except RuntimeError as error:
        # The cause (a long transport error) stays on the exception for a debugger; the
        # presenter gets one line that says what to do.
        raise TemporalUnreachable(
            f"Cannot reach the Temporal server at {config['target_host']} "
            f"(namespace {config['namespace']}). "
            f"Start one with `{START_DEV_SERVER}`, or set TEMPORAL_ADDRESS."
        ) from error


async def worker_is_polling(
    client: Client, task_queue: str, rpc_timeout: timedelta = timedelta(seconds=5)
) -> bool:
    """Whether a worker has polled `task_queue` for workflow tasks lately (the server keeps
    listing a worker for a while after it died)."""
    return len(await task_queue_pollers(client, task_queue, rpc_timeout)) > 0


async def task_queue_pollers(
    client: Client, task_queue: str, rpc_timeout: timedelta = timedelta(seconds=5)
) -> list[str]:
    """The identities (`pid@host` unless a worker sets another) of the workers that polled
    `task_queue` for workflow tasks lately."""
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        ),
        timeout=rpc_timeout,
    )
    return [poller.identity for poller in response.pollers]


def exit_without_finalizing(code: int) -> NoReturn:
    """End the process now, skipping the interpreter's finalization.

    The Temporal client's Rust threads can still hold Python thread states while the
    interpreter finalizes, which aborts a process that had finished cleanly ("Fatal Python
    error: PyGILState_Release"; temporalio/sdk-python issue 300). A process that used a
    client leaves through here, once its output is flushed.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
