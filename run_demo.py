"""The whole demo in one command: the Temporal dev server with its Web UI, the worker, the web form.

python3 run_demo.py [--only server worker form] [--db-filename [FILE]] [--reset-ledger] ...

Starts each part, waits until each one really answers, then prints where to go. Every line a
part prints shows behind its coloured name. Ctrl-C stops all of them. While it runs, type
`kill worker` and later `start worker` (or server, or form) to crash a part and bring it back.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, ClassVar

from temporalio.client import Client

from booking_services import BookingServices
from processes import (
    PROJECT_DIR,
    DevServer,
    PortInUse,
    WebFormProcess,
    WorkerProcess,
    ensure_port_free,
)
from run_worker import services_parser
from shared import TASK_QUEUE
from temporal_connection import (
    TemporalUnreachable,
    connect,
    connect_config,
    exit_without_finalizing,
)

PARTS = ("server", "worker", "form")
DEFAULT_DB_FILENAME = PROJECT_DIR / "data" / "temporal-dev.sqlite3"
READY_WITHIN_SECONDS = 60.0
COMMANDS_HELP = (
    "Type `kill worker` then `start worker` (or server, form) to crash a part and bring it "
    "back, `status` to list the parts, `ledger` to see the latest reservations; "
    "Ctrl-C stops everything."
)


class Console:
    """Writes lines behind a coloured part name; one lock, so lines of two parts never mix."""

    COLOURS: ClassVar[dict[str, str]] = {
        "server": "36",
        "worker": "33",
        "form": "32",
        "demo": "1;35",
    }

    def __init__(self, stream: IO[str], colour: bool) -> None:
        self.stream = stream
        self.colour = colour
        self._lock = threading.Lock()

    def say(self, name: str, text: str) -> None:
        label = f"{name:>6} |"
        if self.colour:
            label = f"\033[{self.COLOURS.get(name, '0')}m{label}\033[0m"
        with self._lock:
            for line in text.splitlines() or [""]:
                self.stream.write(f"{label} {line}\n")
            self.stream.flush()

    def copy_lines(self, name: str, output: IO[bytes]) -> None:
        """Copy a part's output line by line, in a thread of its own, until the part exits."""

        def copy() -> None:
            with output:
                for raw in iter(output.readline, b""):
                    self.say(name, raw.decode(errors="replace").rstrip("\r\n"))

        threading.Thread(target=copy, name=f"{name}-output", daemon=True).start()


Runner = DevServer | WorkerProcess | WebFormProcess


@dataclass
class Part:
    name: str
    runner: Runner
    killed_on_purpose: bool = False
    exit_reported: bool = False

    @property
    def pid(self) -> int | None:
        return self.runner.process.pid if self.runner.process else None

    def running(self) -> bool:
        return self.runner.process is not None and self.runner.process.poll() is None


