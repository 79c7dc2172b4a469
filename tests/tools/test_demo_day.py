"""The long demo day tool: a small real run through the form, and what fails the day.

The full run is `python tools/demo_day.py` (2,000 bookings, about half an hour); its figures
are in docs/soak-and-benchmark.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from shared import BookingInput
from tools.demo_day import DemoDayReport, DemoDaySettings, MemorySample, run_demo_day
from tools.form_visitor import form_fields


def test_the_form_gets_text_and_only_the_ticked_boxes() -> None:
    booking = BookingInput("Ada", "Mini", "Savoy", "BA 2", parallel_compensation=True)
    fields = form_fields(booking)
    assert fields["failures_before_success"] == "0"
    assert fields["parallel_compensation"] == "true"
    assert "continue_with_error" not in fields


def report_with(worker_end: float, form_end: float) -> DemoDayReport:
    report = DemoDayReport(DemoDaySettings(bookings=3, warm_up=1), outcomes={"booked": 3})
    report.samples = [
        MemorySample("start", 0, 60.0, 60.0),
        MemorySample("after warm-up", 1, 70.0, 70.0),
        MemorySample("end", 3, worker_end, form_end),
    ]
    return report


def test_growth_after_the_warm_up_beyond_the_goal_fails_the_day() -> None:
    assert report_with(119.0, 90.0).exit_status == 0
    assert report_with(120.0, 90.0).exit_status == 1
    assert report_with(90.0, 120.0).exit_status == 1
    unfinished = report_with(80.0, 80.0)
    unfinished.unfinished.append("booking-ada-1")
    assert unfinished.exit_status == 1


@pytest.mark.real_server
async def test_a_short_demo_day_books_through_the_form_and_samples_memory(
    tmp_path: Path,
) -> None:
    settings = DemoDaySettings(bookings=6, in_flight=6, warm_up=2, retries=False, work_dir=tmp_path)
    report = await run_demo_day(settings)

    print(report.table())
    assert report.errors == []
    assert report.unfinished == []
    assert sum(report.outcomes.values()) == 6
    assert set(report.outcomes) <= {"booked", "rolled_back"}
    # Each booking: the form, its submit, its page, and at least one poll of its live view.
    assert report.requests >= 6 * 4
    labels = [sample.label for sample in report.samples]
    assert labels[0] == "start"
    assert "after warm-up" in labels
    assert labels[-1] == "end"
    assert all(s.worker_mb > 10 and s.form_mb > 10 for s in report.samples)
    assert report.exit_status == 0
