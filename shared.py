"""The booking's wire contract: the types and limits every part of the demo shares.

The workflow, the activities, the worker and the web form all import this module, so the
input a presenter types in the form, on the CLI or in a test is checked by one function.

No `from __future__ import annotations` here: Temporal's JSON converter reads a dataclass's
type hints each time it decodes one, and hints kept as text are compiled again every time
(about half a millisecond per BookingInput, four times per booking).
"""

import asyncio
import math
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Literal, Self, get_args

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

TASK_QUEUE = "booking-saga"
WORKFLOW_TYPE = "BookingWorkflow"

Service = Literal["car", "hotel", "flight"]
SERVICES: tuple[Service, ...] = ("car", "hotel", "flight")
FailAt = Literal["none", "car", "hotel", "flight"]
"""One of the bookings, or none: where the presenter makes the saga fail, or plants a bug."""
FAIL_AT_CHOICES: tuple[FailAt, ...] = get_args(FailAt)

MAX_FAILURES_BEFORE_SUCCESS = 10
MAX_COMPENSATION_FAILURES = 10
MAX_NETWORK_DELAY_SECONDS = 30.0
MAX_TEXT_LENGTH = 100


@dataclass(frozen=True)
class BookingInput:
    """One conference trip to book. The JSON form of this is the workflow's input."""

    name: str
    car: str
    hotel: str
    flight: str
    failures_before_success: int = 0
    """Each booking fails this many times with 'service unavailable' before it succeeds."""
    fail_at: FailAt = "none"
    """This booking is rejected for good (after its failures before success)."""
    network_delay_seconds: float = 3.0
    """A durable timer between two service calls: the shaky network."""
    compensation_failures: int = 0
    """Each undo fails this many times before it succeeds (Temporal retries it)."""
    parallel_compensation: bool = False
    """Run the undos at the same time instead of one after the other in reverse order."""
    continue_with_error: bool = False
    """If an undo fails for good, still run the other undos before failing."""
    bug_at: FailAt = "none"
    """This booking runs into a real bug in `activities.py` (the line marked `# BUG`) on every
    attempt, until a developer deletes that line and restarts the worker."""


StepState = Literal["waiting", "booking", "booked", "failed", "skipped", "compensating", "undone"]
"""A step's state as the saga knows it. `failed`: this booking failed (and, once the rollback
has run its undo, that undo is done too); `skipped`: never tried, an earlier step failed."""
Outcome = Literal["booked", "rolled_back", "cancelled"]

BOOKING_OUTCOME = SearchAttributeKey.for_keyword("BookingOutcome")
"""The search attribute that lets the Temporal UI's list filter bookings by outcome: `pending`
from the start, then the saga's `Outcome`. Only where the server knows it: see README."""
PENDING_OUTCOME = "pending"


def pending_outcome() -> TypedSearchAttributes:
    """The search attributes a booking starts with where the server knows `BookingOutcome`."""
    return TypedSearchAttributes([SearchAttributePair(BOOKING_OUTCOME, PENDING_OUTCOME)])


def book_activity(service: Service) -> str:
    """The activity type that books `service`: the name of its method in activities.py."""
    return f"book_{service}"


def undo_activity(service: Service) -> str:
    """The activity type that undoes the booking of `service`."""
    return f"undo_book_{service}"


def service_of_activity(activity_type: str) -> Service | None:
    """The service a booking or undo activity type is about, or None for any other type."""
    for service in SERVICES:
        if activity_type in (book_activity(service), undo_activity(service)):
            return service
    return None


@dataclass
class StepStatus:
    service: Service
    item: str
    state: StepState = "waiting"
    confirmation: str | None = None
    last_error: str | None = None


@dataclass
class NetworkDelay:
    """The shaky network: a durable timer the saga waits on before it calls `before`."""

    before: Service
    seconds: float


