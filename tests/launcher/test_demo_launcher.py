"""The one-command demo launcher, with real processes on free ports: it starts the parts, waits
until each answers, obeys `kill`/`start`, leaves no process behind when it stops, even when it
is killed with SIGKILL, and runs the worker and the form against a server that requires mTLS."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from temporalio.client import Client

from book_workflow import BookingWorkflow
from launcher.options import DemoPorts
from launcher.ports import free_port
from launcher.processes import DevServer
from runtime import PROJECT_DIR
from runtime.connection import task_queue_pollers
from shared import TASK_QUEUE, BookingInput, new_workflow_id
from simulated_services import BookingServices
from tests.leaks import kill_all, processes_tagged
from tests.tls_proxy import TlsProxy, clean_env, make_certificates, tls_env
from tests.web_form.helpers import book_and_watch
from tools.form_visitor import FormVisitor

pytestmark = pytest.mark.real_server

LAUNCHER_VARIABLE = "BOOKING_TEST_LAUNCHER"


class Launcher:
    """`python run_demo.py ...` in its own process group, as a terminal would run it."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        # Its children inherit the tag, so they are found after the launcher has gone.
        self.tag = uuid.uuid4().hex
        self.process = subprocess.Popen(
            [sys.executable, str(PROJECT_DIR / "run_demo.py"), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {}), LAUNCHER_VARIABLE: self.tag},
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._new_lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in iter(self.process.stdout.readline, b""):
            self._new_lines.put(raw.decode(errors="replace").rstrip("\n"))

    def wait_for_line(self, text: str, within_seconds: float = 30.0) -> str:
        deadline = time.monotonic() + within_seconds
        while time.monotonic() < deadline:
            try:
                line = self._new_lines.get(timeout=0.1)
            except queue.Empty:
                # Ended, and all it printed read: its last lines may lag behind its exit.
                ended = self.process.poll() is not None and not self._reader.is_alive()
                if ended and self._new_lines.empty():
                    break
                continue
            self.lines.append(line)
            if text in line:
                return line
        raise AssertionError(f"no line with {text!r}; output so far:\n" + "\n".join(self.lines))

    def type(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command.encode() + b"\n")
        self.process.stdin.flush()

    def press_ctrl_c(self) -> None:
        """SIGINT to the launcher's process group: what Ctrl-C in its terminal does."""
        os.killpg(self.process.pid, signal.SIGINT)

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def wait_for_exit(self, within_seconds: float = 30.0) -> int:
        returncode = self.process.wait(within_seconds)
        # Its last lines may still be on their way through the pipe: read up to its end.
        self._reader.join(timeout=5)
        while not self._new_lines.empty():
            self.lines.append(self._new_lines.get())
        return returncode

    def started(self) -> list[psutil.Process]:
        """Every live process it started, also those in sessions of their own that outlived it."""
        return processes_tagged(LAUNCHER_VARIABLE, self.tag)

    def kill(self) -> None:
        """SIGKILL the launcher and everything it started, whether it still runs or not."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        kill_all(self.started())


@pytest.fixture
def launchers() -> Iterator[list[Launcher]]:
    """Whatever a test starts is killed at the end, even when the test fails half way."""
    started: list[Launcher] = []
    yield started
    for launcher in started:
        launcher.kill()


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def answers_200(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=5) as response:
        status: int = response.status
        return status == 200


def port_args() -> tuple[list[str], DemoPorts]:
    ports = DemoPorts.free()
    return ports.options(), ports


def assert_all_gone(processes: list[psutil.Process], launcher: Launcher) -> None:
    left = [process for process in processes if not gone(process)]
    assert left == [], "left behind:\n" + "\n".join(launcher.lines)


async def test_server_and_worker_come_back_after_kill_and_start_and_nothing_is_left_on_ctrl_c(
    launchers: list[Launcher], tmp_path: Path
) -> None:
    ledger = BookingServices(tmp_path / "ledger.sqlite3")
    ledger.reserve("booking-from-yesterday", "car", "Old car", "Someone")
    args, ports = port_args()
    launcher = Launcher(
        "--only",
        "server",
        "worker",
        "--ledger",
        str(ledger.ledger_path),
        "--reset-ledger",
        "--service-latency",
        "0",
        "--db-filename",
        str(tmp_path / "data" / "temporal.sqlite3"),
        *args,
    )
    launchers.append(launcher)

    launcher.wait_for_line("Ready in")
    assert ledger.reservations() == [], "--reset-ledger empties the ledger"
    assert answers_200(f"http://127.0.0.1:{ports.ui}/")
    client = await Client.connect(f"127.0.0.1:{ports.server}")
    worker_line = launcher.wait_for_line("polls task queue")
    first_worker_pid = int(worker_line.split("pid ")[1].split()[0])
    assert any(
        identity.startswith(f"{first_worker_pid}@")
        for identity in await task_queue_pollers(client, TASK_QUEUE)
    )
    started_processes = launcher.descendants()
    assert len(started_processes) >= 2, "the server and the worker run as the launcher's children"

    launcher.type("kill worker")
    launcher.wait_for_line("worker was killed by SIGKILL")
    assert not psutil.pid_exists(first_worker_pid) or gone(psutil.Process(first_worker_pid))
    launcher.type("start worker")
    launcher.wait_for_line("worker is back")
    launcher.type("kill server")
    launcher.wait_for_line("server was killed by SIGKILL")
    launcher.type("start server")
    launcher.wait_for_line("server is back")
    assert (tmp_path / "data" / "temporal.sqlite3").exists()
    started_processes += launcher.descendants()
    handle = await client.start_workflow(
        BookingWorkflow.run,
        BookingInput("Grace Hopper", "Jeep", "Hilton", "UA 1", network_delay_seconds=0),
        id=new_workflow_id("Grace Hopper"),
        task_queue=TASK_QUEUE,
    )
    result = await asyncio.wait_for(handle.result(), timeout=30)
    assert result.outcome == "booked", "the restarted worker does the work"
    launcher.type("ledger")
    for service in ("car", "hotel", "flight"):
        line = launcher.wait_for_line(result.booked[service])
        assert handle.id in line
        assert service in line

    launcher.press_ctrl_c()
    assert launcher.wait_for_exit() == 0
    assert_all_gone(started_processes, launcher)
    assert "Stopped" in launcher.lines[-1]


async def test_worker_alone_uses_the_server_from_the_environment_and_stops_on_sigterm(
    launchers: list[Launcher], tmp_path: Path
) -> None:
    server = DevServer()
    server.start()
    try:
        await server.wait_until_ready()
        launcher = Launcher(
            "--only",
            "worker",
            "--ledger",
            str(tmp_path / "ledger.sqlite3"),
            "--service-latency",
            "0",
            env={"TEMPORAL_ADDRESS": server.address},
        )
        launchers.append(launcher)
        launcher.wait_for_line("Ready in")
        launcher.wait_for_line(f"Temporal server   {server.address}")
        started_processes = launcher.descendants()

        client = await Client.connect(server.address)
        handle = await client.start_workflow(
            BookingWorkflow.run,
            BookingInput("Alan Turing", "Mini", "Savoy", "BA 2", network_delay_seconds=0),
            id=new_workflow_id("Alan Turing"),
            task_queue=TASK_QUEUE,
        )
        assert (await asyncio.wait_for(handle.result(), timeout=30)).outcome == "booked"

        launcher.process.send_signal(signal.SIGTERM)
        assert launcher.wait_for_exit() == 0
        assert_all_gone(started_processes, launcher)
        assert server.process is not None
        assert server.process.poll() is None, "a server it did not start, it leaves running"
    finally:
        server.stop()


def test_a_port_in_use_names_the_port_and_its_holder_and_nothing_starts(
    launchers: list[Launcher], tmp_path: Path
) -> None:
    args, ports = port_args()
    data = tmp_path / "data"
    ledger = tmp_path / "ledger.sqlite3"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", ports.ui))
        holder.listen()
        launcher = Launcher(
            "--only",
            "server",
            "worker",
            "--db-filename",
            str(data / "temporal.sqlite3"),
            "--ledger",
            str(ledger),
            *args,
        )
        launchers.append(launcher)

        line = launcher.wait_for_line("already in use")
        assert launcher.wait_for_exit() == 2
    assert f"Port {ports.ui} (Temporal Web UI)" in line
    assert f"pid {os.getpid()}" in line, "it names the process holding the port"
    assert "--ui-port" in line, "and says how to choose another port"
    # Nothing started: a server would have made its data folder, a worker its ledger.
    assert not data.exists()
    assert not ledger.exists()
    assert launcher.started() == []
    assert [line.split("|")[0].strip() for line in launcher.lines] == ["demo"], launcher.lines


def port_is_free(port: int) -> bool:
    """Whether a server could listen on `port` now (as the demo's parts bind it)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_starts_all_three_parts_and_a_sigkill_to_it_stops_them_and_frees_their_ports(
    launchers: list[Launcher], tmp_path: Path
) -> None:
    """Ctrl-C is the other tests' ending: all three parts together, and the form with the
    worker over mTLS. On the way, a live page polls the form for a minute's worth: the form's
    part of the terminal shows its booking and nothing else."""
    args, ports = port_args()
    launcher = Launcher("--ledger", str(tmp_path / "ledger.sqlite3"), *args)
    launchers.append(launcher)
    launcher.wait_for_line("Ready in")
    assert answers_200(f"http://127.0.0.1:{ports.form}/")
    assert answers_200(f"http://127.0.0.1:{ports.ui}/")
    parts = launcher.descendants()
    assert len(parts) >= 3
    if not any("Booking form on" in line for line in launcher.lines):
        launcher.wait_for_line("Booking form on")  # its copy thread may lag behind "Ready in"
    ready = len(launcher.lines)
    workflow_id = book_and_watch(f"http://127.0.0.1:{ports.form}")
    time.sleep(0.5)  # a line the polls made would be on its way through the form's pipe
    launcher.type("parts")
    launcher.wait_for_line("form: running")
    # The form's part of the terminal while a live page polled: the booking, nothing else.
    form_lines = [line for line in launcher.lines[ready:] if "form |" in line]
    assert len(form_lines) == 1, "\n".join(form_lines)
    assert f"Booking {workflow_id} for " in form_lines[0]
    demo_ports = (ports.server, ports.ui, ports.form)
    assert not any(port_is_free(port) for port in demo_ports)
    try:
        launcher.process.kill()  # SIGKILL to the launcher alone: a crashed terminal
        killed = time.monotonic()
        while time.monotonic() - killed < 5:
            left = [part for part in parts if not gone(part)]
            taken = [
                port for port in (ports.server, ports.ui, ports.form) if not port_is_free(port)
            ]
            if not left and not taken:
                break
            time.sleep(0.05)
        stopped_after = time.monotonic() - killed
    finally:
        for part in parts:  # whatever is left, so that a failure leaves nothing behind
            with contextlib.suppress(psutil.NoSuchProcess):
                part.kill()

    assert left == [], f"still running {stopped_after:.1f} s after the launcher died"
    assert taken == [], f"ports still taken {stopped_after:.1f} s after the launcher died"
    assert stopped_after < 5


