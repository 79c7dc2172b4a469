"""What the presenter types while the demo runs: `kill worker`, `start worker`, `ledger`, ..."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from pathlib import Path

from launcher.console import Console
from launcher.options import shown
from launcher.parts import DemoParts
from simulated_services import BookingServices

COMMANDS_HELP = (
    "Type `kill worker` then `start worker` (or server, form) to crash a part and bring it "
    "back, `parts` to list the parts, `ledger` to see the latest reservations; "
    "Ctrl-C stops everything."
)


class Commands:
    """Obeys typed commands on the demo's parts until asked to stop."""

    def __init__(self, parts: DemoParts, console: Console, ledger: Path) -> None:
        self.parts = parts
        self.console = console
        self.ledger = ledger
        self._restarts: set[asyncio.Task[None]] = set()

    async def supervise(self, stopping: asyncio.Event, typed: asyncio.Queue[str]) -> None:
        """Report parts that exit, and obey typed commands, until `stopping` is set."""
        while not stopping.is_set():
            self.parts.report_exits()
            try:
                command = await asyncio.wait_for(typed.get(), timeout=0.2)
            except TimeoutError:
                continue
            self.obey(command, stopping)
        for restart in list(self._restarts):
            restart.cancel()

    def obey(self, command: str, stopping: asyncio.Event) -> None:
        verb, _, name = command.strip().lower().partition(" ")
        name = name.strip()
        if verb == "":
            return
        if verb in ("quit", "exit", "stop") and not name:
            stopping.set()
        elif verb == "ledger" and not name:
            self.show_ledger()
        elif verb == "parts" and not name:
            for each in self.parts.all:
                running = each.process.running
                state = f"running, pid {each.process.pid}" if running else "not running"
                self.console.say("demo", f"{each.name}: {state}")
        elif verb in ("kill", "start") and (part := self.parts.named(name)) is not None:
            if verb == "kill":
                self.parts.kill(part)
            elif part.process.running:
                self.console.say("demo", f"{name} is already running (pid {part.process.pid}).")
            else:
                restart = asyncio.create_task(self.parts.restart(part))
                self._restarts.add(restart)
                restart.add_done_callback(self._restarts.discard)
        else:
            self.console.say("demo", f"Unknown command {command.strip()!r}. {COMMANDS_HELP}")
            if verb in ("kill", "start"):
                names = ", ".join(part.name for part in self.parts.all)
                self.console.say("demo", f"Parts running here: {names}.")

    def show_ledger(self, rows: int = 9) -> None:
        """The simulated services' latest reservations: proof that nothing was booked twice."""
        try:
            reservations = BookingServices(self.ledger).reservations()[-rows:]
        except (OSError, sqlite3.Error) as error:
            self.console.say("demo", f"Cannot read the ledger {shown(self.ledger)}: {error}")
            return
        self.console.say(
            "demo", f"Ledger {shown(self.ledger)}: the latest {len(reservations)} reservations"
        )
        for row in reservations:
            self.console.say(
                "demo",
                f"  {row.workflow_id:<36} {row.service:<6} {row.confirmation or '-':<10} "
                f"{row.state:<9} {row.item}",
            )


def read_commands(loop: asyncio.AbstractEventLoop, typed: asyncio.Queue[str]) -> bool:
    """Feed lines typed on standard input into `typed`; False if there is none to read."""
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, ValueError, OSError):
        return False
    if os.isatty(fd) and os.tcgetpgrp(fd) != os.getpgrp():
        return False  # Started in the background: reading the terminal would stop us.
    pending = bytearray()

    def on_readable() -> None:
        data = os.read(fd, 4096)
        if not data:
            loop.remove_reader(fd)
            return
        pending.extend(data)
        while b"\n" in pending:
            line, _, rest = bytes(pending).partition(b"\n")
            pending[:] = rest
            typed.put_nowait(line.decode(errors="replace"))

    try:
        loop.add_reader(fd, on_readable)
    except (OSError, ValueError):
        return False  # A regular file cannot be watched; there is nobody typing anyway.
    return True