@dataclass
class BookingStatus:
    """What the workflow's `status` query answers: the live state of the saga."""

    steps: list[StepStatus]
    compensations: list[str] = field(default_factory=list)
    """Undo activities that have finished, in the order they finished."""
    outcome: Outcome | None = None
    error: str | None = None
    network_delay: NetworkDelay | None = None
    """The network delay the saga waits in now, if it does."""

    @classmethod
    def waiting(cls, booking: BookingInput) -> Self:
        """Every step named and waiting: the status before the saga starts."""
        return cls([StepStatus(service, booking_item(booking, service)) for service in SERVICES])

    def step(self, service: Service) -> StepStatus:
        return next(step for step in self.steps if step.service == service)

    @contextmanager
    def waiting_on_network(self, before: Service, seconds: float) -> Iterator[None]:
        """The saga waits `seconds` on the shaky network before it calls `before`."""
        self.network_delay = NetworkDelay(before, seconds)
        try:
            yield
        finally:
            self.network_delay = None

    @contextmanager
    def booking(self, service: Service) -> Iterator[StepStatus]:
        """The step is booking until the block ends: booked, or failed with its root cause."""
        step = self.step(service)
        step.state = "booking"
        try:
            yield step
        except (Exception, asyncio.CancelledError) as error:
            step.state, step.last_error = "failed", root_cause(error)
            raise
        step.state = "booked"

    @contextmanager
    def undoing(self, service: Service) -> Iterator[StepStatus]:
        """The step is compensating until its undo has run: then undone, or still failed if
        its own booking was the one that failed."""
        step = self.step(service)
        failed_step = step.state == "failed"
        step.state = "compensating"
        yield step
        step.state = "failed" if failed_step else "undone"
        self.compensations.append(undo_activity(service))

    def rolling_back(self, because: BaseException) -> None:
        """The saga failed: say why, and that the steps not tried yet never will be."""
        self.error = root_cause(because)
        for step in self.steps:
            if step.state == "waiting":
                step.state = "skipped"

    def conclude(self, outcome: Outcome) -> str:
        """Record the saga's outcome; return one line that says it, for the Temporal UI."""
        self.outcome = outcome
        if outcome == "booked":
            return "Booked: car, hotel and flight"
        return f"{outcome.replace('_', ' ').capitalize()}: {self.error}"

    @property
    def undo_order(self) -> list[Service]:
        """The services whose undo has finished, in the order they finished."""
        services = (service_of_activity(name) for name in self.compensations)
        return [service for service in services if service is not None]

    def confirmations(self, state: StepState) -> dict[str, str]:
        """The confirmation number of each step in `state`, by service."""
        return {
            step.service: step.confirmation
            for step in self.steps
            if step.state == state and step.confirmation is not None
        }

    def result(self) -> "BookingResult":
        """The workflow's result, once the saga has an outcome."""
        assert self.outcome is not None
        return BookingResult(
            outcome=self.outcome,
            booked=self.confirmations("booked"),
            undone=self.confirmations("undone"),
            compensations=list(self.compensations),
            error=self.error,
        )


@dataclass
class BookingResult:
    """The workflow's result. A rollback is a normal, successful end of the workflow."""

    outcome: Outcome
    booked: dict[str, str]
    """The reservations that stand, by service: their confirmation numbers. All three when
    the trip is booked; none after a rollback."""
    undone: dict[str, str]
    """The reservations the services took and the saga then cancelled, by service: the
    confirmation numbers they had. None when the trip is booked."""
    compensations: list[str]
    """Undo activities that ran, in the order they finished."""
    error: str | None = None
    """Why the booking was rolled back."""


def root_cause(error: BaseException) -> str:
    """The innermost message of a chain like ActivityError -> ApplicationError."""
    while error.__cause__ is not None:
        error = error.__cause__
    if isinstance(error, asyncio.CancelledError):
        return "cancelled"
    return str(error) or type(error).__name__


