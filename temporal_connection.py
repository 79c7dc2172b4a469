"""Where the Temporal server is: one place for the worker, the web form and the tools.

The address, namespace, TLS and API key come from Temporal's environment configuration
(`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS*`, a profile
in `temporal.toml` chosen by `TEMPORAL_PROFILE`), so the same code runs against the local
dev server, a self-hosted cluster or Temporal Cloud.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

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


async def worker_is_polling(client: Client, task_queue: str) -> bool:
    """Whether a worker has polled `task_queue` for workflow tasks lately."""
    return len(await polling_workers(client, task_queue)) > 0


async def polling_workers(client: Client, task_queue: str) -> set[str]:
    """The identities of the workers that polled `task_queue` for workflow tasks lately."""
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return {poller.identity for poller in response.pollers}
