"""The pictures of the presenter's guide, taken from real runs.

make screenshots      (or: .venv/bin/python tools/screenshots.py [--only NAME ...] [--out DIR])

It starts a Temporal dev server with its Web UI, a worker and the booking form on free ports,
offline, books the guide's trips through the form as a browser does, waits for the moment each
picture is about (a retrying booking's third or fourth attempt, a rollback that has ended),
opens the page in headless Chromium, waits for the content that shows it, and keeps only the
part of the screen that tells the story, as a small palette PNG in docs/screenshots/. Service
calls and network delays are short where the picture does not depend on them, so the whole run
takes about 40 s. Everything it started stops at the end, also when it fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import re
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from PIL import Image
from playwright.async_api import (
    Browser,
    FloatRect,
    Locator,
    Page,
    ViewportSize,
    async_playwright,
    expect,
)
from temporalio.client import Client, WorkflowHandle

from launcher.ports import free_port
from launcher.processes import (
    DevServer,
    WebFormProcess,
    WorkerProcess,
    running,
    wait_until,
)
from runtime import PROJECT_DIR
from runtime.process import exit_without_finalizing
from shared import (
    BOOKING_OUTCOME,
    SERVICES,
    BookingInput,
    Service,
    book_activity,
    undo_activity,
)
from tools.chromium import CHROMIUM_ARGS, NO_BROWSER, find_chromium
from tools.form_visitor import FormVisitor

PICTURES_DIR = PROJECT_DIR / "docs" / "screenshots"
SERVICE_LATENCY_SECONDS = 0.3
"""Each service call: short, no picture depends on it."""
FORWARD_ATTEMPT = 4
"""The car retrying on our page is pictured at this attempt or a later one: its attempts come
1, 1.5 and 2 s apart, so the fourth comes 2.5 s in, after the page has opened."""
BUG_ATTEMPT = 3
"""The bug is pictured at this attempt or a later one: two failures behind, Temporal still
trying (its attempts come 1, 2, 4 s apart)."""
WAIT_SECONDS = 90.0
"""The longest any picture waits for its moment (the multi-failure rollback takes about 30 s)."""
UI_READS = 3
"""The Temporal UI reads a running run again every 10 s; a page that shows an older state than
the one waited for is reloaded instead, at most this many times."""
MARGIN = 12
"""Pixels kept around the part of the page a picture is about."""
PALETTE_COLOURS = 128
"""A screenshot of a page has few colours: a palette PNG keeps them and is a fraction of the
size of a true-colour one."""
NAMESPACE = "default"

OUR_PAGE = ViewportSize(width=1024, height=800)
TEMPORAL_UI = ViewportSize(width=1440, height=1100)
"""Wide enough for the UI's run page to show the timeline's labels and the stack trace
without wrapping them; tall enough to hold the whole timeline."""

TRIP = BookingInput(
    "Ada Lovelace", "Toyota Supra", "Hotel Adlon", "LH 404", network_delay_seconds=0.5
)
BOOKINGS: dict[str, BookingInput] = {
    # The timeline's proportions are the story here: network delays long enough to show.
    "multi_failure": replace(
        TRIP, failures_before_success=5, fail_at="flight", network_delay_seconds=1.0
    ),
    "recover_forward": replace(TRIP, name="Grace Hopper", failures_before_success=5),
    "bug": replace(TRIP, name="Edsger Dijkstra", bug_at="hotel", network_delay_seconds=0),
    "car_rejected": replace(TRIP, name="Katherine Johnson", fail_at="car"),
    "hotel_rejected": replace(TRIP, name="Alan Turing", fail_at="hotel"),
    "booked": replace(TRIP, name="Margaret Hamilton"),
}
"""The trips the pictures need, booked through the form, by the name the pictures use."""
ROLLED_BACK = ("multi_failure", "car_rejected", "hotel_rejected")


@dataclass(frozen=True)
class Stage:
    """The running demo: where its pages are, and the bookings made on it."""

    client: Client
    form_url: str
    ui_url: str
    workflow_ids: dict[str, str]
    """The workflow id of each booking in `BOOKINGS` that was made, by its name there."""

    def handle(self, booking: str) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle(self.workflow_ids[booking])

    def booking_page(self, booking: str) -> str:
        return f"{self.form_url}/bookings/{quote(self.workflow_ids[booking], safe='')}"

    def run_page(self, booking: str) -> str:
        """The booking's run in the Temporal UI (it opens on the run's latest execution)."""
        workflow_id = quote(self.workflow_ids[booking], safe="")
        return f"{self.ui_url}/namespaces/{NAMESPACE}/workflows/{workflow_id}"


@dataclass(frozen=True)
class Framing:
    """What a picture shows: the smallest rectangle around `around` (every element each one
    finds), with a margin; and the content the page was waited for before the capture."""

    around: Sequence[Locator]
    waited_for: Sequence[re.Pattern[str]]


@dataclass(frozen=True)
class Shot:
    name: str
    """The PNG's file name, without `.png`."""
    shows: str
    bookings: tuple[str, ...]
    """The trips of `BOOKINGS` it needs."""
    viewport: ViewportSize
    frame: Callable[[Page, Stage], Awaitable[Framing]]
    """Open the page, wait for the moment, and say what to keep."""


