"""Ports: a free one for a test, and a clear message when one the demo needs is taken."""

from __future__ import annotations

import errno
import socket

import psutil


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


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
