"""Nothing leaks: when the session ends, no process the suite started is alive and no port it
opened still listens; otherwise the run fails, naming each one and the test that started it.

Every child of the test session inherits BOOKING_TEST_SESSION=<id> in its environment, and
so do their children, also those that moved to a session of their own and outlived their
parent (the launcher's server and worker): the check finds them however they were started.
What it finds, it kills, so a failed run leaves nothing behind either.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Generator, Iterable
from dataclasses import dataclass

import psutil
import pytest

SESSION_VARIABLE = "BOOKING_TEST_SESSION"
GRACE_SECONDS = 3.0
"""How long a process that was just told to stop may take before it counts as left behind."""

Address = tuple[str, int]


def processes_tagged(variable: str, value: str) -> list[psutil.Process]:
    """Every live process (ours excepted) whose environment has `variable` set to `value`."""
    found = []
    for process in psutil.process_iter():
        if process.pid == os.getpid():
            continue
        try:
            if (
                process.environ().get(variable) == value
                and process.status() != psutil.STATUS_ZOMBIE
            ):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def kill_all(processes: Iterable[psutil.Process]) -> None:
    """SIGKILL each process and wait (a few seconds at most) until each is gone."""
    processes = list(processes)
    for process in processes:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(processes, timeout=5)


def listening(process: psutil.Process) -> set[Address]:
    try:
        connections = process.net_connections(kind="inet")
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return set()
    return {
        (connection.laddr.ip, connection.laddr.port)
        for connection in connections
        if connection.status == psutil.CONN_LISTEN
    }


@dataclass
class TestWindow:
    nodeid: str
    started: float
    ended: float | None = None


class LeakCheck:
    """The session's tag, its own ports at the start, and when each test ran."""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex
        os.environ[SESSION_VARIABLE] = self.tag
        self.own_ports_at_start = listening(psutil.Process())
        self.windows: list[TestWindow] = []

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        window = TestWindow(item.nodeid, time.time())
        self.windows.append(window)
        try:
            return (yield)
        finally:
            window.ended = time.time()

    def started_by(self, process: psutil.Process) -> str:
        """The test that was running when `process` was created."""
        try:
            born = process.create_time()
        except psutil.NoSuchProcess:
            return "?"
        for window in reversed(self.windows):
            if window.started - 1 <= born <= (window.ended or time.time()) + 1:
                return window.nodeid
        return "outside any test"

    def leftovers(self) -> list[psutil.Process]:
        ours = {process.pid: process for process in processes_tagged(SESSION_VARIABLE, self.tag)}
        for child in psutil.Process().children(recursive=True):
            try:
                if child.status() != psutil.STATUS_ZOMBIE:
                    ours.setdefault(child.pid, child)
            except psutil.NoSuchProcess:
                continue
        return list(ours.values())

    def left_behind(self) -> tuple[list[str], set[Address]]:
        """Processes still alive after the grace period (described, then killed), and our
        own listening sockets opened since the session began."""
        deadline = time.monotonic() + GRACE_SECONDS
        processes = self.leftovers()
        while processes and time.monotonic() < deadline:
            time.sleep(0.1)
            processes = self.leftovers()
        described = []
        for process in processes:
            try:
                command = " ".join(process.cmdline()[:8])
            except psutil.NoSuchProcess:
                continue
            ports = ", ".join(f"{ip}:{port}" for ip, port in sorted(listening(process)))
            described.append(
                f"pid {process.pid} ({command})"
                + (f" listening on {ports}" if ports else "")
                + f", started during {self.started_by(process)}"
            )
        kill_all(processes)
        return described, listening(psutil.Process()) - self.own_ports_at_start

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        processes, ports = self.left_behind()
        if not processes and not ports:
            return
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = [f"left behind (now killed): {line}" for line in processes]
        lines += [f"still listening in the test process: {ip}:{port}" for ip, port in ports]
        if reporter is not None:
            reporter.write_line("")
            reporter.write_sep("=", "the suite left processes or ports behind", red=True)
            for line in lines:
                reporter.write_line(line)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_configure(config: pytest.Config) -> None:
    # Under mutmut (`make mutation`) the tests run inside mutmut's own process, beside its
    # fork server and workers; tools/mutmut_sandbox.py looks after the processes there.
    if "MUTANT_UNDER_TEST" not in os.environ:
        config.pluginmanager.register(LeakCheck(), "booking-leak-check")
