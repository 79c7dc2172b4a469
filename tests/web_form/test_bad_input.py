"""Bad input: the form comes back with a 400, the message at the field, the rest of the
input kept, and no workflow started. On a real dev server, so Temporal's visibility can
count what was started."""

from __future__ import annotations

import pytest
from flask import Flask

from launcher.processes import DevServer
from tests.web_form.helpers import TRIP, fresh_form, settled_booking_count, submit, workflow_id_of

INVALID_FIELDS = [
    ("name", "", "Name is required."),
    ("name", "   ", "Name is required."),
    ("car", "x" * 101, "Car must be at most 100 characters."),
    ("hotel", "Hotel\x07Bell", "Hotel must not contain control characters."),
    ("flight", "LH\n404", "Flight must not contain control characters."),
    ("failures_before_success", "11", "must be between 0 and 10"),
    ("failures_before_success", "-1", "must be a whole number"),
    ("failures_before_success", "2.5", "must be a whole number"),
    ("failures_before_success", "five", "must be a whole number"),
    ("fail_at", "boat", "must be one of none, car, hotel, flight"),
    ("bug_at", "train", "must be one of none, car, hotel, flight"),
    ("bug_at", "Hotel", "must be one of none, car, hotel, flight"),
    ("network_delay_seconds", "31", "must be between 0 and 30 seconds"),
    ("network_delay_seconds", "nan", "must be a number of seconds"),
    ("compensation_failures", "99", "must be between 0 and 10"),
    ("parallel_compensation", "maybe", "must be true or false"),
    ("continue_with_error", "yes please", "must be true or false"),
]


@pytest.mark.parametrize(("field", "value", "message"), INVALID_FIELDS)
def test_an_invalid_field_gives_the_form_back_with_a_message_at_that_field(
    dev_app: Flask, field: str, value: str, message: str
) -> None:
    other_field = "hotel" if field != "hotel" else "car"
    typed = {**TRIP, other_field: "Kept <exactly> as typed", field: value}

    response = submit(dev_app.test_client(), typed)

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    error_at_field = page.split(f'id="{field}-error">', 1)[1].split("</p>", 1)[0]
    assert message in error_at_field
    assert f'aria-describedby="{field}-error"' in page
    assert 'value="Kept &lt;exactly&gt; as typed"' in page
    assert "Nothing was booked" in page


REFUSED_FORMS: list[tuple[dict[str, object], str]] = [
    ({"surprise": "field"}, "surprise: is not a field of a booking"),
    ({"name": ["Ada", "Eve"]}, "Name was given more than once."),
    ({"form_token": "not-a-token"}, "This form is out of date."),
    ({"csrf_token": "forged"}, "This form has expired"),
    ({"csrf_token": ""}, "This form has expired"),
]


@pytest.mark.parametrize(("fields", "message"), REFUSED_FORMS)
def test_unknown_repeated_and_forged_fields_are_refused(
    dev_app: Flask, fields: dict[str, object], message: str
) -> None:
    http = dev_app.test_client()
    response = http.post("/book", data={**fresh_form(http), **TRIP, **fields})

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert 'value="LH 404"' in page  # the flight typed is still there


def test_a_post_from_another_site_without_the_session_is_refused(dev_app: Flask) -> None:
    tokens = fresh_form(dev_app.test_client())
    stranger = dev_app.test_client()  # no session cookie: a forged cross-site POST

    response = stranger.post("/book", data={**tokens, **TRIP})

    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)


def test_no_refused_form_starts_a_workflow(
    dev_app: Flask, dev_server: DevServer, quiet_queue: str
) -> None:
    http = dev_app.test_client()
    for field, value, _ in INVALID_FIELDS:
        assert submit(http, {**TRIP, field: value}).status_code == 400
    for fields, _ in REFUSED_FORMS:
        assert http.post("/book", data={**fresh_form(http), **TRIP, **fields}).status_code == 400
    assert dev_app.test_client().post("/book", data={**fresh_form(http), **TRIP}).status_code == 400

    # Then one valid booking: once visibility shows it, it must be the only one on the queue.
    workflow_id_of(submit(http, TRIP))
    assert settled_booking_count(dev_server.address, quiet_queue, at_least=1) == 1


def test_a_request_larger_than_a_form_is_refused(dev_app: Flask) -> None:
    http = dev_app.test_client()
    response = http.post("/book", data={**fresh_form(http), **TRIP, "padding": "x" * 70_000})

    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)


def test_user_text_is_escaped_everywhere(dev_app: Flask) -> None:
    attack = "<script>alert(1)</script>"
    http = dev_app.test_client()
    workflow_id = workflow_id_of(submit(http, {**TRIP, "name": attack, "car": attack}))

    invalid = submit(http, {**TRIP, "name": attack, "failures_before_success": "x"})
    live = http.get(f"/bookings/{workflow_id}")

    assert workflow_id.startswith("booking-script-alert-1-script-")
    for page in (invalid.get_data(as_text=True), live.get_data(as_text=True)):
        assert attack not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_recent_bookings_are_listed_newest_first(dev_app: Flask, dev_server: DevServer) -> None:
    http = dev_app.test_client()
    started = [workflow_id_of(submit(http, {**TRIP, "name": name})) for name in ("Ann", "Bo", "Cy")]

    page = ""
    for _ in range(100):
        page = http.get("/bookings").get_data(as_text=True)
        if all(workflow_id in page for workflow_id in started):
            break
    positions = [page.index(f'href="/bookings/{workflow_id}"') for workflow_id in started]

    assert positions == sorted(positions, reverse=True)