class Demo:
    """The parts the presenter asked for, started in order and stopped in reverse order."""

    def __init__(self, args: argparse.Namespace, console: Console) -> None:
        self.args = args
        self.console = console
        self.config = connect_config()
        self.client: Client | None = None
        self.server: DevServer | None = None
        self.worker: WorkerProcess | None = None
        self.form: WebFormProcess | None = None
        if "server" in args.only:
            self.server = DevServer(
                port=args.server_port,
                ui_port=args.ui_port,
                db_filename=args.db_filename,
                namespace=self.config["namespace"],
                log_level=args.server_log_level,
                log=subprocess.PIPE,
            )
            self.config["target_host"] = self.server.address
        address = self.config["target_host"]
        if "worker" in args.only:
            self.worker = WorkerProcess(
                address, args.ledger, args.service_latency, log=subprocess.PIPE
            )
        if "form" in args.only:
            self.form = WebFormProcess(
                address, port=args.form_port, temporal_ui=args.temporal_ui, log=subprocess.PIPE
            )
        runners = {"server": self.server, "worker": self.worker, "form": self.form}
        self.parts = [Part(name, runner) for name, runner in runners.items() if runner is not None]

    def check_before_start(self) -> None:
        """Raise `PortInUse` or `FileNotFoundError` with a message the presenter can act on."""
        if self.server is not None:
            ensure_port_free(self.args.server_port, "Temporal server", "--server-port")
            ensure_port_free(self.args.ui_port, "Temporal Web UI", "--ui-port")
        if self.form is not None:
            if not (PROJECT_DIR / "run_workflow.py").exists():
                raise FileNotFoundError(
                    "run_workflow.py (the web form) is not in this checkout; "
                    "start the other parts with `--only server worker`."
                )
            ensure_port_free(self.args.form_port, "web form", "--form-port")

    async def start_all(self) -> None:
        """Start every part and return once each one answers."""
        if self.server is not None:
            self._start(self.part("server"))
            await self.server.wait_until_ready(READY_WITHIN_SECONDS)
        self.client = await connect(self.config)
        later = [part for part in self.parts if part.name != "server"]
        for part in later:
            self._start(part)
        await asyncio.gather(
            *(self._wait_until_ready(part) for part in later),
            *([self.server.wait_until_ui_ready(READY_WITHIN_SECONDS)] if self.server else []),
        )

    def part(self, name: str) -> Part:
        return next(part for part in self.parts if part.name == name)

    def _start(self, part: Part) -> None:
        part.runner.start()
        part.killed_on_purpose = part.exit_reported = False
        process = part.runner.process
        assert process is not None
        assert process.stdout is not None
        self.console.copy_lines(part.name, process.stdout)

    async def _wait_until_ready(self, part: Part) -> None:
        if isinstance(part.runner, DevServer):
            await part.runner.wait_until_ready(READY_WITHIN_SECONDS)
        elif isinstance(part.runner, WorkerProcess):
            assert self.client is not None
            await part.runner.wait_until_polling(self.client, TASK_QUEUE, READY_WITHIN_SECONDS)
        else:
            await asyncio.to_thread(part.runner.wait_until_ready, READY_WITHIN_SECONDS)

    def where_to_go(self) -> list[str]:
        lines = []
        if self.form is not None:
            lines.append(f"  Booking form      {self.form.url}")
        if self.server is not None:
            lines.append(f"  Temporal Web UI   {self.server.ui_url}")
            kept = (
                f"data kept in {shown(self.server.db_filename)}"
                if self.server.db_filename
                else "data in memory only"
            )
            lines.append(
                f"  Temporal server   {self.server.address}, "
                f"namespace {self.config['namespace']}, {kept}"
            )
        else:
            lines.append(f"  Temporal Web UI   {self.args.temporal_ui}")
            lines.append(
                f"  Temporal server   {self.config['target_host']}, "
                f"namespace {self.config['namespace']} (not started here)"
            )
        if self.worker is not None:
            lines.append(
                f"  Worker            pid {self.part('worker').pid} polls task queue "
                f"{TASK_QUEUE}; ledger {shown(self.worker.ledger)}"
            )
        return lines

    async def supervise(self, stopping: asyncio.Event, commands: asyncio.Queue[str]) -> None:
        """Report parts that exit, and obey typed commands, until asked to stop."""
        restarts: set[asyncio.Task[None]] = set()
        while not stopping.is_set():
            self._report_exits()
            try:
                command = await asyncio.wait_for(commands.get(), timeout=0.2)
            except TimeoutError:
                continue
            restart = self._obey(command, stopping)
            if restart is not None:
                restarts.add(restart)
                restart.add_done_callback(restarts.discard)
        for restart in list(restarts):
            restart.cancel()

    def _report_exits(self) -> None:
        for part in self.parts:
            process = part.runner.process
            if process is None or process.poll() is None or part.exit_reported:
                continue
            part.exit_reported = True
            how = describe_exit(process.returncode)
            if part.killed_on_purpose:
                self.console.say("demo", f"{part.name} {how}. Type `start {part.name}` to restart.")
            else:
                self.console.say(
                    "demo",
                    f"{part.name} stopped unexpectedly: {how}. `start {part.name}` restarts it.",
                )

    def _obey(self, command: str, stopping: asyncio.Event) -> asyncio.Task[None] | None:
        verb, _, name = command.strip().lower().partition(" ")
        name = name.strip()
        if verb == "":
            return None
        if verb in ("quit", "exit", "stop") and not name:
            stopping.set()
            return None
        if verb == "ledger":
            self._show_ledger()
            return None
        if verb == "status":
            for part in self.parts:
                state = f"running, pid {part.pid}" if part.running() else "not running"
                self.console.say("demo", f"{part.name}: {state}")
            return None
        names = [part.name for part in self.parts]
        if verb not in ("kill", "start") or name not in names:
            self.console.say("demo", f"Unknown command {command.strip()!r}. {COMMANDS_HELP}")
            if verb in ("kill", "start"):
                self.console.say("demo", f"Parts running here: {', '.join(names)}.")
            return None
        part = self.part(name)
        if verb == "kill":
            self._kill(part)
            return None
        if part.running():
            self.console.say("demo", f"{name} is already running (pid {part.pid}).")
            return None
        return asyncio.create_task(self._restart(part))

    def _show_ledger(self, rows: int = 9) -> None:
        """The simulated services' latest reservations: proof that nothing was booked twice."""
        try:
            reservations = BookingServices(self.args.ledger).reservations()[-rows:]
        except (OSError, sqlite3.Error) as error:
            self.console.say("demo", f"Cannot read the ledger {shown(self.args.ledger)}: {error}")
            return
        self.console.say(
            "demo", f"Ledger {shown(self.args.ledger)}: the latest {len(reservations)} reservations"
        )
        for row in reservations:
            self.console.say(
                "demo",
                f"  {row.workflow_id:<36} {row.service:<6} {row.confirmation or '-':<10} "
                f"{row.status:<9} {row.item}",
            )

    def _kill(self, part: Part) -> None:
        if not part.running():
            self.console.say("demo", f"{part.name} is not running.")
            return
        part.killed_on_purpose = True
        self.console.say("demo", f"Killing {part.name} (pid {part.pid}) with SIGKILL: a crash.")
        if part.runner is self.server and self.server.db_filename is None:
            self.console.say(
                "demo",
                "This server keeps its data in memory: its workflows are lost. "
                "Use --db-filename for the server-crash demo.",
            )
        part.runner.kill()

    async def _restart(self, part: Part) -> None:
        self.console.say("demo", f"Starting {part.name} again")
        began = time.monotonic()
        try:
            self._start(part)
            await self._wait_until_ready(part)
        except (OSError, RuntimeError, TimeoutError) as error:
            self.console.say("demo", f"{part.name} did not come back: {error}")
            return
        self.console.say(
            "demo", f"{part.name} is back (pid {part.pid}) after {time.monotonic() - began:.1f} s"
        )

    async def stop_all(self) -> None:
        """Stop the form, then the worker, then the server, each within a bounded time."""
        for part in reversed(self.parts):
            if part.running():
                self.console.say("demo", f"Stopping {part.name} (pid {part.pid})")
                # In a thread, so a second Ctrl-C still reaches `kill_all` meanwhile.
                await asyncio.to_thread(part.runner.stop)

    def kill_all(self) -> None:
        for part in self.parts:
            part.runner.kill()


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        return f"was killed by {signal.Signals(-returncode).name}"
    return f"exited with code {returncode}"


