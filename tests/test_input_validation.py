"""The one validation every entry point shares: bad input names the field and says why."""

from __future__ import annotations

import re
from dataclasses import asdict, replace
from typing import Any

import pytest

from shared import (
    BookingInput,
    InvalidBookingInput,
    new_workflow_id,
    parse_booking_input,
    validate_booking_input,
)

VALID = {"name": "Ada Lovelace", "car": "Toyota Supra", "hotel": "Hotel Adlon", "flight": "LH 404"}
ADA = BookingInput(name="Ada Lovelace", car="Toyota Supra", hotel="Hotel Adlon", flight="LH 404")


def test_defaults_fill_the_optional_fields() -> None:
    assert parse_booking_input(VALID) == ADA
    assert ADA.network_delay_seconds == 3
    assert ADA.fail_at == "none"
    assert ADA.bug_at == "none"


def test_form_text_and_json_values_give_the_same_booking() -> None:
    from_form = parse_booking_input(
        {
            **VALID,
            "failures_before_success": "5",
            "fail_at": "flight",
            "network_delay_seconds": "0.5",
            "compensation_failures": "2",
            "parallel_compensation": "on",
            "continue_with_error": "false",
        }
    )
    from_json = parse_booking_input(
        {
            **VALID,
            "failures_before_success": 5,
            "fail_at": "flight",
            "network_delay_seconds": 0.5,
            "compensation_failures": 2,
            "parallel_compensation": True,
            "continue_with_error": False,
        }
    )
    assert from_form == from_json
    assert asdict(from_json)["failures_before_success"] == 5


def test_text_is_trimmed() -> None:
    assert parse_booking_input({**VALID, "name": "  Ada  "}).name == "Ada"


@pytest.mark.parametrize(
    ("changes", "field_name", "reason"),
    [
        ({"name": ""}, "name", "is required"),
        ({"car": "   "}, "car", "is required"),
        ({"hotel": 42}, "hotel", "must be text"),
        ({"flight": "x" * 101}, "flight", "at most 100"),
        ({"name": "Ada\x00"}, "name", "control characters"),
        ({"failures_before_success": 11}, "failures_before_success", "between 0 and 10"),
        ({"failures_before_success": -1}, "failures_before_success", "between 0 and 10"),
        ({"failures_before_success": "five"}, "failures_before_success", "whole number"),
        ({"failures_before_success": 2.5}, "failures_before_success", "whole number"),
        ({"failures_before_success": True}, "failures_before_success", "whole number"),
        ({"fail_at": "boat"}, "fail_at", "one of none, car, hotel, flight"),
        ({"bug_at": "boat"}, "bug_at", "one of none, car, hotel, flight"),
        ({"bug_at": None}, "bug_at", "one of none, car, hotel, flight"),
        ({"network_delay_seconds": 31}, "network_delay_seconds", "between 0 and 30"),
        ({"network_delay_seconds": "nan"}, "network_delay_seconds", "number of seconds"),
        ({"network_delay_seconds": "soon"}, "network_delay_seconds", "number of seconds"),
        ({"compensation_failures": 99}, "compensation_failures", "between 0 and 10"),
        ({"parallel_compensation": "maybe"}, "parallel_compensation", "true or false"),
        ({"seats": 2}, "seats", "not a field"),
    ],
)
def test_each_bad_value_names_its_field_and_why(
    changes: dict[str, Any], field_name: str, reason: str
) -> None:
    with pytest.raises(InvalidBookingInput) as error:
        parse_booking_input({**VALID, **changes})
    assert error.value.field_name == field_name
    assert reason in error.value.reason
    assert str(error.value).startswith(f"{field_name}: ")


def test_a_missing_required_field_is_named() -> None:
    with pytest.raises(InvalidBookingInput) as error:
        parse_booking_input({"name": "Ada", "car": "Supra", "flight": "LH 404"})
    assert error.value.field_name == "hotel"


