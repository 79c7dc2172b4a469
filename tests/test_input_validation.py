"""The one validation every entry point shares: bad input names the field and says why."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

import pytest

from shared import BookingInput, InvalidBookingInput, parse_booking_input, validate_booking_input

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