def shown(path: Path) -> str:
    """A path as short as it can be said: relative to the current folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def read_commands(loop: asyncio.AbstractEventLoop, commands: asyncio.Queue[str]) -> bool:
    """Feed lines typed on standard input into `commands`; False if there is none to read."""
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
            commands.put_nowait(line.decode(errors="replace"))

    try:
        loop.add_reader(fd, on_readable)
    except (OSError, ValueError):
        return False  # A regular file cannot be watched; there is nobody typing anyway.
    return True


def port(text: str) -> int:
    number = int(text)
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{number} is not a TCP port (1-65535)")
    return number


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        parents=[services_parser()],
        epilog="To use an existing server or Temporal Cloud, leave out the server "
        "(--only worker form) and configure the connection as for the worker: "
        "TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_PROFILE.",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=PARTS,
        default=list(PARTS),
        metavar="PART",
        help="start only these parts: server, worker, form (default: all three)",
    )
    parser.add_argument(
        "--db-filename",
        type=Path,
        nargs="?",
        const=DEFAULT_DB_FILENAME,
        metavar="FILE",
        help="keep the server's data in this SQLite file, so it survives a server crash "
        f"(without FILE: {shown(DEFAULT_DB_FILENAME)})",
    )
    parser.add_argument(
        "--reset-ledger",
        action="store_true",
        help="empty the simulated services' ledger (every reservation) before starting",
    )
    for option, default, what in (
        ("--server-port", 7233, "the Temporal server's gRPC port"),
        ("--ui-port", 8080, "the Temporal Web UI's port"),
        ("--form-port", 8000, "the booking form's port"),
    ):
        parser.add_argument(
            option, type=port, default=default, metavar="PORT", help=f"{what} (default {default})"
        )
    parser.add_argument(
        "--temporal-ui",
        metavar="URL",
        help="the Temporal UI the form links to (default http://localhost:UI-PORT)",
    )
    parser.add_argument(
        "--server-log-level",
        choices=("debug", "info", "warn", "error", "never"),
        default="never",
        help="what the dev server logs (default never: a killed worker makes it log harmless "
        "errors that would only distract the audience; a failed start still shows)",
    )
    parser.add_argument(
        "--no-colour", action="store_true", help="plain output (also when NO_COLOR is set)"
    )
    args = parser.parse_args(argv)
    args.only = [part for part in PARTS if part in args.only]
    if args.db_filename is not None and "server" not in args.only:
        parser.error("--db-filename needs the server part: it is the dev server's data file")
    if args.temporal_ui is None:
        args.temporal_ui = f"http://localhost:{args.ui_port}"
    return args


async def run(args: argparse.Namespace) -> int:
    colour = sys.stdout.isatty() and not args.no_colour and "NO_COLOR" not in os.environ
    console = Console(sys.stdout, colour)
    began = time.monotonic()
    demo = Demo(args, console)
    try:
        demo.check_before_start()
    except (PortInUse, FileNotFoundError) as error:
        console.say("demo", str(error))
        return 2
    if args.reset_ledger:
        try:
            services = BookingServices(args.ledger)
            removed = len(services.reservations())
            services.reset()
        except (OSError, sqlite3.Error) as error:
            console.say("demo", f"Cannot reset the ledger {shown(args.ledger)}: {error}")
            return 2
        console.say("demo", f"Ledger {shown(args.ledger)} reset: {removed} reservation(s) removed")

    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    def on_signal() -> None:
        if stopping.is_set():
            console.say("demo", "Asked twice: killing everything now")
            demo.kill_all()
        stopping.set()

    for signal_number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signal_number, on_signal)
    try:
        return await _start_then_supervise(demo, console, stopping, began)
    finally:
        await demo.stop_all()
        console.say("demo", "Stopped")


async def _start_then_supervise(
    demo: Demo, console: Console, stopping: asyncio.Event, began: float
) -> int:
    starting = asyncio.create_task(demo.start_all())
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
    except (OSError, RuntimeError, TimeoutError, TemporalUnreachable) as error:
        console.say("demo", f"Could not start the demo: {error}")
        return 1
    console.say("demo", f"Ready in {time.monotonic() - began:.1f} s:")
    for line in demo.where_to_go():
        console.say("demo", line)
    commands: asyncio.Queue[str] = asyncio.Queue()
    if read_commands(asyncio.get_running_loop(), commands):
        console.say("demo", COMMANDS_HELP)
    else:
        console.say("demo", "Ctrl-C stops everything.")
    await demo.supervise(stopping, commands)
    return 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    exit_without_finalizing(main())