@dataclass(frozen=True)
class Picture:
    path: Path
    shows: str
    width: int
    height: int
    waited_for: tuple[re.Pattern[str], ...]
    seen: str
    """The text of the framed elements at the moment of the capture."""

    @property
    def kilobytes(self) -> float:
        return self.path.stat().st_size / 1024


class NoBrowser(RuntimeError):
    """There is no Chromium to take the pictures with."""


class ShotFailed(RuntimeError):
    """A picture's moment or content did not come."""


def pattern(text: str) -> re.Pattern[str]:
    return re.compile(re.escape(text))


def from_attempt(attempt: int) -> str:
    """A regular expression for an attempt number of at least `attempt` (2 to 9)."""
    return rf"(?:[{attempt}-9]|[1-9]\d+)"


async def attempt_reached(handle: WorkflowHandle[Any, Any], activity: str, attempt: int) -> bool:
    """Whether `activity` is pending at `attempt` or a later one: waiting for it, or in it."""
    pending = (await handle.describe()).raw_description.pending_activities
    return any(each.activity_type.name == activity and each.attempt >= attempt for each in pending)


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    await wait_until(check, None, what, WAIT_SECONDS)


async def shown(*waited_for: tuple[Locator, re.Pattern[str]]) -> None:
    """Wait until each locator shows text that its pattern finds."""
    for locator, text in waited_for:
        await expect(locator).to_contain_text(text, timeout=WAIT_SECONDS * 1000)


# The pictures, in the order of the presenter's guide.


async def our_page_retrying(
    page: Page, stage: Stage, booking: str, service: Service, attempt: int, error: str
) -> Framing:
    """Our page of `booking` once its `service` retries at `attempt` or a later one."""
    await page.goto(stage.booking_page(booking))
    step = page.locator(f"#step-{service}")
    retrying = re.compile(rf"Retrying: attempt {from_attempt(attempt)}")
    last_error = pattern(f"Last error: {error}")
    await shown((step.locator(".step-state"), retrying), (step, last_error))
    return Framing([page.locator("#live")], [retrying, last_error])


async def booking_page_retrying(page: Page, stage: Stage) -> Framing:
    return await our_page_retrying(
        page, stage, "recover_forward", "car", FORWARD_ATTEMPT, "car service unavailable"
    )


def outcome_query(outcome: str) -> str:
    return f'{BOOKING_OUTCOME.name}="{outcome}"'


