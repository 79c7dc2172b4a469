"""The booking's wire contract: the types and limits every part of the demo shares.

The workflow, the activities, the worker and the web form all import this module, so the
input a presenter types in the form, on the CLI or in a test is checked by one function.
"""

from __future__ import annotations

import asyncio
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Literal, get_args

TASK_QUEUE = "booking-saga"
WORKFLOW_TYPE = "BookingWorkflow"

Service = Literal["car", "hotel", "flight"]
SERVICES: tuple[Service, ...] = ("car", "hotel", "flight")
FailAt = Literal["none", "car", "hotel", "flight"]
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


StepState = Literal["waiting", "booking", "booked", "failed", "skipped", "compensating", "undone"]
"""A step's state as the saga knows it. `failed`: this booking failed (and, once the rollback
has run its undo, that undo is done too); `skipped`: never tried, an earlier step failed."""
Outcome = Literal["booked", "rolled_back", "cancelled"]


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
class BookingStatus:
    """What the workflow's `status` query answers: the live state of the saga."""

    steps: list[StepStatus]
    compensations: list[str] = field(default_factory=list)
    """Undo activities that have finished, in the order they finished."""
    outcome: Outcome | None = None
    error: str | None = None

    @classmethod
    def waiting(cls, booking: BookingInput) -> BookingStatus:
        """Every step named and waiting: the status before the saga starts."""
        return cls([StepStatus(service, booking_item(booking, service)) for service in SERVICES])

    def step(self, service: Service) -> StepStatus:
        return next(step for step in self.steps if step.service == service)

    def rolling_back(self, because: str) -> None:
        """The saga failed: say why, and that the steps not tried yet never will be."""
        self.error = because
        for step in self.steps:
            if step.state == "waiting":
                step.state = "skipped"

    def conclusion(self) -> str:
        """One line for the Temporal UI once the saga has an outcome."""
        if self.outcome == "booked":
            return "Booked: car, hotel and flight"
        return f"{str(self.outcome).replace('_', ' ').capitalize()}: {self.error}"

    @property
    def undo_order(self) -> list[Service]:
        """The services whose undo has finished, in the order they finished."""
        services = (service_of_activity(name) for name in self.compensations)
        return [service for service in services if service is not None]

    def result(self) -> BookingResult:
        """The workflow's result, once the saga has an outcome."""
        assert self.outcome is not None
        return BookingResult(
            outcome=self.outcome,
            confirmations={
                step.service: step.confirmation
                for step in self.steps
                if step.confirmation is not None
            },
            compensations=list(self.compensations),
            error=self.error,
        )


@dataclass
class BookingResult:
    """The workflow's result. A rollback is a normal, successful end of the workflow."""

    outcome: Outcome
    confirmations: dict[str, str]
    """Confirmation number of each booking the services took, by service."""
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


def new_workflow_id(name: str, suffix: str | None = None) -> str:
    """A readable, unique workflow id: the traveller's name, then a random suffix.

    The web form passes its own `suffix`, derived from the form, so that the same form
    submitted twice names the same workflow and so starts one saga, not two.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "trip"
    return f"booking-{slug}-{suffix or uuid.uuid4().hex[:8]}"
