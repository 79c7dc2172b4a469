"""The one-command demo: start the dev server, the worker and the form, watch over them, and
stop them all on Ctrl-C. `run_demo.py` is its entry point."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import time

from launcher.commands import COMMANDS_HELP, Commands, read_commands
from launcher.console import Console
from launcher.options import shown
from launcher.parts import DemoParts
from launcher.ports import PortInUse
from runtime.connection import TemporalUnavailable
from simulated_services import BookingServices


async def run(args: argparse.Namespace) -> int:
    """The whole demo, until Ctrl-C; the exit status."""
    colour = sys.stdout.isatty() and not args.no_colour and "NO_COLOR" not in os.environ
    console = Console(sys.stdout, colour)
    began = time.monotonic()
    try:
        parts = DemoParts(args, console)
        parts.check_before_start()
    except (PortInUse, FileNotFoundError, TemporalUnavailable) as error:
        console.say("demo", str(error))
        return 2
    if args.reset_ledger and not reset_ledger(args, console):
        return 2

    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    def on_signal() -> None:
        if stopping.is_set():
            console.say("demo", "Asked twice: killing everything now")
            parts.kill_all()
        stopping.set()

    for signal_number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signal_number, on_signal)
    try:
        return await _start_then_supervise(
            parts, Commands(parts, console, args.ledger), stopping, began
        )
    finally:
        await parts.stop_all()
        console.say("demo", "Stopped")


def reset_ledger(args: argparse.Namespace, console: Console) -> bool:
    try:
        services = BookingServices(args.ledger)
        removed = len(services.reservations())
        services.reset()
    except (OSError, sqlite3.Error) as error:
        console.say("demo", f"Cannot reset the ledger {shown(args.ledger)}: {error}")
        return False
    console.say("demo", f"Ledger {shown(args.ledger)} reset: {removed} reservation(s) removed")
    return True


async def _start_then_supervise(
    parts: DemoParts, commands: Commands, stopping: asyncio.Event, began: float
) -> int:
    console = parts.console
    starting = asyncio.create_task(parts.start_all())
    stop_asked = asyncio.create_task(stopping.wait())
    await asyncio.wait({starting, stop_asked}, return_when=asyncio.FIRST_COMPLETED)
    stop_asked.cancel()
    if not starting.done():
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        return 0
    try:
        starting.result()
    except (OSError, RuntimeError, TimeoutError, TemporalUnavailable) as error:
        console.say("demo", f"Could not start the demo: {error}")
        return 1
    console.say("demo", f"Ready in {time.monotonic() - began:.1f} s:")
    for line in parts.where_to_go():
        console.say("demo", line)
    typed: asyncio.Queue[str] = asyncio.Queue()
    if read_commands(asyncio.get_running_loop(), typed):
        console.say("demo", COMMANDS_HELP)
    else:
        console.say("demo", "Ctrl-C stops everything.")
    await commands.supervise(stopping, typed)
    return 0