def test_the_workflow_check_refuses_what_parsing_would_refuse() -> None:
    validate_booking_input(ADA)
    with pytest.raises(InvalidBookingInput) as error:
        validate_booking_input(replace(ADA, failures_before_success=50))
    assert error.value.field_name == "failures_before_success"
    with pytest.raises(InvalidBookingInput) as error:
        validate_booking_input(replace(ADA, name=" Ada "))
    assert error.value.field_name == "name"


@pytest.mark.parametrize(
    ("value", "meaning"),
    [
        ("true", True),
        ("on", True),
        ("1", True),
        (True, True),
        ("false", False),
        ("off", False),
        ("0", False),
        ("", False),
        (False, False),
    ],
)
@pytest.mark.parametrize("flag", ["parallel_compensation", "continue_with_error"])
def test_every_flag_spelling_of_a_form_or_json_is_read(
    flag: str, value: object, meaning: bool
) -> None:
    assert getattr(parse_booking_input({**VALID, flag: value}), flag) is meaning


@pytest.mark.parametrize("flag", ["parallel_compensation", "continue_with_error"])
def test_a_flag_that_is_neither_is_refused_by_its_name(flag: str) -> None:
    with pytest.raises(InvalidBookingInput) as error:
        parse_booking_input({**VALID, flag: "maybe"})
    assert str(error.value) == f"{flag}: must be true or false"


def test_the_limits_themselves_are_accepted() -> None:
    at_the_limits = {
        **VALID,
        "name": "A" * 100,
        "failures_before_success": 10,
        "network_delay_seconds": 30,
        "compensation_failures": 10,
    }
    booking = parse_booking_input(at_the_limits)
    assert (booking.name, booking.failures_before_success) == ("A" * 100, 10)
    assert (booking.network_delay_seconds, booking.compensation_failures) == (30.0, 10)
    assert parse_booking_input({**VALID, "network_delay_seconds": 0}).network_delay_seconds == 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"hotel": 42}, "hotel: must be text"),
        ({"car": " "}, "car: is required"),
        ({"flight": "x" * 101}, "flight: must be at most 100 characters"),
        ({"name": "Ada\x07"}, "name: must not contain control characters"),
        ({"failures_before_success": "2.5"}, "failures_before_success: must be a whole number"),
        ({"compensation_failures": 11}, "compensation_failures: must be between 0 and 10"),
        ({"network_delay_seconds": "soon"}, "network_delay_seconds: must be a number of seconds"),
        ({"network_delay_seconds": 31}, "network_delay_seconds: must be between 0 and 30 seconds"),
        ({"fail_at": "boat"}, "fail_at: must be one of none, car, hotel, flight"),
        ({"seats": 2}, "seats: is not a field of a booking"),
    ],
)
def test_the_messages_in_full(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidBookingInput) as error:
        parse_booking_input({**VALID, **changes})
    assert str(error.value) == message


def test_a_missing_required_field_says_it_is_required() -> None:
    with pytest.raises(InvalidBookingInput) as error:
        parse_booking_input({"name": "Ada", "car": "Supra", "hotel": "Adlon"})
    assert str(error.value) == "flight: is required"


def test_the_workflow_check_says_what_is_wrong() -> None:
    with pytest.raises(InvalidBookingInput) as error:
        validate_booking_input(replace(ADA, car=" Supra "))
    assert str(error.value) == "car: has surrounding spaces or the wrong type"


def test_a_workflow_id_is_readable_and_unique() -> None:
    assert new_workflow_id("Ada Lovelace", "abc") == "booking-ada-lovelace-abc"
    assert re.fullmatch(r"booking-ada-lovelace-[0-9a-f]{8}", new_workflow_id("Ada Lovelace"))
    assert new_workflow_id("Ada Lovelace") != new_workflow_id("Ada Lovelace")
    assert new_workflow_id("!!!", "x") == "booking-trip-x"
    assert new_workflow_id("Ada " * 15, "x") == "booking-" + "ada-" * 9 + "ada-x"