async def temporal_ui_rolled_back_list(page: Page, stage: Stage) -> Framing:
    query = outcome_query("rolled_back")
    rolled_back = {stage.workflow_ids[booking] for booking in ROLLED_BACK}
    booked = {stage.workflow_ids["booked"]}

    async def listed(outcome: str, workflow_ids: set[str]) -> bool:
        found = stage.client.list_workflows(outcome_query(outcome))
        return workflow_ids <= {execution.id async for execution in found}

    # Each trip has ended and its outcome is searchable: the booked one is there to be left out.
    await until(
        lambda: listed("rolled_back", rolled_back), f"the rolled-back bookings listed for {query}"
    )
    await until(lambda: listed("booked", booked), "the booked trip listed as booked")
    # The column the guide tells the presenter to add (the list's column settings), where the
    # UI keeps it: the browser's local storage, by namespace.
    labels = ("Status", "Workflow ID", BOOKING_OUTCOME.name, "End")
    columns = {NAMESPACE: [{"label": label} for label in labels]}
    stored = json.dumps(json.dumps(columns))
    await page.add_init_script(
        f"localStorage.setItem('namespace-workflow-table-columns', {stored})"
    )
    await page.goto(f"{stage.ui_url}/namespaces/{NAMESPACE}/workflows?query={quote(query)}")
    rows = [page.get_by_role("row", name=workflow_id) for workflow_id in sorted(rolled_back)]
    await shown(*((row, pattern("rolled_back")) for row in rows))
    # The count above the list: only these, the trip that was booked is filtered out.
    count = re.compile(rf"^{len(rolled_back)}\s+Workflows$")
    heading = page.get_by_role("heading", level=1)
    await shown((heading, count))
    query_box = page.get_by_role("button", name=f"{BOOKING_OUTCOME.name} = ")
    return Framing(
        [heading, query_box, page.get_by_role("row")],
        [count, *(pattern(workflow_id) for workflow_id in sorted(rolled_back))],
    )


async def temporal_ui_multi_failure_timeline(page: Page, stage: Stage) -> Framing:
    handle = stage.handle("multi_failure")
    await asyncio.wait_for(handle.result(), WAIT_SECONDS)
    await page.goto(stage.run_page("multi_failure"))
    await page.get_by_test_id("timeline-tab").click()
    attempts = BOOKINGS["multi_failure"].failures_before_success + 1
    bars = {
        label: page.get_by_text(re.compile(rf"^{re.escape(label)}"))
        for label in (
            *(f"{attempts} • {book_activity(service)} •" for service in SERVICES),
            *(f"{undo_activity(service)} •" for service in reversed(SERVICES)),
        )
    }
    await shown(*((bar, pattern(label)) for label, bar in bars.items()))
    ticks = page.locator(".tick-label")
    await expect(ticks.first).to_be_visible()
    return Framing(
        [
            page.get_by_role("heading", name="Timeline", exact=True),
            page.get_by_role("button", name="Download"),
            *bars.values(),
            ticks,
        ],
        [pattern(label) for label in bars],
    )


async def temporal_ui_pending_activity(page: Page, stage: Stage) -> Framing:
    handle = stage.handle("bug")

    async def open_pending_activities() -> None:
        await page.goto(stage.run_page("bug"))
        await page.get_by_test_id("pending-activities-tab").click()
        await page.wait_for_url("**/pending-activities")

    # The UI takes seconds to open a run: it opens while the attempts go by.
    async with asyncio.TaskGroup() as meanwhile:
        meanwhile.create_task(open_pending_activities())
        meanwhile.create_task(
            until(
                lambda: attempt_reached(handle, "book_hotel", BUG_ATTEMPT),
                f"book_hotel at attempt {BUG_ATTEMPT}",
            )
        )
    # "Unlimited" in the page, capitals on the screen.
    unlimited = re.compile("unlimited", re.IGNORECASE)
    shown_attempt = page.get_by_text(re.compile(r"^\d+ / unlimited$", re.IGNORECASE))
    for _ in range(UI_READS):
        text = await shown_attempt.inner_text(timeout=WAIT_SECONDS * 1000)
        if int(re.findall(r"\d+", text)[0]) >= BUG_ATTEMPT:
            break
        await page.reload()  # it read the run before the attempt came; by itself, 10 s later
    attempt = page.get_by_text(re.compile(rf"^{from_attempt(BUG_ATTEMPT)} / unlimited$", re.I))
    failure = page.get_by_role("textbox", name="Last Failure")
    trace = page.get_by_role("textbox", name="Stack Trace")
    await shown((attempt, unlimited), (failure, pattern("ValueError")))
    # The trace's box scrolls; its end is the story: the line marked # BUG in activities.py.
    await trace.evaluate("lines => { lines.closest('.cm-scroller').scrollTop = 1e6; }")
    bug_line = pattern("# BUG")
    await shown((trace, bug_line))
    trace_box = trace.locator("xpath=ancestor::div[contains(@class, 'cm-editor')][1]")
    return Framing(
        [page.get_by_role("tablist"), attempt, failure, trace_box],
        [unlimited, pattern("ValueError"), bug_line],
    )


