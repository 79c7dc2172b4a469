"""Ports: a free one for a test, and a clear message when one the demo needs is taken."""

from __future__ import annotations

import errno
import random
import socket
import threading
from pathlib import Path

import psutil

LOWEST_PICKED = 10_000
"""Below it, well-known and registered services are more likely to listen."""

_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_FIRST_EPHEMERAL_ELSEWHERE = 49152
"""IANA's dynamic range, where macOS and Windows hand out ports."""


def ports_nobody_is_handed() -> range:
    """The ports the system never hands out by itself: above LOWEST_PICKED, below the range it
    takes a port from for `bind(0)` and for each outgoing connection."""
    try:
        first_ephemeral = int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        first_ephemeral = _FIRST_EPHEMERAL_ELSEWHERE
    return range(LOWEST_PICKED, first_ephemeral)


class PortPicker:
    """Hands out ports from `ports` in turn, each one nothing listens on when it is picked.

    Not `bind(0)`: a port the system handed us can be handed to anybody else who asks before
    our server binds it, and the dev server asks for its HTTP port and its internal services'
    ports that way. From a range the system never hands out, only another picker can take it;
    give pickers that run at once ranges of their own (`share_out`). With no such range (a
    system that hands out every port), it takes what the system hands out, as a last resort.
    """

    def __init__(self, ports: range) -> None:
        self.ports = ports
        self._next = random.randrange(len(ports)) if ports else 0
        self._lock = threading.Lock()

    def __call__(self) -> int:
        if not self.ports:
            return _handed_by_the_system()
        with self._lock:
            for _ in range(len(self.ports)):
                port = self.ports[self._next]
                self._next = (self._next + 1) % len(self.ports)
                if can_listen_on(port):
                    return port
        raise OSError(errno.EADDRINUSE, f"every port in {self.ports} is in use")


def _handed_by_the_system() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def can_listen_on(port: int, host: str = "127.0.0.1") -> bool:
    """Whether nothing listens on `port` (other errors than "in use" are raised)."""
    with socket.socket() as probe:
        # As the servers themselves do, so a port that only lingers in TIME_WAIT counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            return False
        return True


_picker = PortPicker(ports_nobody_is_handed())


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now, for a server about to be started: one
    no other program is handed meanwhile (see `PortPicker`)."""
    return _picker()


def share_out(share: int, shares: int) -> None:
    """From now on, pick free ports from share number `share` (counting from 0) of `shares`
    equal parts of the range: processes that pick at once, each with its own share, never pick
    the same port."""
    global _picker
    _picker = PortPicker(share_of(ports_nobody_is_handed(), share, shares))


def share_of(ports: range, share: int, shares: int) -> range:
    """Part number `share` (from 0) of `ports` cut into `shares` equal parts."""
    if not 0 <= share < shares:
        raise ValueError(f"share {share} of {shares}: shares count from 0 to {shares - 1}")
    size = len(ports) // shares
    return ports[share * size : (share + 1) * size]


class PortInUse(Exception):
    """A port the demo needs is taken; the message names the port and what holds it."""


def ensure_port_free(port: int, what: str, option: str, host: str = "127.0.0.1") -> None:
    """Raise `PortInUse` naming the holding process if `port` cannot be listened on."""
    if can_listen_on(port, host):
        return
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
