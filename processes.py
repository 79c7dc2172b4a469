"""Start, kill and stop the demo's real processes: the Temporal dev server, workers, web form.

Used by the tests, the demo launcher and the soak tool, which all need processes they can
kill (a crash, SIGKILL) and start again on the same ports and data files.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from shared import TASK_QUEUE
from temporal_connection import task_queue_pollers

PROJECT_DIR = Path(__file__).resolve().parent

Output = IO[bytes] | int | None
"""Where a process's output goes: a file, `subprocess.PIPE` for the caller to read, or nowhere."""


def venv_binary(name: str) -> str:
    """A program installed beside this Python (the virtual environment's bin folder), or on PATH."""
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"`{name}` is not installed; run `pip install -e '.[test]'` in the virtual environment"
        )
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class DevServer:
    """`temporal server start-dev` on given ports; `db_filename` keeps its data across restarts."""

    port: int = field(default_factory=free_port)
    ui_port: int | None = None
    db_filename: Path | None = None
    namespace: str = "default"
    log_level: str = "error"
    log: Output = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str:
        """The Web UI as the presenter's browser opens it."""
        return f"http://localhost:{self.ui_port}"

    def command(self) -> list[str]:
        command = [
            venv_binary("temporal"),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--namespace",
            self.namespace,
            "--log-level",
            self.log_level,
        ]
        if self.ui_port is None:
            command.append("--headless")
        else:
            # No newsfeed: on stage the UI must not reach out to the internet.
            command += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
        if self.db_filename is not None:
            command += ["--db-filename", str(self.db_filename)]
        return command

    def start(self) -> None:
        if self.db_filename is not None:
            self.db_filename.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            self.command(),
            stdout=_output(self.log),
            stderr=subprocess.STDOUT,
            # Its own process group, so Ctrl-C in our terminal reaches us, not it.
            start_new_session=True,
        )

    async def wait_until_ready(self, within_seconds: float = 30.0) -> None:
        """Return once the frontend serves the namespace; raise if it dies or times out."""
        deadline = time.monotonic() + within_seconds
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"temporal dev server exited with {self.process.returncode}")
            try:
                client = await Client.connect(self.address, namespace=self.namespace)
                await client.workflow_service.describe_namespace(
                    DescribeNamespaceRequest(namespace=self.namespace)
                )
                return
            except Exception as error:
                last_error = error
                await asyncio.sleep(0.05)
        raise TimeoutError(f"temporal dev server at {self.address} not ready: {last_error}")

    async def wait_until_ui_ready(self, within_seconds: float = 30.0) -> None:
        """Return once the Web UI answers 200."""
        if self.ui_port is None:
            raise ValueError("this dev server runs headless: it has no Web UI")
        await wait_until_answers(
            f"http://127.0.0.1:{self.ui_port}/", self.process, "Temporal Web UI", within_seconds
        )

    def kill(self) -> None:
        kill(self.process)

    def stop(self) -> None:
        stop(self.process)


@dataclass
class WorkerProcess:
    """`python run_worker.py` against `address`, with its own ledger file.

    `script` runs another worker with the same command line (the benchmark's no-op worker).
    """

    address: str
    ledger: Path
    service_latency_seconds: float = 0.0
    extra_args: list[str] = field(default_factory=list)
    script: Path = PROJECT_DIR / "run_worker.py"
    log: Output = None
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(self.script),
                "--ledger",
                str(self.ledger),
                "--service-latency",
                str(self.service_latency_seconds),
                *self.extra_args,
            ],
            env=_python_environment(self.address),
            stdout=_output(self.log),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    async def wait_until_polling(
        self, client: Client, task_queue: str = TASK_QUEUE, within_seconds: float = 30.0
    ) -> None:
        """Return once this very process polls `task_queue` (a worker that died a minute ago
        still shows in the server's list of pollers, so the check matches the pid)."""
        await _wait_until(
            lambda: self._is_polling(client, task_queue),
            self.process,
            f"worker polling {task_queue!r} on {self.address}",
            within_seconds,
        )

    async def _is_polling(self, client: Client, task_queue: str) -> bool:
        assert self.process is not None
        # A worker's identity is `pid@host` unless it sets another one.
        identity_prefix = f"{self.process.pid}@"
        pollers = await task_queue_pollers(client, task_queue)
        return any(identity.startswith(identity_prefix) for identity in pollers)

    def kill(self) -> None:
        kill(self.process)

    def stop(self) -> None:
        stop(self.process)