async def booking_page_bug(page: Page, stage: Stage) -> Framing:
    return await our_page_retrying(
        page, stage, "bug", "hotel", BUG_ATTEMPT, "Unknown format code 'd' for object of type 'str'"
    )


SHOTS = (
    Shot(
        "temporal-ui-rolled-back-list",
        'The Temporal UI\'s list filtered with BookingOutcome="rolled_back", its column added',
        (*ROLLED_BACK, "booked"),
        TEMPORAL_UI,
        temporal_ui_rolled_back_list,
    ),
    Shot(
        "booking-page-retrying",
        "Our booking page while Temporal retries the car (5 failures before success)",
        ("recover_forward",),
        OUR_PAGE,
        booking_page_retrying,
    ),
    Shot(
        "temporal-ui-multi-failure-timeline",
        "The multi-failure rollback's timeline: 6 attempts each, the flight rejected, 3 undos",
        ("multi_failure",),
        TEMPORAL_UI,
        temporal_ui_multi_failure_timeline,
    ),
    Shot(
        "booking-page-bug",
        "Our booking page while the hotel's bug fails attempt after attempt",
        ("bug",),
        OUR_PAGE,
        booking_page_bug,
    ),
    Shot(
        "temporal-ui-pending-activity",
        "The bug's pending activity: attempt N / UNLIMITED, the ValueError, the stack trace",
        ("bug",),
        TEMPORAL_UI,
        temporal_ui_pending_activity,
    ),
)
SHOT_NAMES = tuple(shot.name for shot in SHOTS)


async def frame_rectangle(page: Page, framing: Framing, viewport: ViewportSize) -> FloatRect:
    """The smallest rectangle around the framed elements, plus the margin, inside the page."""
    boxes = [
        box
        for locator in framing.around
        for element in await locator.all()
        if (box := await element.bounding_box()) is not None
    ]
    if not boxes:
        raise ShotFailed("none of the framed elements is on the page")
    left = max(0.0, min(box["x"] for box in boxes) - MARGIN)
    top = max(0.0, min(box["y"] for box in boxes) - MARGIN)
    right = min(float(viewport["width"]), max(box["x"] + box["width"] for box in boxes) + MARGIN)
    bottom = max(box["y"] + box["height"] for box in boxes) + MARGIN
    if bottom > viewport["height"] + MARGIN:
        raise ShotFailed(f"the framed part ends at {bottom:.0f} px, below the viewport")
    bottom = min(bottom, float(viewport["height"]))
    return FloatRect(x=left, y=top, width=right - left, height=bottom - top)


async def text_of(framing: Framing) -> str:
    texts = [await locator.all_inner_texts() for locator in framing.around]
    return "\n".join(text for each in texts for text in each)


def save_small_png(screenshot: bytes, path: Path) -> tuple[int, int]:
    """Save `screenshot` as a palette PNG at `path`; its width and height."""
    with Image.open(io.BytesIO(screenshot)) as image:
        small = image.convert("RGB").quantize(PALETTE_COLOURS, dither=Image.Dither.NONE)
        small.save(path, optimize=True)
        return image.size


def what_failed(error: BaseException) -> str:
    """The error's message; the messages of the errors it groups, for a group."""
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(what_failed(each) for each in error.exceptions)
    return str(error)