class InvalidBookingInput(ValueError):
    """An input that no booking can be made from. It names the field and says why."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field_name = field_name
        self.reason = reason


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_TEXT_FIELDS = ("name", "car", "hotel", "flight")
_FIELD_NAMES = frozenset(f.name for f in fields(BookingInput))


def _text(field_name: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidBookingInput(field_name, "must be text")
    text = value.strip()
    if not text:
        raise InvalidBookingInput(field_name, "is required")
    if len(text) > MAX_TEXT_LENGTH:
        raise InvalidBookingInput(field_name, f"must be at most {MAX_TEXT_LENGTH} characters")
    if _CONTROL_CHARACTERS.search(text):
        raise InvalidBookingInput(field_name, "must not contain control characters")
    return text


def _whole_number(field_name: str, value: object, maximum: int) -> int:
    if isinstance(value, str) and re.fullmatch(r"\s*\d{1,3}\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidBookingInput(field_name, "must be a whole number")
    if not 0 <= value <= maximum:
        raise InvalidBookingInput(field_name, f"must be between 0 and {maximum}")
    return value


def _seconds(field_name: str, value: object, maximum: float) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise InvalidBookingInput(field_name, "must be a number of seconds") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidBookingInput(field_name, "must be a number of seconds")
    if not 0 <= value <= maximum:
        raise InvalidBookingInput(field_name, f"must be between 0 and {maximum:g} seconds")
    return float(value)


def _choice(field_name: str, value: object) -> FailAt:
    for choice in FAIL_AT_CHOICES:
        if value == choice:
            return choice
    raise InvalidBookingInput(field_name, f"must be one of {', '.join(FAIL_AT_CHOICES)}")


def _flag(field_name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "on", "1"):
        return True
    if value in ("false", "off", "0", ""):
        return False
    raise InvalidBookingInput(field_name, "must be true or false")


def parse_booking_input(raw: Mapping[str, object]) -> BookingInput:
    """Build a `BookingInput` from JSON or form values, or raise `InvalidBookingInput`.

    Form values arrive as text ("5", "on"); JSON values arrive typed. Both are accepted,
    and nothing else: unknown fields are refused, so a typo never goes unnoticed.
    """
    unknown = sorted(set(raw) - _FIELD_NAMES)
    if unknown:
        raise InvalidBookingInput(unknown[0], "is not a field of a booking")
    defaults = BookingInput("-", "-", "-", "-")
    for text_field in _TEXT_FIELDS:
        if text_field not in raw:
            raise InvalidBookingInput(text_field, "is required")
    return BookingInput(
        name=_text("name", raw["name"]),
        car=_text("car", raw["car"]),
        hotel=_text("hotel", raw["hotel"]),
        flight=_text("flight", raw["flight"]),
        failures_before_success=_whole_number(
            "failures_before_success",
            raw.get("failures_before_success", defaults.failures_before_success),
            MAX_FAILURES_BEFORE_SUCCESS,
        ),
        fail_at=_choice("fail_at", raw.get("fail_at", defaults.fail_at)),
        network_delay_seconds=_seconds(
            "network_delay_seconds",
            raw.get("network_delay_seconds", defaults.network_delay_seconds),
            MAX_NETWORK_DELAY_SECONDS,
        ),
        compensation_failures=_whole_number(
            "compensation_failures",
            raw.get("compensation_failures", defaults.compensation_failures),
            MAX_COMPENSATION_FAILURES,
        ),
        parallel_compensation=_flag(
            "parallel_compensation",
            raw.get("parallel_compensation", defaults.parallel_compensation),
        ),
        continue_with_error=_flag(
            "continue_with_error", raw.get("continue_with_error", defaults.continue_with_error)
        ),
        bug_at=_choice("bug_at", raw.get("bug_at", defaults.bug_at)),
    )


def validate_booking_input(booking: BookingInput) -> None:
    """Raise `InvalidBookingInput` unless `booking` is one `parse_booking_input` accepts as is."""
    as_parsed = parse_booking_input(booking.__dict__)
    for name in _FIELD_NAMES:
        if getattr(as_parsed, name) != getattr(booking, name):
            raise InvalidBookingInput(name, "has surrounding spaces or the wrong type")


def booking_item(booking: BookingInput, service: Service) -> str:
    item: str = getattr(booking, service)
    return item


def booking_summary(booking: BookingInput) -> str:
    """One line for the Temporal UI's list of workflows."""
    return f"Trip for {booking.name}: {booking.car}, {booking.hotel}, {booking.flight}"


def booking_details(booking: BookingInput) -> str:
    """What the presenter broke, in markdown, for the run's page in the Temporal UI. Only the
    scenario's fields go in (choices and numbers), never text someone typed."""
    failures, undo_failures = booking.failures_before_success, booking.compensation_failures
    undo_mode = "all at once" if booking.parallel_compensation else "one by one, newest first"
    if undo_failures:
        undo_mode += (
            f"; each fails {'once' if undo_failures == 1 else f'{undo_failures} times'} first"
        )
    if booking.continue_with_error:
        undo_mode += "; the others still run if one fails for good"
    broken = {
        "Failures before success": f"{failures} per booking" if failures else "none",
        "Booking that fails for good": booking.fail_at,
        "Booking with a bug in its code": booking.bug_at
        + (" (the line marked `# BUG` in `activities.py`)" if booking.bug_at != "none" else ""),
        "Shaky-network delay": f"{booking.network_delay_seconds:g} s between two services",
        "Undo": undo_mode,
    }
    return "**What is broken in this booking**\n\n" + "\n".join(
        f"- {what}: {how}" for what, how in broken.items()
    )


def what_is_broken(booking: BookingInput) -> str:
    """What the presenter broke, in a few words: `booking_details` in one line, for the form's
    log, naming only what breaks something."""
    broken = []
    if booking.failures_before_success:
        broken.append(_times(booking.failures_before_success, "failure") + " before success")
    if booking.fail_at != "none":
        broken.append(f"{booking.fail_at} booking rejected")
    if booking.bug_at != "none":
        broken.append(f"a bug in the {booking.bug_at} booking's code")
    if booking.compensation_failures:
        broken.append(_times(booking.compensation_failures, "failure") + " per undo")
    return ", ".join(broken) or "nothing broken"


def _times(count: int, what: str) -> str:
    return f"{count} {what}{'' if count == 1 else 's'}"


def new_workflow_id(name: str, suffix: str | None = None) -> str:
    """A readable, unique workflow id: the traveller's name, then a random suffix.

    The web form passes its own `suffix`, derived from the form, so that the same form
    submitted twice names the same workflow and so starts one saga, not two.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower())[:40].strip("-") or "trip"
    return f"booking-{slug}-{suffix or uuid.uuid4().hex[:8]}"
