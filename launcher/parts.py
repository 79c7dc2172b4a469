"""The parts of the demo the presenter asked for: started in order, each waited for until it
answers, reported when it exits, and stopped in reverse order."""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import time
from dataclasses import dataclass

from temporalio.envconfig import ClientConnectConfig

from launcher.console import Console
from launcher.options import shown
from launcher.ports import ensure_port_free
from launcher.processes import DevServer, ManagedProcess, WebFormProcess, WorkerProcess
from runtime import PROJECT_DIR
from runtime.connection import connect, connect_config
from shared import TASK_QUEUE

READY_WITHIN_SECONDS = 60.0


@dataclass
class Part:
    """One part of the demo under its name, and whether its exit was asked for and told."""

    name: str
    process: ManagedProcess
    killed_on_purpose: bool = False
    exit_reported: bool = False


class DemoParts:
    """The server, the worker and the form, or those of them the presenter asked for."""

    def __init__(self, args: argparse.Namespace, console: Console) -> None:
        self.console = console
        self.config: ClientConnectConfig = connect_config()
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
            )
            self.config["target_host"] = self.server.address
        address = self.config["target_host"]
        if "worker" in args.only:
            self.worker = WorkerProcess(
                address=address,
                ledger=args.ledger,
                service_latency_seconds=args.service_latency,
            )
        if "form" in args.only:
            self.form = WebFormProcess(
                address=address,
                port=args.form_port,
                temporal_ui=args.temporal_ui,
            )
        processes = {"server": self.server, "worker": self.worker, "form": self.form}
        self.all = [Part(name, process) for name, process in processes.items() if process]
        for part in self.all:
            part.process.log = subprocess.PIPE  # copied to the console, behind the part's name
        self.temporal_ui = args.temporal_ui

    def check_before_start(self) -> None:
        """Raise `PortInUse` or `FileNotFoundError` with a message the presenter can act on."""
        if self.server is not None:
            ensure_port_free(self.server.port, "Temporal server", "--server-port")
            assert self.server.ui_port is not None
            ensure_port_free(self.server.ui_port, "Temporal Web UI", "--ui-port")
        if self.form is not None:
            if not (PROJECT_DIR / "run_workflow.py").exists():
                raise FileNotFoundError(
                    "run_workflow.py (the web form) is not in this checkout; "
                    "start the other parts with `--only server worker`."
                )
            ensure_port_free(self.form.port, "web form", "--form-port")

    def named(self, name: str) -> Part | None:
        return next((part for part in self.all if part.name == name), None)

    async def start_all(self) -> None:
        """Start every part and return once each one answers."""
        if self.server is not None:
            self._start(self.all[0])
            await self.server.wait_until_ready(READY_WITHIN_SECONDS)
        else:
            # Fails at once, with one clear line, when no server answers at the address.
            await connect(self.config)
        later = [part for part in self.all if part.process is not self.server]
        for part in later:
            self._start(part)
        await asyncio.gather(
            *(part.process.wait_until_ready(READY_WITHIN_SECONDS) for part in later),
            *([self.server.wait_until_ui_ready(READY_WITHIN_SECONDS)] if self.server else []),
        )

    def _start(self, part: Part) -> None:
        part.process.start()
        part.killed_on_purpose = part.exit_reported = False
        assert part.process.process is not None
        output = part.process.process.stdout
        assert output is not None
        self.console.copy_lines(part.name, output)

    async def restart(self, part: Part) -> None:
        self.console.say("demo", f"Starting {part.name} again")
        began = time.monotonic()
        try:
            self._start(part)
            await part.process.wait_until_ready(READY_WITHIN_SECONDS)
        except (OSError, RuntimeError, TimeoutError) as error:
            self.console.say("demo", f"{part.name} did not come back: {error}")
            return
        self.console.say(
            "demo",
            f"{part.name} is back (pid {part.process.pid}) after {time.monotonic() - began:.1f} s",
        )

    def kill(self, part: Part) -> None:
        if not part.process.running:
            self.console.say("demo", f"{part.name} is not running.")
            return
        part.killed_on_purpose = True
        self.console.say(
            "demo", f"Killing {part.name} (pid {part.process.pid}) with SIGKILL: a crash."
        )
        if part.process is self.server and self.server.db_filename is None:
            self.console.say(
                "demo",
                "This server keeps its data in memory: its workflows are lost. "
                "Use --db-filename for the server-crash demo.",
            )
        part.process.kill()

    def report_exits(self) -> None:
        """Say once of each part that has exited since it was started, and how."""
        for part in self.all:
            process = part.process.process
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

    def where_to_go(self) -> list[str]:
        lines = []
        if self.form is not None:
            lines.append(f"  Booking form      {self.form.url}")
        namespace = self.config["namespace"]
        if self.server is not None:
            lines.append(f"  Temporal Web UI   {self.server.ui_url}")
            kept = (
                f"data kept in {shown(self.server.db_filename)}"
                if self.server.db_filename
                else "data in memory only"
            )
            lines.append(
                f"  Temporal server   {self.server.address}, namespace {namespace}, {kept}"
            )
        else:
            lines.append(f"  Temporal Web UI   {self.temporal_ui}")
            lines.append(
                f"  Temporal server   {self.config['target_host']}, "
                f"namespace {namespace} (not started here)"
            )
        if self.worker is not None:
            lines.append(
                f"  Worker            pid {self.worker.pid} polls task queue "
                f"{TASK_QUEUE}; ledger {shown(self.worker.ledger)}"
            )
        return lines

    async def stop_all(self) -> None:
        """Stop the form, then the worker, then the server, each within a bounded time."""
        for part in reversed(self.all):
            if part.process.running:
                self.console.say("demo", f"Stopping {part.name} (pid {part.process.pid})")
                # In a thread, so a second Ctrl-C still reaches `kill_all` meanwhile.
                await asyncio.to_thread(part.process.stop)

    def kill_all(self) -> None:
        for part in self.all:
            part.process.kill()


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        return f"was killed by {signal.Signals(-returncode).name}"
    return f"exited with code {returncode}"
