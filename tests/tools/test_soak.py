"""The soak tool: its audit catches every broken promise, and a small real run keeps them all.

The small run (30 bookings) starts a real dev server with a data file, two worker processes
and the form, kills a worker and the server on the way and freezes the server for 2 s (the full
run: 15 s), and takes about 12 s: deselect it with `pytest -m "not soak"`. The full run is
`python tools/soak.py` (500 bookings).
"""

from __future__ import annotations

import runpy
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus

from runtime import PROJECT_DIR
from shared import BookingInput, BookingResult
from simulated_services import Reservation
from tests.refusals import refusal
from tools.soak import (
    Partition,
    Scenario,
    SoakReport,
    SoakSettings,
    audit_booking,
    parse_args,
    random_scenarios,
    run_soak,
)

COMPLETED = WorkflowExecutionStatus.COMPLETED
SMALL_SOAK = 30
"""Bookings in the suite's soak run (the full run: 500)."""
TRIP = BookingInput("Ada", "Toyota Supra", "Hotel Adlon", "LH 404", network_delay_seconds=0)


def booked_rows(workflow_id: str, services: tuple[str, ...]) -> list[Reservation]:
    return [
        Reservation(f"{workflow_id}/{s}", workflow_id, s, "item", "Ada", f"{s}-1", "booked")
        for s in services
    ]


def cancelled_rows(workflow_id: str, services: tuple[str, ...]) -> list[Reservation]:
    return [replace(row, state="cancelled") for row in booked_rows(workflow_id, services)]


BOOKED = BookingResult("booked", {"car": "car-1", "hotel": "hotel-1", "flight": "flight-1"}, {}, [])


def test_a_booking_with_all_three_reservations_is_booked() -> None:
    scenario = Scenario("w", TRIP)
    audit = audit_booking(scenario, COMPLETED, BOOKED, booked_rows("w", ("car", "hotel", "flight")))
    assert (audit.verdict, audit.duplicates, audit.problem) == ("booked", 0, None)


def test_a_rollback_that_undid_what_it_attempted_is_rolled_back() -> None:
    scenario = Scenario("w", replace(TRIP, fail_at="hotel"))
    # The hotel's row is an undo that found nothing to cancel: the hotel rejected the booking.
    [hotel] = cancelled_rows("w", ("hotel",))
    rows = [*cancelled_rows("w", ("car",)), replace(hotel, confirmation="")]
    result = BookingResult(
        "rolled_back", {}, {"car": "car-1"}, ["undo_book_hotel", "undo_book_car"]
    )
    audit = audit_booking(scenario, COMPLETED, result, rows)
    assert (audit.verdict, audit.problem) == ("rolled_back", None)


def test_one_or_two_live_reservations_are_a_partial_booking() -> None:
    scenario = Scenario("w", replace(TRIP, fail_at="flight"))
    rows = booked_rows("w", ("car",)) + cancelled_rows("w", ("hotel", "flight"))
    result = BookingResult("rolled_back", {}, {}, ["undo_book_flight", "undo_book_hotel"])
    audit = audit_booking(scenario, COMPLETED, result, rows)
    assert audit.verdict == "partial"
    assert audit.problem == "w: only car booked"


def test_a_reservation_made_twice_is_a_duplicate() -> None:
    rows = booked_rows("w", ("car", "hotel", "flight", "hotel"))
    audit = audit_booking(Scenario("w", TRIP), COMPLETED, BOOKED, rows)
    assert audit.duplicates == 1
    assert audit.problem == "w: 1 duplicated reservation(s)"


def test_a_workflow_still_running_at_the_deadline_is_stuck() -> None:
    audit = audit_booking(Scenario("w", TRIP), WorkflowExecutionStatus.RUNNING, None, [])
    assert audit.verdict == "stuck"
    assert audit_booking(Scenario("w", TRIP), None, None, []).verdict == "stuck"


def test_a_workflow_that_failed_did_not_complete() -> None:
    audit = audit_booking(Scenario("w", TRIP), WorkflowExecutionStatus.FAILED, None, [])
    assert (audit.verdict, audit.problem) == ("not_completed", "w: workflow ended FAILED")