@dataclass
class WebFormProcess:
    """`python run_workflow.py` against `address`, the way the demo script starts it."""

    address: str
    port: int = field(default_factory=free_port)
    temporal_ui: str = "http://localhost:8080"
    log: Output = None
    process: subprocess.Popen[bytes] | None = None
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(PROJECT_DIR / "run_workflow.py"),
                "--host",
                self.host,
                "--port",
                str(self.port),
                "--temporal-ui",
                self.temporal_ui,
            ],
            env=_python_environment(self.address),
            stdout=_output(self.log),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_until_ready(self, within_seconds: float = 20.0) -> None:
        """Return once GET / answers 200; raise if the process dies or it times out."""
        deadline = time.monotonic() + within_seconds
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"run_workflow.py exited with {self.process.returncode}")
            if answers_200(f"{self.url}/"):
                return
            time.sleep(0.05)
        raise TimeoutError(f"web form at {self.url} not ready within {within_seconds:g} s")

    def kill(self) -> None:
        kill(self.process)

    def stop(self) -> None:
        stop(self.process)


def _output(log: Output) -> IO[bytes] | int:
    return subprocess.DEVNULL if log is None else log


def _python_environment(address: str) -> dict[str, str]:
    # Unbuffered, so each line a Python child prints shows at once in a piped log.
    return {**os.environ, "TEMPORAL_ADDRESS": address, "PYTHONUNBUFFERED": "1"}


async def wait_until_answers(
    url: str,
    process: subprocess.Popen[bytes] | None,
    what: str,
    within_seconds: float = 30.0,
) -> None:
    """Return once `url` answers 200; raise if `process` dies first or time runs out."""
    await _wait_until(
        lambda: asyncio.to_thread(answers_200, url), process, f"{what} at {url}", within_seconds
    )


def answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            status: int = response.status
            return status == 200
    except (urllib.error.URLError, OSError):
        return False


async def _wait_until(
    check: Callable[[], Awaitable[bool]],
    process: subprocess.Popen[bytes] | None,
    what: str,
    within_seconds: float,
) -> None:
    deadline = time.monotonic() + within_seconds
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {process.returncode}")
        try:
            if await check():
                return
        except Exception as error:
            last_error = error
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{what}: not ready within {within_seconds:g} s ({last_error})")


class PortInUse(Exception):
    """A port the demo needs is taken; the message names the port and what holds it."""


def ensure_port_free(port: int, what: str, option: str, host: str = "127.0.0.1") -> None:
    """Raise `PortInUse` naming the holding process if `port` cannot be listened on."""
    with socket.socket() as probe:
        # As the servers themselves do, so a port that only lingers in TIME_WAIT counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
            return
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
    raise PortInUse(
        f"Port {port} ({what}) is already in use by {port_holder(port)}. "
        f"Stop that process, or choose another port with {option}."
    )


def port_holder(port: int) -> str:
    """Which process listens on `port`, as a person would want to read it."""
    try:
        listeners = [
            connection
            for connection in psutil.net_connections(kind="tcp")
            # laddr is (ip, port), or () for a socket that is not bound yet.
            if connection.status == psutil.CONN_LISTEN and connection.laddr[1:2] == (port,)
        ]
    except psutil.AccessDenied:
        listeners = []
    for listener in listeners:
        if listener.pid is not None:
            return f"pid {listener.pid} ({_command_line(listener.pid)})"
    return f"a process this user cannot see (find it with `sudo lsof -i :{port}`)"


def _command_line(pid: int) -> str:
    try:
        command = " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return "command unknown"
    return command if len(command) <= 120 else command[:117] + "..."


async def wait_until_polling(
    client: Client, task_queue: str, workers: list[WorkerProcess], within_seconds: float = 60.0
) -> None:
    """Return once every one of `workers` polls `task_queue`; raise if one exits first."""
    await asyncio.gather(
        *(worker.wait_until_polling(client, task_queue, within_seconds) for worker in workers)
    )


def kill(process: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL to the process and its group: a crash, not a shutdown."""
    if process is not None and process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def stop(process: subprocess.Popen[bytes] | None, within_seconds: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it has not stopped in time."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(within_seconds)
    except subprocess.TimeoutExpired:
        kill(process)
