"""The launcher's command line."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from launcher.ports import free_port
from runtime import PROJECT_DIR
from runtime.worker import services_parser

PARTS = ("server", "worker", "form")
DEFAULT_DB_FILENAME = PROJECT_DIR / "data" / "temporal-dev.sqlite3"


@dataclass(frozen=True)
class DemoPorts:
    """The three ports the demo listens on, as its options name them."""

    server: int = 7233
    ui: int = 8080
    form: int = 8000

    @classmethod
    def free(cls) -> DemoPorts:
        """Three ports nothing listens on now: for a test or a benchmark beside a running demo."""
        return cls(free_port(), free_port(), free_port())

    def options(self) -> list[str]:
        """These ports as `run_demo.py` options."""
        return [
            *("--server-port", str(self.server)),
            *("--ui-port", str(self.ui)),
            *("--form-port", str(self.form)),
        ]


def shown(path: Path) -> str:
    """A path as short as it can be said: relative to the current folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def port(text: str) -> int:
    number = int(text)
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{number} is not a TCP port (1-65535)")
    return number


def parse_args(argv: list[str] | None = None, description: str | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    defaults = DemoPorts()
    for option, default, what in (
        ("--server-port", defaults.server, "the Temporal server's gRPC port"),
        ("--ui-port", defaults.ui, "the Temporal Web UI's port"),
        ("--form-port", defaults.form, "the booking form's port"),
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
