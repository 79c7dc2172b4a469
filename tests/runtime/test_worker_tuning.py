"""Worker tuning comes from run_worker.py's options or their environment variables."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import Client
from temporalio.worker import PollerBehaviorSimpleMaximum

from activities import BookingActivities
from run_worker import build_worker
from runtime.worker import (
    STICKY_QUEUE_TIMEOUT,
    WorkerTuning,
    parse_args,
    tuning_from_args,
    worker_options,
)
from tests.refusals import refusal


async def test_options_reach_the_worker(
    client: Client, booking_activities: BookingActivities
) -> None:
    args = parse_args(
        [
            "--max-concurrent-activities=7",
            "--max-concurrent-workflow-tasks=9",
            "--workflow-task-pollers=3",
            "--activity-task-pollers=4",
            "--max-cached-workflows=50",
            "--sticky-queue-timeout=10",
        ]
    )
    worker = build_worker(client, booking_activities, **worker_options(args))

    config = worker.config()
    assert config.get("max_concurrent_activities") == 7
    assert config.get("max_concurrent_workflow_tasks") == 9
    assert config.get("workflow_task_poller_behavior") == PollerBehaviorSimpleMaximum(3)
    assert config.get("activity_task_poller_behavior") == PollerBehaviorSimpleMaximum(4)
    assert config.get("max_cached_workflows") == 50
    assert config.get("sticky_queue_schedule_to_start_timeout") == timedelta(seconds=10)


async def test_the_demo_gives_a_killed_workers_workflows_to_another_worker_after_1_s(
    client: Client, booking_activities: BookingActivities, task_queue: str
) -> None:
    options = worker_options(parse_args([]))
    worker = build_worker(client, booking_activities, task_queue=task_queue, **options)

    sticky = worker.config().get("sticky_queue_schedule_to_start_timeout")
    assert sticky == STICKY_QUEUE_TIMEOUT == timedelta(seconds=1)


def test_environment_variables_are_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOOKING_MAX_CONCURRENT_ACTIVITIES", "12")
    monkeypatch.setenv("BOOKING_WORKFLOW_TASK_POLLERS", "2")

    assert tuning_from_args(parse_args([])) == WorkerTuning(
        max_concurrent_activities=12, workflow_task_pollers=2
    )
    assert tuning_from_args(parse_args(["--workflow-task-pollers", "6"])).workflow_task_pollers == 6


async def test_unset_options_keep_the_sdk_defaults(
    client: Client, booking_activities: BookingActivities
) -> None:
    assert tuning_from_args(parse_args([])) == WorkerTuning()
    assert WorkerTuning().worker_options() == {}
    default_worker = build_worker(client, booking_activities, task_queue="q")
    assert default_worker.config().get("max_cached_workflows") == 1000


@pytest.mark.parametrize("value", ["0", "-3", "many", "2.5"])
def test_a_bad_value_is_refused_with_its_option_named(
    value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "--max-concurrent-activities: must be a whole number of at least 1" in refusal(
        parse_args, [f"--max-concurrent-activities={value}"], capsys
    )
    monkeypatch.setenv("BOOKING_ACTIVITY_TASK_POLLERS", value)
    assert (
        f"--activity-task-pollers: must be a whole number of at least 1, not {value!r} "
        "(from BOOKING_ACTIVITY_TASK_POLLERS)" in refusal(parse_args, [], capsys)
    )


@pytest.mark.parametrize("value", ["-1", "soon", "nan", "inf"])
def test_a_bad_service_latency_is_refused_naming_where_it_came_from(
    value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    error = refusal(parse_args, [f"--service-latency={value}"], capsys)
    assert f"--service-latency: must be a number of seconds, 0 or more, not {value!r}" in error
    assert "(from " not in error
    monkeypatch.setenv("BOOKING_SERVICE_LATENCY_SECONDS", value)
    assert f"not {value!r} (from BOOKING_SERVICE_LATENCY_SECONDS)" in refusal(
        parse_args, [], capsys
    )


def test_settings_from_the_environment_are_used_when_nothing_is_typed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BOOKING_SERVICE_LATENCY_SECONDS", "0.25")
    monkeypatch.setenv("BOOKING_MAX_CACHED_WORKFLOWS", "7")
    args = parse_args([])
    assert (args.service_latency, args.max_cached_workflows) == (0.25, 7)
    assert parse_args(["--service-latency", "0"]).service_latency == 0.0
    # Set but empty is unset, as `BOOKING_MAX_CACHED_WORKFLOWS= python run_worker.py` means.
    monkeypatch.setenv("BOOKING_SERVICE_LATENCY_SECONDS", "")
    monkeypatch.setenv("BOOKING_MAX_CACHED_WORKFLOWS", " ")
    args = parse_args([])
    assert (args.service_latency, args.max_cached_workflows) == (1.0, None)


def test_a_worker_process_gets_the_same_tuning_on_its_command_line() -> None:
    tuning = WorkerTuning(max_concurrent_activities=5, workflow_task_pollers=2)
    assert tuning.command_line() == ["--max-concurrent-activities=5", "--workflow-task-pollers=2"]
    assert tuning_from_args(parse_args(tuning.command_line())) == tuning
