"""Security: loopback only, debug off, a secret key per start or from the environment, and
security headers with a content policy that no inline script could pass."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from launcher.ports import free_port
from launcher.processes import DevServer, WebFormProcess
from run_workflow import create_app
from tests.web_form.conftest import app_config
from tests.web_form.helpers import TRIP, PageParts, running_form, submit, workflow_id_of
from web_form.options import parse_args
from web_form.security import SECRET_KEY_ENV

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def test_the_command_line_defaults_are_loopback_port_8000_and_no_debug() -> None:
    args = parse_args([])

    assert (args.host, args.port, args.debug) == ("127.0.0.1", 8000, False)
    assert args.temporal_ui == "http://localhost:8080"
    assert parse_args(["--debug"]).debug is True


def test_run_workflow_py_listens_on_loopback_only_with_debug_off(
    dev_server: DevServer, tmp_path: Path
) -> None:
    log_path = tmp_path / "web.log"
    with (
        log_path.open("wb") as log,
        running_form(WebFormProcess(address=dev_server.address, log=log)) as web,
    ):
        listening = listening_addresses(web.port)
    output = log_path.read_text()

    assert listening == ["127.0.0.1"]
    assert "Debug mode" not in output
    assert f"Connected to Temporal at {dev_server.address}" in output


def listening_addresses(port: int) -> list[str]:
    """The local addresses that listen on `port`, read from the kernel's socket table."""
    table = Path("/proc/net/tcp")
    if not table.exists():
        pytest.skip("reads Linux's /proc/net/tcp")
    addresses = []
    for line in table.read_text().splitlines()[1:]:
        local, _, state = line.split()[1:4]
        address, port_hex = local.split(":")
        if int(port_hex, 16) == port and state == "0A":  # 0A: LISTEN
            octets = [str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)]
            addresses.append(".".join(octets))
    return addresses


def test_debug_mode_is_off_unless_asked() -> None:
    app = create_app(app_config(f"127.0.0.1:{free_port()}", "q", TEMPORAL_CONNECT_EAGERLY=False))
    try:
        assert app.debug is False
    finally:
        app.extensions["temporal_gateway"].close()


def test_the_secret_key_is_random_per_start_or_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = app_config(f"127.0.0.1:{free_port()}", "q", TEMPORAL_CONNECT_EAGERLY=False)
    monkeypatch.delenv(SECRET_KEY_ENV, raising=False)
    first, second = create_app(config), create_app(config)
    monkeypatch.setenv(SECRET_KEY_ENV, "from-the-environment")
    configured = create_app(config)
    for app in (first, second, configured):
        app.extensions["temporal_gateway"].close()

    assert first.secret_key != second.secret_key
    assert len(str(first.secret_key)) >= 64
    assert configured.secret_key == "from-the-environment"


def test_every_kind_of_response_carries_the_security_headers(dev_app: Flask) -> None:
    http = dev_app.test_client()
    workflow_id = workflow_id_of(submit(http, TRIP))
    responses = {
        "form": http.get("/"),
        "bad input": submit(http, {**TRIP, "name": ""}),
        "live page": http.get(f"/bookings/{workflow_id}"),
        "status": http.get(f"/bookings/{workflow_id}/status"),
        "list": http.get("/bookings"),
        "not found": http.get("/no/such/page"),
        "static": http.get("/static/booking.js"),
    }
    for what, response in responses.items():
        policy = response.headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in policy, what
        assert "default-src 'self'" in policy, what
        assert "frame-ancestors 'none'" in policy, what
        assert "unsafe-inline" not in policy, what
        assert "unsafe-eval" not in policy, what
        assert response.headers.get("X-Frame-Options") == "DENY", what
        assert response.headers.get("X-Content-Type-Options") == "nosniff", what
        response.close()


def test_pages_have_no_inline_script_or_style(dev_app: Flask) -> None:
    http = dev_app.test_client()
    workflow_id = workflow_id_of(submit(http, TRIP))
    pages = [
        http.get("/"),
        submit(http, {**TRIP, "car": ""}),
        http.get(f"/bookings/{workflow_id}"),
        http.get("/bookings"),
        http.get("/bookings/booking-nobody-00000000"),
    ]
    for response in pages:
        parts = PageParts(response.get_data(as_text=True))
        assert parts.scripts == [] or all(script.get("src") for script in parts.scripts)
        assert parts.inline_handlers == []
        assert parts.style_attributes == 0
        assert parts.style_elements == 0
    # And no template could produce one: scripts come only from static files.
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert not re.search(r"\son\w+=", text), template.name


def test_the_session_cookie_is_http_only_and_same_site(dev_app: Flask) -> None:
    cookie = dev_app.test_client().get("/").headers["Set-Cookie"]

    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_no_stack_trace_reaches_the_browser(dev_app: Flask) -> None:
    @dev_app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals")

    response = dev_app.test_client().get("/boom")

    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "secret internals" not in page
    assert "Traceback" not in page
    assert "Something went wrong" in page