async def take(shot: Shot, browser: Browser, stage: Stage, folder: Path) -> Picture:
    context = await browser.new_context(viewport=shot.viewport, device_scale_factor=1)
    context.set_default_timeout(WAIT_SECONDS * 1000)
    try:
        page = await context.new_page()
        framing = await shot.frame(page, stage)
        clip = await frame_rectangle(page, framing, shot.viewport)
        screenshot = await page.screenshot(clip=clip, animations="disabled", caret="hide")
        seen = await text_of(framing)
    except Exception as error:
        raise ShotFailed(f"{shot.name}: {what_failed(error)}") from error
    finally:
        await context.close()
    path = folder / f"{shot.name}.png"
    width, height = save_small_png(screenshot, path)
    return Picture(path, shot.shows, width, height, tuple(framing.waited_for), seen)


async def capture(
    shots: Sequence[Shot],
    folder: Path,
    *,
    logs: Path | None = None,
) -> list[Picture]:
    """Take `shots` into `folder` from a demo started for them; the processes' output goes to
    `logs` (a folder) if given. `NoBrowser` before anything starts if there is no Chromium."""
    needed = [name for name in BOOKINGS if any(name in shot.bookings for shot in shots)]
    async with (
        async_playwright() as playwright,
        contextlib.AsyncExitStack() as stack,
    ):
        executable = find_chromium(lambda: playwright.chromium.executable_path)
        if executable is None:
            raise NoBrowser(NO_BROWSER)
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory()))

        def log(what: str) -> IO[bytes] | None:
            return None if logs is None else stack.enter_context((logs / f"{what}.log").open("wb"))

        server = DevServer(ui_port=free_port(), log=log("server"))
        worker = WorkerProcess(
            address=server.address,
            ledger=scratch / "ledger.sqlite3",
            service_latency_seconds=SERVICE_LATENCY_SECONDS,
            log=log("worker"),
        )
        form = WebFormProcess(address=server.address, temporal_ui=server.ui_url, log=log("form"))

        async def start_the_demo() -> None:
            await stack.enter_async_context(running(server))
            # In memory, nothing to keep: killed once the others have stopped, a second sooner
            # than a clean stop.
            stack.callback(server.kill)
            await stack.enter_async_context(running(worker, form, side_by_side=True))
            await server.wait_until_ui_ready()

        async def launch_chromium() -> Browser:
            browser = await playwright.chromium.launch(
                executable_path=executable, args=CHROMIUM_ARGS, headless=True
            )
            stack.push_async_callback(browser.close)
            return browser

        # Chromium starts while the demo does; whatever started is stopped when the block
        # ends, also when something fails.
        async with asyncio.TaskGroup() as starting:
            launching = starting.create_task(launch_chromium())
            starting.create_task(start_the_demo())
        visitor = FormVisitor(form.url)
        workflow_ids = {
            name: await asyncio.to_thread(visitor.book, BOOKINGS[name]) for name in needed
        }
        client = await Client.connect(server.address, namespace=NAMESPACE)
        stage = Stage(client, form.url, server.ui_url, workflow_ids)
        async with asyncio.TaskGroup() as pictures:
            taken = [
                pictures.create_task(take(shot, launching.result(), stage, folder))
                for shot in shots
            ]
    return [task.result() for task in taken]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=SHOT_NAMES, help="take only these")
    parser.add_argument("--out", type=Path, default=PICTURES_DIR, help="%(default)s")
    args = parser.parse_args()
    shots = [shot for shot in SHOTS if args.only is None or shot.name in args.only]
    began = time.monotonic()
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        pictures = asyncio.run(capture(shots, args.out))
    except* (RuntimeError, TimeoutError, OSError) as failed:
        for error in failed.exceptions:
            print(f"screenshots: {error}", file=sys.stderr)
        exit_without_finalizing(1)
    for picture in pictures:
        print(
            f"{picture.path} {picture.kilobytes:5.1f} KB {picture.width}x{picture.height}"
            f"  {picture.shows}"
        )
    print(f"{len(pictures)} pictures in {time.monotonic() - began:.0f} s")
    exit_without_finalizing(0)


if __name__ == "__main__":
    main()