async def test_the_worker_and_the_form_book_a_trip_over_mtls(
    launchers: list[Launcher], dev_server: DevServer, tmp_path: Path
) -> None:
    """`run_demo.py --only worker form` against a server that requires mTLS, configured only
    through Temporal's environment variables."""
    certificates = make_certificates(tmp_path / "certs")
    upstream = ("127.0.0.1", dev_server.port)
    with TlsProxy(upstream, certificates, require_client_cert=True) as proxy:
        ledger = BookingServices(tmp_path / "ledger.sqlite3")
        form_port = free_port()
        env = clean_env(tmp_path) | tls_env(proxy, certificates, client_cert=True)
        launcher = Launcher(
            *("--only", "worker", "form", "--form-port", str(form_port)),
            *("--ledger", str(ledger.ledger_path), "--service-latency", "0"),
            env=env,
        )
        launchers.append(launcher)
        launcher.wait_for_line("Ready in")
        launcher.wait_for_line(f"Temporal server   {proxy.address}")

        visitor = FormVisitor(f"http://127.0.0.1:{form_port}")
        trip = BookingInput(
            "Whitfield Diffie", "Saab", "Claridge's", "SK 1", network_delay_seconds=0
        )
        workflow_id = await asyncio.to_thread(visitor.book, trip)
        outcome = await asyncio.to_thread(visitor.watch, workflow_id, 30)

        started_processes = launcher.descendants()
        launcher.press_ctrl_c()
        assert launcher.wait_for_exit() == 0
        assert_all_gone(started_processes, launcher)
    assert outcome == "booked"
    # Our worker did the work (another test's worker may poll the same server), over mTLS.
    rows = [row for row in ledger.reservations() if row.workflow_id == workflow_id]
    assert sorted(row.service for row in rows if row.state == "booked") == [
        "car",
        "flight",
        "hotel",
    ]
    # The launcher's check, the worker, its readiness check and the form: all through the proxy.
    assert len(proxy.handshakes) >= 3
    assert all(h.alpn == "h2" and h.client_subject is not None for h in proxy.handshakes)
    ledger.close()
