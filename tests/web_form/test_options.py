"""The form's command line: each option defaults to its environment variable, and a bad value
is refused naming the option and, where it came from one, the variable."""

from __future__ import annotations

import pytest

from tests.refusals import refusal
from web_form.options import DEFAULT_PORT, parse_args


def test_the_port_comes_from_the_command_line_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert parse_args([]).port == DEFAULT_PORT
    assert parse_args(["--port", "0"]).port == 0
    monkeypatch.setenv("BOOKING_WEB_PORT", "8123")
    assert parse_args([]).port == 8123
    assert parse_args(["--port", "8124"]).port == 8124
    monkeypatch.setenv("BOOKING_WEB_PORT", "")
    assert parse_args([]).port == DEFAULT_PORT


@pytest.mark.parametrize("value", ["http", "-1", "65536", "80.5"])
def test_a_bad_port_is_refused_naming_where_it_came_from(
    value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    error = refusal(parse_args, ["--port", value], capsys)
    assert f"--port: must be a port number from 0 to 65535, not {value!r}" in error
    assert "(from " not in error
    monkeypatch.setenv("BOOKING_WEB_PORT", value)
    assert f"not {value!r} (from BOOKING_WEB_PORT)" in refusal(parse_args, [], capsys)
