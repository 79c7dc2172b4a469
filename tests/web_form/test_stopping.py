"""`python3 run_workflow.py` stops cleanly on Ctrl-C (SIGINT, everywhere) and on SIGTERM."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from launcher.processes import DevServer, WebFormProcess
from tests.web_form.helpers import running_form

pytestmark = pytest.mark.real_server


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_the_form_stops_cleanly_on_a_signal(
    dev_server: DevServer, tmp_path: Path, stop_signal: signal.Signals
) -> None:
    log_path = tmp_path / "form.log"
    with (
        log_path.open("wb") as log,
        running_form(WebFormProcess(address=dev_server.address, log=log)) as form,
    ):
        assert form.process is not None
        form.process.send_signal(stop_signal)
        returncode = form.process.wait(timeout=15)
    output = log_path.read_text()

    assert returncode == 0, output
    assert "Booking form stopped" in output
    assert "Traceback" not in output