@pytest.mark.parametrize(
    ("scenario", "result", "rows", "problem"),
    [
        (
            Scenario("w", replace(TRIP, fail_at="car")),
            BOOKED,
            booked_rows("w", ("car", "hotel", "flight")),
            "booked, but fail_at=car asked for it to be rolled_back",
        ),
        (
            Scenario("w", TRIP),
            replace(BOOKED, booked={**BOOKED.booked, "car": "car-2"}),
            booked_rows("w", ("car", "hotel", "flight")),
            "booked {'car': 'car-2'",
        ),
        (
            Scenario("w", TRIP),
            replace(BOOKED, undone={"car": "car-0"}),
            booked_rows("w", ("car", "hotel", "flight")),
            "undone {'car': 'car-0'}",
        ),
        (
            Scenario("w", replace(TRIP, fail_at="hotel")),
            BookingResult(
                "rolled_back", {"car": "car-1"}, {}, ["undo_book_hotel", "undo_book_car"]
            ),
            cancelled_rows("w", ("car", "hotel")),
            "the result names ['car'] as booked",
        ),
        (
            Scenario("w", replace(TRIP, fail_at="hotel")),
            BookingResult(
                "rolled_back", {}, {"car": "car-1"}, ["undo_book_hotel", "undo_book_car"]
            ),
            cancelled_rows("w", ("car", "hotel")),
            "undone {'car': 'car-1'}, but the ledger cancelled",
        ),
        (
            Scenario("w", replace(TRIP, fail_at="hotel")),
            BookingResult(
                "rolled_back",
                {},
                {"car": "car-1", "hotel": "hotel-1"},
                ["undo_book_car", "undo_book_hotel"],
            ),
            cancelled_rows("w", ("car", "hotel")),
            "compensations ['undo_book_car', 'undo_book_hotel']",
        ),
        (
            Scenario("w", replace(TRIP, fail_at="hotel")),
            BookingResult(
                "rolled_back", {}, {"car": "car-1"}, ["undo_book_hotel", "undo_book_car"]
            ),
            cancelled_rows("w", ("car",)),
            "undo rows for ['car'], expected ['car', 'hotel']",
        ),
    ],
    ids=[
        "outcome",
        "confirmation",
        "undone-when-booked",
        "booked-after-rollback",
        "undone-not-in-ledger",
        "undo-order",
        "undo-missing",
    ],
)
def test_an_outcome_other_than_the_scenario_asked_for_is_wrong(
    scenario: Scenario, result: BookingResult, rows: list[Reservation], problem: str
) -> None:
    audit = audit_booking(scenario, COMPLETED, result, rows)
    assert audit.verdict == "wrong_outcome"
    assert audit.problem is not None
    assert problem in audit.problem


def test_parallel_undos_may_finish_in_any_order() -> None:
    scenario = Scenario("w", replace(TRIP, fail_at="hotel", parallel_compensation=True))
    result = BookingResult(
        "rolled_back",
        {},
        {"car": "car-1", "hotel": "hotel-1"},
        ["undo_book_car", "undo_book_hotel"],
    )
    audit = audit_booking(scenario, COMPLETED, result, cancelled_rows("w", ("car", "hotel")))
    assert audit.verdict == "rolled_back"


def test_scenarios_come_from_the_seed_and_count_their_faults() -> None:
    assert random_scenarios(20, seed=4) == random_scenarios(20, seed=4)
    assert random_scenarios(20, seed=4) != random_scenarios(20, seed=5)
    flight_rejected = Scenario(
        "w", replace(TRIP, failures_before_success=2, fail_at="flight", compensation_failures=1)
    )
    # 2 failures for each of 3 bookings, 1 rejection, 1 failure for each of 3 undos.
    assert flight_rejected.injected_faults == 6 + 1 + 3
    assert Scenario("w", replace(TRIP, failures_before_success=3)).injected_faults == 9


