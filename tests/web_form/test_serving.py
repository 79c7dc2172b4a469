"""`python3 run_workflow.py` served by waitress: the terminal the presenter shows stays quiet
(one line per booking it starts, nothing for a live page that polls its status for a minute),
a taken port is one line and exit status 1, and `--debug` logs every request."""

from __future__ import annotations

import socket
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from launcher.ports import free_port
from launcher.processes import DevServer, WebFormProcess, WorkerProcess
from tests.web_form.helpers import POLLS_IN_A_MINUTE, TRAVELLER, book_and_watch, running_form

pytestmark = pytest.mark.real_server


def test_a_minute_of_polling_adds_no_line_and_a_booking_adds_one(
    dev_server: DevServer, worker_process: WorkerProcess, tmp_path: Path
) -> None:
    log_path = tmp_path / "form.log"
    with (
        log_path.open("wb") as log,
        running_form(WebFormProcess(address=dev_server.address, log=log)) as form,
    ):
        before_booking = log_path.read_text().splitlines()
        booking = replace(
            TRAVELLER, name="Hedy Lamarr", failures_before_success=2, fail_at="flight"
        )
        workflow_id = book_and_watch(form.url, booking)
        after_polling = log_path.read_text().splitlines()
    output = log_path.read_text()

    assert "development server" not in output
    new_lines = after_polling[len(before_booking) :]
    assert len(new_lines) == 1, f"{POLLS_IN_A_MINUTE} polls printed:\n" + "\n".join(new_lines)
    assert new_lines[0].endswith(
        f"Booking {workflow_id} for Hedy Lamarr: 2 failures before success, flight booking rejected"
    )


def test_a_taken_port_is_one_line_and_exit_status_1(dev_server: DevServer, tmp_path: Path) -> None:
    log_path = tmp_path / "form.log"
    port = free_port()
    with socket.socket() as holder, log_path.open("wb") as log:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        form = WebFormProcess(address=dev_server.address, port=port, log=log)
        form.start()
        try:
            assert form.process is not None
            returncode = form.process.wait(timeout=30)
        finally:
            form.kill()
    output = log_path.read_text()

    assert returncode == 1, output
    [problem] = [line for line in output.splitlines() if str(port) in line]
    assert problem == f"Cannot listen on 127.0.0.1:{port}: Address already in use"
    assert "Traceback" not in output


@dataclass(kw_only=True)
class DebugWebForm(WebFormProcess):
    def command(self) -> list[str]:
        return [*super().command(), "--debug"]


def test_debug_logs_one_line_per_request(dev_server: DevServer, tmp_path: Path) -> None:
    log_path = tmp_path / "form.log"
    with (
        log_path.open("wb") as log,
        running_form(DebugWebForm(address=dev_server.address, log=log)) as form,
        pytest.raises(urllib.error.HTTPError, match="404"),
    ):
        urllib.request.urlopen(f"{form.url}/no/such/page", timeout=10)
    output = log_path.read_text()

    assert "Debug mode: templates are re-read when edited; one line per request" in output
    assert output.count("GET / 200") >= 1, "the readiness checks"
    assert "GET /no/such/page 404" in output
