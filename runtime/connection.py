"""Where the Temporal server is: one place for the worker, the web form and the tools.

The address, namespace, TLS and API key come from Temporal's environment configuration
(`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS*`, a profile
in `temporal.toml` chosen by `TEMPORAL_PROFILE`), so the same code runs against the local
dev server, a self-hosted cluster or Temporal Cloud.

When connecting fails, `TemporalUnavailable` says so in one line: the address, what went
wrong and the setting to check. The SDK reports every failure as a `RuntimeError` holding a
Rust debug dump ("Failed client connect: Server connection error: tonic::transport::Error(
Transport, ConnectError(Custom { kind: InvalidData, error: InvalidCertificate(UnknownIssuer)
}))"); `explain_connect_failure` turns the dumps seen with temporalio 1.35 into that line.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Mapping
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
CONNECT_TIMEOUT = timedelta(seconds=4)
"""How long a whole connection attempt may take: TCP, TLS handshake and the first call."""

ADDRESS = "TEMPORAL_ADDRESS"
TLS = "TEMPORAL_TLS"
SERVER_CA = "TEMPORAL_TLS_SERVER_CA_CERT_PATH"
SERVER_NAME = "TEMPORAL_TLS_SERVER_NAME"
CLIENT_CERT = "TEMPORAL_TLS_CLIENT_CERT_PATH"
CLIENT_KEY = "TEMPORAL_TLS_CLIENT_KEY_PATH"
START_OR_POINT = f"Start one with `{START_DEV_SERVER}`, or point {ADDRESS} at a running server."


class TemporalUnavailable(Exception):
    """The Temporal server cannot be reached, refuses the connection or does not answer in
    time. The message names the server, what went wrong and what to do, in one line a
    presenter can act on."""

    def __init__(
        self, config: ClientConnectConfig, reason: str, advice: str = START_OR_POINT
    ) -> None:
        self.address = str(config.get("target_host", DEFAULT_ADDRESS))
        self.namespace = str(config.get("namespace", DEFAULT_NAMESPACE))
        super().__init__(
            f"Cannot reach the Temporal server at {self.address} (namespace {self.namespace}): "
            f"{reason}. {advice}"
        )


def connect_config(environ: Mapping[str, str] | None = None) -> ClientConnectConfig:
    """The connection settings from the environment (`environ`, by default this process's),
    with the dev server's defaults. A setting that cannot be used (a certificate file that
    is not there) raises `TemporalUnavailable` naming it."""
    env = dict(os.environ if environ is None else environ)
    try:
        config = ClientConfig.load_client_connect_config(override_env_vars=env)
    except (OSError, ValueError, RuntimeError) as error:
        wanted = ClientConnectConfig(
            target_host=env.get(ADDRESS, DEFAULT_ADDRESS),
            namespace=env.get("TEMPORAL_NAMESPACE", DEFAULT_NAMESPACE),
        )
        raise TemporalUnavailable(wanted, *_explain_config_failure(error, env)) from error
    config.setdefault("target_host", DEFAULT_ADDRESS)
    config.setdefault("namespace", DEFAULT_NAMESPACE)
    return config


def _explain_config_failure(error: BaseException, env: Mapping[str, str]) -> tuple[str, str]:
    # The SDK reads the certificate files while loading the settings; a missing one raises
    # FileNotFoundError with the path but not the setting that named it.
    for setting in (SERVER_CA, CLIENT_CERT, CLIENT_KEY):
        path = env.get(setting)
        if path and not os.path.isfile(path):
            return f"{setting} names {path}, which is not a readable file", f"Check {setting}."
    return (
        f"its connection settings cannot be read ({error})",
        "Check the TEMPORAL_* environment variables and TEMPORAL_CONFIG_FILE.",
    )


async def connect(
    config: ClientConnectConfig | None = None,
    connect_timeout: timedelta = CONNECT_TIMEOUT,
    **client_options: Any,
) -> Client:
    """Connect within `connect_timeout`, or raise `TemporalUnavailable` with one line.

    The SDK's own `connect_timeout` bounds only the TCP connect: a server that accepts the
    connection and then says nothing (frozen, or not a Temporal server) would stall a TLS
    handshake for minutes. The timeout here bounds the whole attempt. A process that gave up
    this way leaves through `exit_without_finalizing`: the abandoned attempt goes on in the
    SDK's Rust runtime until the peer closes.
    """
    config = config or connect_config()
    try:
        async with asyncio.timeout(connect_timeout.total_seconds()):
            return await Client.connect(**config, connect_timeout=connect_timeout, **client_options)
    except (RuntimeError, ValueError, TimeoutError) as error:
        # The cause (a long transport error) stays on the exception for a debugger.
        raise TemporalUnavailable(
            config, *explain_connect_failure(error, config, connect_timeout)
        ) from error


def explain_connect_failure(
    error: BaseException, config: ClientConnectConfig, timeout: timedelta = CONNECT_TIMEOUT
) -> tuple[str, str]:
    """What went wrong and which setting to check, for an `error` that `Client.connect(**config)`
    raised (or the `TimeoutError` of a bound around it). Never raises."""
    text = str(error)
    tls = config.get("tls") or None
    has_ca = has_client_cert = False
    if tls is not None and tls is not True:
        has_ca = tls.server_root_ca_cert is not None
        has_client_cert = tls.client_cert is not None
    handshake = "the TLS handshake failed"
    alert = re.search(r"received fatal alert: (\w+)", text)

    if isinstance(error, TimeoutError) or "Timeout expired" in text:
        seconds = timeout.total_seconds()
        return f"it accepted the connection but did not answer within {seconds:g} seconds", (
            START_OR_POINT
        )
    if isinstance(error, ValueError) and "client cert and private key" in text:
        return f"{CLIENT_CERT} and {CLIENT_KEY} go together", "Set both, or neither."
    if "tcp connect error" in text:
        if "ConnectionRefused" in text or "Connection refused" in text:
            return "nothing listens there (connection refused)", START_OR_POINT
        return f"no connection can be opened ({_quoted_reason(text)})", f"Check {ADDRESS}."
    if "dns error" in text:
        return "its host name does not resolve", f"Check {ADDRESS}."

    # The server's certificate, as this client judged it.
    if "InvalidCertificate(UnknownIssuer)" in text or "InvalidCertificate(BadSignature)" in text:
        if has_ca:
            return (
                f"{handshake}: the server's certificate is not signed by the CA in {SERVER_CA}",
                f"Check {SERVER_CA}: it must be the CA that signed the server's certificate.",
            )
        return (
            f"{handshake}: the server's certificate is not signed by a CA this machine trusts",
            f"Set {SERVER_CA} to the CA that signed it.",
        )
    if "NotValidForName" in text:
        expected = re.search(r'expected: \w+\("?([^")]+)"?\)', text)
        name = expected.group(1) if expected else "the name dialled"
        return f"{handshake}: the server's certificate is not valid for {name}", (
            f"Check {SERVER_NAME} or the host in {ADDRESS}: it must be a name in the certificate."
        )
    if "InvalidCertificate(Expired" in text or "InvalidCertificate(NotValidYet" in text:
        return f"{handshake}: the server's certificate is expired or not yet valid", (
            "Renew the server's certificate, or check this machine's clock."
        )
    if "InvalidCertificate(" in text:
        return f"{handshake}: the server's certificate was refused", f"Check {SERVER_CA}."

    # This client's certificate, as the server judged it: a TLS alert.
    if alert is not None:
        name = alert.group(1)
        if name == "CertificateRequired" or (
            name in ("HandshakeFailure", "BadCertificate") and not has_client_cert
        ):
            return f"{handshake}: the server requires a client certificate", (
                f"Set {CLIENT_CERT} and {CLIENT_KEY}."
            )
        if has_client_cert:
            return f"{handshake}: the server refused the client certificate (alert {name})", (
                f"Check {CLIENT_CERT}: it must be signed by a CA the server trusts."
            )
        return f"{handshake}: the server sent the alert {name}", (
            "Check the TEMPORAL_TLS_* settings."
        )
    if "KeyMismatch" in text or "InconsistentKeys" in text:
        return f"the key in {CLIENT_KEY} does not belong to the certificate in {CLIENT_CERT}", (
            f"Check {CLIENT_CERT} and {CLIENT_KEY}: they must be a pair."
        )

    # TLS spoken to something that does not speak it, or the reverse.
    if "H2NotNegotiated" in text:
        return "it accepted TLS but not HTTP/2 (ALPN h2)", (
            f"Check {ADDRESS}: it must be a Temporal frontend's gRPC port."
        )
    if "InvalidMessage(" in text or "InvalidContentType" in text:
        return f"{handshake}: the server does not speak TLS there", (
            f"Unset {TLS} and the TEMPORAL_TLS_* settings, or point {ADDRESS} at its TLS port."
        )
    if any(word in text for word in _CLOSED):
        if tls is None:
            return "it closed the connection", (
                f"If it requires TLS, set {TLS}=true and {SERVER_CA}."
            )
        if not has_client_cert:
            return "it closed the connection after the TLS handshake", (
                f"If it requires a client certificate, set {CLIENT_CERT} and {CLIENT_KEY}."
            )
        return "it closed the connection after the TLS handshake", (
            f"Check that it accepts the certificate in {CLIENT_CERT}."
        )
    return f"the connection failed ({_quoted_reason(text) or type(error).__name__})", (
        f"Check {ADDRESS} and the TEMPORAL_TLS_* settings."
    )


_CLOSED = ("BrokenPipe", "UnexpectedEof", "ConnectionReset", "operation was canceled")
"""How the SDK words "the server closed the connection"; which one depends on the timing."""


def _quoted_reason(text: str) -> str:
    """The innermost quoted message of a Rust error dump, else its first line, short."""
    quoted: list[str] = re.findall(r'(?:error|message): "([^"]+)"', text)
    return quoted[-1] if quoted else (text.splitlines() or [""])[0][:160]


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
