"""The saga helper on its own: plain asyncio, no Temporal needed."""

from __future__ import annotations

import asyncio

import pytest

from saga import Compensation, CompensationError, Saga


class Recorder:
    def __init__(self) -> None:
        self.ran: list[str] = []
        self.started: list[str] = []
        self.events: list[str] = []
        """"start NAME" and "end NAME", in the order they happened."""

    def undo(self, name: str, *, fails: bool = False, delay: float = 0) -> Compensation:
        async def compensation() -> None:
            self.started.append(name)
            self.events.append(f"start {name}")
            try:
                await asyncio.sleep(delay)
                if fails:
                    raise RuntimeError(f"{name} failed")
                self.ran.append(name)
            finally:
                self.events.append(f"end {name}")

        return compensation


async def test_compensations_run_newest_first_and_only_once() -> None:
    recorder, saga = Recorder(), Saga()
    for name in ("car", "hotel", "flight"):
        saga.add_compensation(recorder.undo(name))
    await saga.compensate()
    await saga.compensate()
    assert recorder.ran == ["flight", "hotel", "car"]


async def test_sequential_compensation_stops_at_the_first_failure_by_default() -> None:
    recorder, saga = Recorder(), Saga()
    saga.add_compensation(recorder.undo("car"))
    saga.add_compensation(recorder.undo("hotel", fails=True))
    saga.add_compensation(recorder.undo("flight"))
    with pytest.raises(CompensationError) as error:
        await saga.compensate()
    assert recorder.ran == ["flight"]
    assert [str(e) for e in error.value.errors] == ["hotel failed"]


async def test_continue_with_error_runs_the_rest_then_raises() -> None:
    recorder, saga = Recorder(), Saga(continue_with_error=True)
    saga.add_compensation(recorder.undo("car", fails=True))
    saga.add_compensation(recorder.undo("hotel"))
    saga.add_compensation(recorder.undo("flight", fails=True))
    with pytest.raises(CompensationError) as error:
        await saga.compensate()
    assert recorder.ran == ["hotel"]
    assert [str(e) for e in error.value.errors] == ["flight failed", "car failed"]
    assert str(error.value) == "2 compensation(s) failed: flight failed; car failed"


async def test_parallel_compensation_starts_all_before_any_finishes() -> None:
    recorder, saga = Recorder(), Saga(parallel_compensation=True)
    saga.add_compensation(recorder.undo("car", delay=0.01))
    saga.add_compensation(recorder.undo("hotel", fails=True, delay=0.01))
    saga.add_compensation(recorder.undo("flight", delay=0.01))
    with pytest.raises(CompensationError) as error:
        await saga.compensate()
    # Started newest first, and all three before any of them finished.
    assert recorder.events[:3] == ["start flight", "start hotel", "start car"]
    assert sorted(recorder.ran) == ["car", "flight"]
    assert [str(e) for e in error.value.errors] == ["hotel failed"]