def test_a_form_that_hangs_or_stays_down_around_a_freeze_fails_the_soak() -> None:
    answered = Partition(15, 3, 503, "Temporal is not answering", 2.0, 0.5)
    assert answered.problems() == []
    for broken in (
        replace(answered, form_answer_seconds=6.0),  # answered too late
        replace(answered, form_status=500),  # not the clear page
        replace(answered, form_status=None),  # no answer at all
        replace(answered, form_recovered_seconds=None),  # never came back
    ):
        assert broken.problems(), broken
        report = SoakReport(SoakSettings(bookings=0), partition=broken)
        assert report.exit_status == 1


def test_the_soak_script_runs_from_the_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The script as `python tools/soak.py --help` runs it, in this process: the quick tier
    # starts no process.
    script = str(PROJECT_DIR / "tools" / "soak.py")
    monkeypatch.setattr(sys, "argv", [script, "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(script, run_name="__main__")
    assert exit_info.value.code == 0
    assert "--bookings" in capsys.readouterr().out


@pytest.mark.soak
@pytest.mark.real_server
async def test_a_small_soak_with_a_worker_and_the_server_killed_and_frozen_keeps_every_promise(
    tmp_path: Path,
) -> None:
    # At most one failure per step and per undo: every retry and undo path still runs, and
    # the slowest booking takes seconds, not the full run's twenty. Thirty bookings are
    # enough for each kill and the freeze to hit running ones, which the asserts check.
    settings = SoakSettings(
        bookings=SMALL_SOAK,
        workers=2,
        seed=7,
        deadline_seconds=150,
        freeze_seconds=2,
        most_failures_before_success=1,
        most_undo_failures=1,
        # A workflow task lost with the killed worker is offered again after 2 s, not 10.
        workflow_task_timeout_seconds=2,
        work_dir=tmp_path,
    )
    report = await run_soak(settings)

    print(report.table())
    assert report.exit_status == 0, report.problems
    scenarios = settings.scenarios()
    asked_to_book = sum(1 for scenario in scenarios if scenario.booking.fail_at == "none")
    assert (report.count("booked"), report.count("rolled_back")) == (
        asked_to_book,
        SMALL_SOAK - asked_to_book,
    )
    assert 0 < asked_to_book < SMALL_SOAK
    assert report.duplicates == 0
    assert report.crashed_workers == []
    assert [process for process, _ in report.kills] == ["worker", "server"]
    assert all(running > 0 for _, running in report.kills), "each kill must hit running bookings"
    assert report.scenario_faults == sum(scenario.injected_faults for scenario in scenarios) > 0
    partition = report.partition
    assert partition is not None
    assert partition.running > 0, "the freeze must hit running bookings"
    assert partition.frozen_seconds >= 2
    # While frozen, the form answered with its clear page in time; then it recovered alone.
    assert partition.form_status == 503
    assert partition.form_answer_seconds is not None
    assert partition.form_answer_seconds < 5
    assert "Cannot reach the Temporal server at" in partition.form_message
    assert partition.form_recovered_seconds is not None


def test_the_most_failures_bound_each_scenarios_injected_failures() -> None:
    scenarios = random_scenarios(200, 3, most_failures_before_success=1, most_undo_failures=0)
    assert {s.booking.failures_before_success for s in scenarios} == {0, 1}
    assert {s.booking.compensation_failures for s in scenarios} == {0}
    assert {s.booking.failures_before_success for s in random_scenarios(200, 3)} == {0, 1, 2, 3}


def test_the_soak_script_takes_the_most_failures_and_refuses_a_negative_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = parse_args(["--most-failures", "1", "--most-undo-failures", "0"])
    assert (settings.most_failures_before_success, settings.most_undo_failures) == (1, 0)
    assert settings.scenarios() == random_scenarios(500, 1, 1, 0)
    assert (SoakSettings().most_failures_before_success, SoakSettings().most_undo_failures) == (
        3,
        2,
    )
    assert "--most-failures and --most-undo-failures must be at least 0" in refusal(
        parse_args, ["--most-failures", "-1"], capsys
    )
    assert parse_args(["--workflow-task-timeout", "2"]).workflow_task_timeout_seconds == 2
    assert parse_args([]).workflow_task_timeout_seconds == 10
    for bad in ("0", "121", "nan"):
        assert "--workflow-task-timeout must be from 1 to 120 seconds" in refusal(
            parse_args, ["--workflow-task-timeout", bad], capsys
        )
