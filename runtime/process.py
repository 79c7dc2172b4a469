"""A demo process's life: its log lines, stopping on Ctrl-C or SIGTERM on every desktop, and
leaving without a crash."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from typing import NoReturn


def configure_logging() -> None:
    """One short line per event, with the time: what the presenter's terminal shows."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")


def stop_requested() -> asyncio.Event:
    """An event the running loop sets on Ctrl-C or SIGTERM.

    Where the loop cannot handle signals (Windows), it is never set: Ctrl-C raises
    KeyboardInterrupt instead, `asyncio.run` cancels the main task with it, and the
    caller's `async with` blocks still run their clean-up. Catch KeyboardInterrupt around
    `asyncio.run` to end quietly.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signal_number, stop.set)
        except NotImplementedError:
            break
    return stop


def exit_without_finalizing(code: int) -> NoReturn:
    """End the process now, skipping the interpreter's finalization.

    The Temporal client's Rust threads can still hold Python thread states while the
    interpreter finalizes, which aborts a process that had finished cleanly ("Fatal Python
    error: PyGILState_Release"; temporalio/sdk-python issue 300). A process that used a
    client leaves through here, once its output is flushed.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
