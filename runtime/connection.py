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

from runtime.hints import START_DEV_SERVER

DEFAULT_ADDRESS = "localhost:7233"
DEFAULT_NAMESPACE = "default"


def connect_config() -> ClientConnectConfig:
    """The connection settings from the environment, with the dev server's defaults."""
    config = ClientConfig.load_client_connect_config()
    config.setdefault("target_host", DEFAULT_ADDRESS)
    config.setdefault("namespace", DEFAULT_NAMESPACE)
    return config


class TemporalUnavailable(Exception):
    """The Temporal server cannot be reached or does not answer in time. The message names
    the server and says what to do, in one line a presenter can act on."""

    def __init__(self, config: ClientConnectConfig, reason: str) -> None:
        self.address = str(config.get("target_host"))
        self.namespace = str(config.get("namespace"))
        super().__init__(
            f"Cannot reach the Temporal server at {self.address} (namespace {self.namespace}): "
            f"{reason}. Start one with `{START_DEV_SERVER}`, or point TEMPORAL_ADDRESS at a "
            "running server."
        )


async def connect(
    config: ClientConnectConfig | None = None,
    connect_timeout: timedelta = timedelta(seconds=5),
    **client_options: Any,
) -> Client:
    """Connect, or raise `TemporalUnavailable`."""
    config = config or connect_config()
    try:
        return await Client.connect(**config, connect_timeout=connect_timeout, **client_options)
    except RuntimeError as error:
        # The cause (a long transport error) stays on the exception for a debugger.
        raise TemporalUnavailable(config, "nothing answers there") from error


async def task_queue_pollers(
    client: Client, task_queue: str, rpc_timeout: timedelta = timedelta(seconds=5)
) -> list[str]:
    """The identities (`pid@host` unless a worker sets another) of the workers that polled
    `task_queue` for workflow tasks lately (the server keeps listing a worker for a while
    after it died)."""
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        ),
        timeout=rpc_timeout,
    )
    return [poller.identity for poller in response.pollers]
