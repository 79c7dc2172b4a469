"""Fixtures for the web form's tests.

Flask test-client tests use the time-skipping server from tests/conftest.py, or a real dev
server where they need Temporal's visibility (counting what was started, listing bookings).
Browser tests drive Chromium through pytest-playwright against a real dev server, a real
worker process and the app on free ports.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from launcher.processes import DevServer, WorkerProcess
from run_workflow import create_app
from runtime import PROJECT_DIR
from shared import TASK_QUEUE
from tests.needs import require_tool
from tests.web_form.helpers import serving
from tools.chromium import CHROMIUM_ARGS, NO_BROWSER, find_chromium

ARTIFACTS = PROJECT_DIR / "test-artifacts"


def playwright_chromium() -> str:
    """Where Playwright's own Chromium would be installed."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        return playwright.chromium.executable_path


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    executable = require_tool("Chromium", find_chromium(playwright_chromium), NO_BROWSER)
    return {
        **browser_type_launch_args,
        "executable_path": executable,
        "args": CHROMIUM_ARGS,
        "headless": True,
    }


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def app_config(address: str, task_queue: str, **overrides: Any) -> dict[str, Any]:
    return {
        "TESTING": True,
        "TEMPORAL_CONNECT_CONFIG": {"target_host": address, "namespace": "default"},
        "BOOKING_TASK_QUEUE": task_queue,
        "TEMPORAL_UI_URL": "http://localhost:8080",
        **overrides,
    }


@pytest.fixture
def quiet_queue() -> str:
    """A task queue no worker polls: whatever starts there stays to be counted."""
    return f"booking-web-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def dev_app(dev_server: DevServer, quiet_queue: str) -> Iterator[Flask]:
    """The app on the real dev server, starting bookings on a queue of its own."""
    app = create_app(app_config(dev_server.address, quiet_queue))
    yield app
    app.extensions["temporal_gateway"].close()


@pytest.fixture(scope="session")
def live_url(dev_server: DevServer, worker_process: WorkerProcess) -> Iterator[str]:
    """The app served on a free port, with a worker process behind it: what a browser sees."""
    with serving(create_app(app_config(dev_server.address, TASK_QUEUE))) as url:
        yield url
