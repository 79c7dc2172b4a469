"""Property-based tests (hypothesis) of the input validation and of POST /book.

Random unicode, very long strings, control characters, HTML, numbers out of range, missing
and repeated fields. The validation either builds a valid booking or names the bad field;
the endpoint answers 303 with a workflow started with exactly that booking, or 400 with a
message and nothing started; never anything else.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import asdict

from flask import Flask
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from temporalio.client import Client
from werkzeug.datastructures import MultiDict

from launcher.processes import DevServer
from shared import (
    FAIL_AT_CHOICES,
    MAX_COMPENSATION_FAILURES,
    MAX_FAILURES_BEFORE_SUCCESS,
    MAX_NETWORK_DELAY_SECONDS,
    MAX_TEXT_LENGTH,
    BookingInput,
    InvalidBookingInput,
    parse_booking_input,
    validate_booking_input,
)
from tests.sync_bridge import run_async
from tests.web_form.examples import count_example
from tests.web_form.helpers import fresh_form, settled_booking_count, workflow_id_of

FIELDS = tuple(asdict(BookingInput("-", "-", "-", "-")))
TEXT_FIELDS = ("name", "car", "hotel", "flight")

nasty_text = st.one_of(
    st.text(max_size=30),  # any unicode, control characters included
    st.text(min_size=MAX_TEXT_LENGTH - 2, max_size=MAX_TEXT_LENGTH + 30),  # at the limit, over it
    st.sampled_from(
        [
            "<script>alert(1)</script>",
            '"><img src=x onerror=alert(1)>',
            "{{ 7*7 }}",
            "'; DROP TABLE bookings; --",
            "\x00",
            "a\r\nb",
            "\u202eevil",
            "   ",
            "",
        ]
    ),
)
number_text = st.one_of(
    st.integers(-1000, 1000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", " 3 ", "1e3", "0x10", "٣", "007", "10.0", "-0"]),
)
flag_text = st.sampled_from(["true", "false", "on", "off", "1", "0", "", "yes", "TRUE"])
valid_text = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), min_size=1, max_size=40
).filter(lambda text: text.strip() != "")

FIELD_VALUES: dict[str, st.SearchStrategy[str]] = {
    **{name: st.one_of(valid_text, nasty_text) for name in TEXT_FIELDS},
    "failures_before_success": st.one_of(st.integers(0, 12).map(str), number_text, nasty_text),
    "fail_at": st.one_of(st.sampled_from(FAIL_AT_CHOICES), nasty_text),
    "network_delay_seconds": st.one_of(
        st.floats(0, MAX_NETWORK_DELAY_SECONDS + 5).map(str), number_text, nasty_text
    ),
    "compensation_failures": st.one_of(st.integers(0, 12).map(str), number_text, nasty_text),
    "parallel_compensation": flag_text,
    "continue_with_error": flag_text,
    "bug_at": st.one_of(st.sampled_from(FAIL_AT_CHOICES), nasty_text),
}


VALID_FIELD_VALUES: dict[str, st.SearchStrategy[str]] = {
    **{name: valid_text for name in TEXT_FIELDS},
    "failures_before_success": st.integers(0, MAX_FAILURES_BEFORE_SUCCESS).map(str),
    "fail_at": st.sampled_from(FAIL_AT_CHOICES),
    "network_delay_seconds": st.floats(0, MAX_NETWORK_DELAY_SECONDS).map(str),
    "compensation_failures": st.integers(0, MAX_COMPENSATION_FAILURES).map(str),
    "parallel_compensation": st.sampled_from(["true", "false", "on", ""]),
    "continue_with_error": st.sampled_from(["true", "false", "on", ""]),
    "bug_at": st.sampled_from(FAIL_AT_CHOICES),
}


@st.composite
def forms(draw: st.DrawFn) -> list[tuple[str, str]]:
    """Form fields as a browser (or an attacker) might send them: a good form with up to
    three things wrong: a nasty value, a missing field, a repeated one, one it lacks."""
    fields = {name: [draw(VALID_FIELD_VALUES[name])] for name in FIELDS}
    extra: list[tuple[str, str]] = []
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(FIELDS))
        damage = draw(st.sampled_from(["nasty", "nasty", "missing", "repeated", "stranger"]))
        if damage == "nasty":
            fields[name] = [draw(FIELD_VALUES[name])]
        elif damage == "missing":
            fields[name] = []
        elif damage == "repeated":
            fields[name] = [*fields[name], draw(FIELD_VALUES[name])]
        else:
            stranger = draw(st.text(min_size=1, max_size=10).filter(lambda key: key not in FIELDS))
            extra.append((stranger, draw(nasty_text)))
    return [(name, value) for name, values in fields.items() for value in values] + extra


typed_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    nasty_text,
    number_text,
)


VALID_JSON_VALUES: dict[str, st.SearchStrategy[object]] = {
    **{name: valid_text for name in TEXT_FIELDS},
    "failures_before_success": st.integers(0, MAX_FAILURES_BEFORE_SUCCESS),
    "fail_at": st.sampled_from(FAIL_AT_CHOICES),
    "bug_at": st.sampled_from(FAIL_AT_CHOICES),
    "network_delay_seconds": st.one_of(
        st.integers(0, int(MAX_NETWORK_DELAY_SECONDS)), st.floats(0, MAX_NETWORK_DELAY_SECONDS)
    ),
    "compensation_failures": st.integers(0, MAX_COMPENSATION_FAILURES),
    "parallel_compensation": st.booleans(),
    "continue_with_error": st.booleans(),
}


@st.composite
def raw_inputs(draw: st.DrawFn) -> dict[str, object]:
    """What parse_booking_input may be handed: a valid booking as form text or JSON values
    (optional fields sometimes left out), with up to three fields damaged (a nasty value, a
    value of another type, or missing), and sometimes a field it does not have. Few damaged
    fields, so that every field is often the first one wrong."""
    raw: dict[str, object] = {}
    for name in FIELDS:
        if name in TEXT_FIELDS or draw(st.integers(0, 4)):
            raw[name] = draw(st.one_of(VALID_FIELD_VALUES[name], VALID_JSON_VALUES[name]))
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True)):
        damage = draw(st.integers(0, 9))
        if damage < 6:
            raw[name] = draw(FIELD_VALUES[name])
        elif damage < 9:
            raw[name] = draw(typed_values)
        else:
            raw.pop(name, None)
    if draw(st.integers(0, 9)) == 0:
        raw[draw(st.text(max_size=10))] = draw(typed_values)
    return raw


GOOD_TEXT = {name: "fine" for name in TEXT_FIELDS}
"""Every required field, valid; the optional ones take their defaults."""


def assert_blames_a_bad_field(raw: dict[str, object], refusal: InvalidBookingInput) -> None:
    """The field the refusal names is really wrong in `raw`: a stranger that was sent, a
    required field that is missing, or a value that is refused on its own, for the same
    reason, in an otherwise valid booking."""
    name = refusal.field_name
    assert refusal.reason
    if name not in FIELDS:
        assert name in raw, f"{name!r} is neither a field nor sent"
        assert refusal.reason == "is not a field of a booking"
        return
    if name not in raw:
        assert name in TEXT_FIELDS, f"{name!r} is optional, yet its absence was blamed"
        assert refusal.reason == "is required"
        return
    alone = parsed_or_refusal({**GOOD_TEXT, name: raw[name]})
    assert isinstance(alone, InvalidBookingInput), f"{name}={raw[name]!r} is fine on its own"
    assert (alone.field_name, alone.reason) == (name, refusal.reason)


def parsed_or_refusal(raw: dict[str, object]) -> BookingInput | InvalidBookingInput:
    """The booking, or the refusal; any other exception fails the property."""
    try:
        return parse_booking_input(raw)
    except InvalidBookingInput as invalid:
        return invalid


@settings(max_examples=300, deadline=None)
@given(raw_inputs())
def test_parse_booking_input_accepts_only_valid_bookings_and_names_the_bad_field(
    raw: dict[str, object],
) -> None:
    count_example("parse_booking_input: random raw input")
    booking = parsed_or_refusal(raw)
    if isinstance(booking, InvalidBookingInput):
        assert_blames_a_bad_field(raw, booking)
        return
    validate_booking_input(booking)
    for name in TEXT_FIELDS:
        text = getattr(booking, name)
        assert text == text.strip()
        assert 0 < len(text) <= MAX_TEXT_LENGTH
        assert text == str(raw[name]).strip()
    assert 0 <= booking.failures_before_success <= MAX_FAILURES_BEFORE_SUCCESS
    assert 0 <= booking.compensation_failures <= MAX_COMPENSATION_FAILURES
    assert math.isfinite(booking.network_delay_seconds)
    assert 0 <= booking.network_delay_seconds <= MAX_NETWORK_DELAY_SECONDS
    assert booking.fail_at in FAIL_AT_CHOICES
    assert booking.bug_at in FAIL_AT_CHOICES


PLAIN_NAMES = st.sampled_from(["Ada Lovelace", "Volvo EX30", "Hôtel Adlon", "LH 404", "東京"])


@st.composite
def one_bad_field(draw: st.DrawFn) -> tuple[str, dict[str, object]]:
    """A valid booking with exactly one field made wrong (a bad value or, for a required
    field, left out), and the name of that field."""
    # The other fields are valid; plain names keep this quick (the valid-text properties
    # above and below try every kind of text).
    raw: dict[str, object] = {
        name: draw(
            PLAIN_NAMES
            if name in TEXT_FIELDS
            else st.one_of(VALID_FIELD_VALUES[name], VALID_JSON_VALUES[name])
        )
        for name in FIELDS
    }
    name = draw(st.sampled_from(FIELDS))
    if name in TEXT_FIELDS and draw(st.integers(0, 4)) == 0:
        del raw[name]
        return name, raw
    value = draw(st.one_of(FIELD_VALUES[name], typed_values))
    assume(isinstance(parsed_or_refusal({**GOOD_TEXT, name: value}), InvalidBookingInput))
    raw[name] = value
    return name, raw


@settings(max_examples=300, deadline=None)
@given(one_bad_field())
def test_a_booking_with_one_bad_field_names_that_field(bad: tuple[str, dict[str, object]]) -> None:
    count_example("parse_booking_input: one bad field")
    name, raw = bad
    refusal = parsed_or_refusal(raw)
    assert isinstance(refusal, InvalidBookingInput)
    assert refusal.field_name == name
    assert str(refusal).startswith(f"{name}: ")


valid_bookings = st.builds(
    BookingInput,
    name=valid_text.map(str.strip),
    car=valid_text.map(str.strip),
    hotel=valid_text.map(str.strip),
    flight=valid_text.map(str.strip),
    failures_before_success=st.integers(0, MAX_FAILURES_BEFORE_SUCCESS),
    fail_at=st.sampled_from(FAIL_AT_CHOICES),
    network_delay_seconds=st.floats(0, MAX_NETWORK_DELAY_SECONDS),
    compensation_failures=st.integers(0, MAX_COMPENSATION_FAILURES),
    parallel_compensation=st.booleans(),
    continue_with_error=st.booleans(),
    bug_at=st.sampled_from(FAIL_AT_CHOICES),
)


@settings(max_examples=200, deadline=None)
@given(valid_bookings)
def test_every_valid_booking_survives_the_form_and_json_as_it_is(booking: BookingInput) -> None:
    count_example("parse_booking_input: valid booking round trip")
    as_json = asdict(booking)
    as_form = {
        name: ("true" if value else "false") if isinstance(value, bool) else str(value)
        for name, value in as_json.items()
    }
    assert parse_booking_input(as_json) == booking
    assert parse_booking_input(as_form) == booking


def expected_outcome(pairs: list[tuple[str, str]]) -> BookingInput | None:
    """What the shared validation says about this form: the booking, or None for a 400."""
    names = [name for name, _ in pairs]
    if len(names) != len(set(names)):
        return None
    try:
        return parse_booking_input(dict(pairs))
    except InvalidBookingInput:
        return None


def test_post_book_answers_303_with_the_workflow_or_400_and_starts_nothing(
    dev_app: Flask, dev_server: DevServer, quiet_queue: str
) -> None:
    http = dev_app.test_client()
    tokens = fresh_form(http)
    started: dict[str, BookingInput] = {}
    refused = 0

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(forms())
    def post_book(pairs: list[tuple[str, str]]) -> None:
        nonlocal refused
        count_example("POST /book: random form")
        response = http.post("/book", data=MultiDict([*tokens.items(), *pairs]))
        expected = expected_outcome(pairs)
        page = response.get_data(as_text=True)
        if expected is None:
            assert response.status_code == 400, page[:3000]
            assert 'class="field-error"' in page or 'class="problem"' in page
            refused += 1
            count_example("POST /book: of which answered 400")
        else:
            workflow_id = workflow_id_of(response)
            assert started.setdefault(workflow_id, expected) == expected
            assert response.status_code == 303
            count_example("POST /book: of which answered 303")

    post_book()

    assert started, "the strategies must produce valid forms too"
    assert refused, "the strategies must produce invalid forms too"
    # Exactly the 303s started workflows, each with exactly the booking the validation made.
    assert settled_booking_count(dev_server.address, quiet_queue, len(started)) == len(started)
    inputs = run_async(lambda: started_inputs(dev_server.address, list(started)))
    assert inputs == started


async def started_inputs(address: str, workflow_ids: list[str]) -> dict[str, BookingInput]:
    client = await Client.connect(address)

    async def input_of(workflow_id: str) -> BookingInput:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        [booking] = await client.data_converter.decode(list(started.input.payloads), [BookingInput])
        assert isinstance(booking, BookingInput)
        return booking

    bookings = await asyncio.gather(*(input_of(workflow_id) for workflow_id in workflow_ids))
    return dict(zip(workflow_ids, bookings, strict=True))
