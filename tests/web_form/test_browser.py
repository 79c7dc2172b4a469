"""The presenter's flows in a real browser: Chromium driven by Playwright, against a real dev
server, a real worker process and the app, all on free ports. Screenshots go to
test-artifacts/ so a person can look at what the audience sees."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    ConsoleMessage,
    Dialog,
    Error,
    Page,
    Response,
    TimeoutError,
    expect,
)
from temporalio.client import Client

from launcher.ports import free_port
from launcher.processes import DevServer
from run_workflow import create_app
from shared import TASK_QUEUE
from tests.servers import running_dev_server
from tests.sync_bridge import run_async
from tests.web_form.conftest import app_config
from tests.web_form.helpers import serving

pytestmark = [pytest.mark.real_server, pytest.mark.browser]

SLOW = 30_000  # ms: a whole saga with retries, on a busy 2-core machine
POLL_STEP_MS = 500  # the page polls at least twice a second of its own time
MAX_STEPS = 240  # two minutes of the page's time


@pytest.fixture
def watched_page(page: Page) -> Iterator[Page]:
    """The page, failing the test on a content-policy violation, a script error or a dialog."""
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            problems.append(message.text)

    def on_page_error(error: Error) -> None:
        problems.append(f"script error: {error}")

    def on_dialog(dialog: Dialog) -> None:
        problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    page.on("console", on_console)
    page.on("dialog", on_dialog)
    page.on("pageerror", on_page_error)
    page.set_viewport_size({"width": 1280, "height": 900})
    yield page
    assert problems == []


def fill_and_book(
    page: Page,
    base_url: str,
    *,
    name: str | None = None,
    car: str | None = None,
    failures: str = "0",
    failure: str = "No failure",
    network_delay: str = "0.3",
    bug: str = "No bug",
) -> None:
    page.goto(f"{base_url}/")
    if name is not None:
        page.get_by_label("Name", exact=True).fill(name)
    if car is not None:
        page.get_by_label("Car", exact=True).fill(car)
    page.get_by_label("Number of Failures Before Success:").fill(failures)
    page.get_by_label("Booking that fails for good:").select_option(label=failure)
    page.get_by_label("Booking with a bug in its code:").select_option(label=bug)
    page.get_by_text("Advanced settings").click()
    page.get_by_label("Shaky-network delay between services (seconds):").fill(network_delay)
    page.get_by_role("button", name="Book the trip").click()
    expect(page).to_have_url(re.compile(r"/bookings/booking-[a-z0-9-]+$"))


def test_the_happy_path_shows_three_confirmations(
    watched_page: Page, live_url: str, artifacts: Path
) -> None:
    page = watched_page
    fill_and_book(page, live_url, name="Ada Lovelace")

    expect(page.locator("#headline")).to_have_text("Booked: car, hotel and flight", timeout=SLOW)
    for service, prefix in (("car", "CAR"), ("hotel", "HOT"), ("flight", "FLI")):
        step = page.locator(f"#step-{service}")
        expect(step.locator(".step-state")).to_have_text("Booked")
        expect(step.locator(".step-detail")).to_have_text(re.compile(rf"Confirmation {prefix}-"))
    expect(page.locator("#undo")).to_be_hidden()
    workflow_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#workflow-id")).to_have_text(workflow_id)
    expect(page.locator("#temporal-ui-link")).to_have_attribute(
        "href", f"http://localhost:8080/namespaces/default/workflows/{workflow_id}"
    )
    page.screenshot(path=artifacts / "happy-path.png", full_page=True)


def test_a_flight_booking_failure_undoes_flight_hotel_car_in_that_order(
    watched_page: Page, live_url: str, artifacts: Path
) -> None:
    page = watched_page
    fill_and_book(page, live_url, failure="Flight Booking Failure")

    expect(page.locator("#headline")).to_have_text("Rolled back: nothing is booked", timeout=SLOW)
    expect(page.locator("#undo-order li")).to_have_text(
        ["Flight undone", "Hotel undone", "Car undone"]
    )
    expect(page.locator("#step-flight .step-state")).to_have_text("Failed, undone")
    expect(page.locator("#step-flight .step-detail")).to_contain_text("flight booking rejected")
    # Nothing reads as booked or confirmed: each reservation the services took is cancelled.
    for service, prefix in (("car", "CAR"), ("hotel", "HOT")):
        step = page.locator(f"#step-{service}")
        expect(step.locator(".step-state")).to_have_text("Undone")
        expect(step.locator(".step-detail")).to_have_text(
            re.compile(rf"^Reservation {prefix}-[0-9A-F]{{6}} cancelled$")
        )
    expect(page.locator("#live")).not_to_contain_text(re.compile("Booked|Confirmation"))
    page.screenshot(path=artifacts / "flight-failure-rolled-back.png", full_page=True)


def test_the_shaky_network_shows_between_two_services(
    watched_page: Page, live_url: str, artifacts: Path
) -> None:
    page = watched_page
    fill_and_book(page, live_url, network_delay="2")

    for service in ("hotel", "flight"):
        step = page.locator(f"#step-{service}")
        expect(step.locator(".step-state")).to_have_text("Network delay, 2 s", timeout=SLOW)
        expect(step).to_have_class(re.compile(r"\bstate-delayed\b"))
        expect(step.locator(".step-detail")).to_contain_text("shaky network")
        if service == "hotel":
            expect(page.locator("#step-car .step-state")).to_have_text("Booked")
            page.screenshot(path=artifacts / "network-delay.png", full_page=True)
        expect(step.locator(".step-state")).to_have_text("Booked", timeout=SLOW)
    expect(page.locator("#headline")).to_have_text("Booked: car, hotel and flight", timeout=SLOW)


def test_a_booking_with_a_bug_shows_its_attempts_and_the_python_error(
    watched_page: Page, live_url: str, dev_server: DevServer, artifacts: Path
) -> None:
    page = watched_page
    fill_and_book(page, live_url, bug="Hotel", network_delay="0")
    workflow_id = page.url.rsplit("/", 1)[1]
    try:
        hotel = page.locator("#step-hotel")
        expect(hotel.locator(".step-state")).to_have_text("Retrying: attempt 2", timeout=SLOW)
        expect(hotel.locator(".step-detail")).to_have_text(
            "Last error: Unknown format code 'd' for object of type 'str'"
        )
        expect(page.locator("#step-car .step-state")).to_have_text("Booked")
        expect(hotel.locator(".step-state")).to_have_text("Retrying: attempt 3", timeout=SLOW)
        page.screenshot(path=artifacts / "bug-retrying.png", full_page=True)
    finally:
        # It would retry for fifteen minutes: end it, so the session's worker rests.
        run_async(lambda: cancel(dev_server.address, workflow_id))
    expect(page.locator("#headline")).to_have_text(
        "Cancelled: everything booked was undone", timeout=SLOW
    )


async def cancel(address: str, workflow_id: str) -> None:
    client = await Client.connect(address)
    await client.get_workflow_handle(workflow_id).cancel()


def test_the_temporal_ui_shows_what_was_broken_on_the_runs_page(
    page: Page, artifacts: Path
) -> None:
    # The real Temporal UI, served by a dev server of its own (the session's runs headless).
    with running_dev_server(ui_port=free_port()) as server:
        run_async(server.wait_until_ui_ready)
        app = create_app(app_config(server.address, TASK_QUEUE, TEMPORAL_UI_URL=server.ui_url))
        with serving(app) as url:
            fill_and_book(page, url, failures="2", failure="Flight Booking Failure", bug="Hotel")
            run_page = page.locator("#temporal-ui-link").get_attribute("href")
            assert run_page is not None
            page.goto(run_page)
            page.get_by_text("User Metadata", exact=True).click()
            details = page.frame_locator("iframe[src*='What%20is%20broken']").locator("body")
            expect(details).to_contain_text("What is broken in this booking", timeout=SLOW)
            for line in (
                "Failures before success: 2 per booking",
                "Booking that fails for good: flight",
                "Booking with a bug in its code: hotel",
                "Shaky-network delay: 0.3 s between two services",
                "Undo: one by one, newest first",
            ):
                expect(details).to_contain_text(line)
            page.screenshot(path=artifacts / "temporal-ui-details.png", full_page=True)


def is_status_poll(response: Response) -> bool:
    return response.url.endswith("/status")


def step_until(page: Page, done: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
    """Move the page's clock on, half a second at a time, until a status answer is `done`.

    Each half second of the page's time must bring a poll, however slow this machine is:
    the page's timers run only when its clock is moved, so a gap in its polling shows as
    a step without a poll, and no average can hide it.
    """
    # The page's script sets its first poll's timer when it runs: moving the clock before
    # that would move it past a timer that does not exist yet.
    page.wait_for_load_state("load")
    for step in range(MAX_STEPS):
        try:
            with page.expect_response(is_status_poll, timeout=10_000) as answer:
                page.clock.run_for(POLL_STEP_MS)
        except TimeoutError as error:
            raise AssertionError(
                f"no status poll in the page's {POLL_STEP_MS} ms from {step * POLL_STEP_MS} ms on"
            ) from error
        answer.value.finished()
        # Let the page take the answer in and set its next timer before the clock moves.
        page.evaluate("0")
        view: dict[str, Any] = answer.value.json()
        if done(view):
            return view
    raise AssertionError(f"not {what} within {MAX_STEPS * POLL_STEP_MS} ms of the page's time")


def test_failures_before_success_show_the_attempt_while_temporal_retries(
    watched_page: Page, live_url: str, artifacts: Path
) -> None:
    page = watched_page
    # The page's clock stands still before the page loads: its timers (the polls) run only
    # when the test moves the clock, so no poll is in flight when the stepping starts.
    started = time.time()
    page.clock.install(time=started)
    page.clock.pause_at(started + 1)
    fill_and_book(page, live_url, failures="1", network_delay="0")

    step_until(page, lambda view: view["steps"][0]["badge"] == "retrying", "retrying")
    # No poll comes while the clock stands still, so the page shows exactly that answer.
    car = page.locator("#step-car")
    expect(car.locator(".step-state")).to_have_text("Retrying: attempt 2")
    expect(car.locator(".step-detail")).to_contain_text("Last error: car service unavailable")
    expect(car).to_have_class(re.compile(r"\bstate-retrying\b"))
    page.screenshot(path=artifacts / "retrying.png", full_page=True)

    step_until(page, lambda view: view["finished"], "finished")
    expect(page.locator("#headline")).to_have_text("Booked: car, hotel and flight")


def test_typed_html_shows_as_text_and_never_runs(watched_page: Page, live_url: str) -> None:
    attack = "<img src=x onerror=alert(1)><script>alert(2)</script>"
    page = watched_page
    fill_and_book(page, live_url, name=attack, car=attack)

    expect(page.locator("#step-car .step-item")).to_have_text(attack, timeout=SLOW)
    expect(page.locator("#summary")).to_contain_text(attack)
    expect(page.locator("#headline")).to_have_text("Booked: car, hotel and flight", timeout=SLOW)


def test_without_a_worker_the_page_says_how_to_start_one(
    watched_page: Page, dev_server: DevServer, quiet_queue: str, artifacts: Path
) -> None:
    app = create_app(app_config(dev_server.address, quiet_queue))
    with serving(app) as url:
        page = watched_page
        fill_and_book(page, url)

        notice = page.locator("#notice")
        expect(notice).to_contain_text(f"No worker is polling the task queue “{quiet_queue}”")
        expect(notice).to_contain_text("python3 run_worker.py")
        expect(page.locator("#headline")).to_have_text("Booking in progress…")
        page.screenshot(path=artifacts / "no-worker.png", full_page=True)


def test_the_form_and_the_list_of_bookings_look_right(
    watched_page: Page, live_url: str, artifacts: Path
) -> None:
    page = watched_page
    page.goto(f"{live_url}/")
    page.get_by_text("Advanced settings").click()
    for label in (
        "Name",
        "Car",
        "Hotel",
        "Flight",
        "Number of Failures Before Success:",
        "Booking that fails for good:",
        "Shaky-network delay between services (seconds):",
    ):
        expect(page.get_by_label(label, exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Book the trip")).to_be_visible()
    page.screenshot(path=artifacts / "form.png", full_page=True)

    page.get_by_label("Car", exact=True).fill("Kept as typed")
    page.get_by_label("Name", exact=True).fill("")
    page.get_by_role("button", name="Book the trip").click()
    name = page.get_by_label("Name", exact=True)
    expect(page.locator("#name-error")).to_have_text("Name is required.")
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_attribute("aria-describedby", "name-error")
    expect(page.get_by_role("alert")).to_contain_text("Nothing was booked")
    expect(page.get_by_label("Car", exact=True)).to_have_value("Kept as typed")
    # The stylesheet reached the page: the message is bold, as style.css makes it.
    expect(page.locator("#name-error")).to_have_css("font-weight", "700")
    page.screenshot(path=artifacts / "form-invalid.png", full_page=True)
    fill_and_book(page, live_url, failure="Car Booking Failure", network_delay="0")
    workflow_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#headline")).to_have_text("Rolled back: nothing is booked", timeout=SLOW)
    page.get_by_role("link", name="Recent bookings").click()
    row = page.locator("table.bookings tr", has=page.get_by_role("link", name=workflow_id))
    # Visibility learns of the end a moment after it: the list is read again on a reload.
    deadline = time.monotonic() + 10
    while row.locator(".execution").inner_text() == "running" and time.monotonic() < deadline:
        page.reload()
    expect(row.locator(".execution")).to_have_text("completed")
    expect(row.locator("td.outcome")).to_have_text("rolled back")
    page.screenshot(path=artifacts / "recent-bookings.png", full_page=True)
    row.get_by_role("link", name=workflow_id).click()
    expect(page.locator("#workflow-id")).to_have_text(workflow_id)
