"""The simulated services' ledger on its own: plain SQLite, no Temporal needed."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulated_services import BookingServices, Reservation

# The ledger's table as the first version of the demo wrote it.
FIRST_SCHEMA = """
CREATE TABLE reservations (
    idempotency_key TEXT PRIMARY KEY,
    workflow_id TEXT NOT NULL,
    service TEXT NOT NULL,
    item TEXT NOT NULL,
    customer TEXT NOT NULL,
    confirmation TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('booked', 'cancelled'))
)
"""


def test_a_ledger_from_the_first_version_keeps_its_reservations(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    with sqlite3.connect(path) as old:
        old.execute(FIRST_SCHEMA)
        old.execute(
            "INSERT INTO reservations VALUES (?, ?, ?, ?, ?, ?, ?)",
            ("w/car", "w", "car", "Jeep", "Ada", "CAR-1", "booked"),
        )
    old.close()

    services = BookingServices(path)
    try:
        assert services.reservations() == [
            Reservation("w/car", "w", "car", "Jeep", "Ada", "CAR-1", "booked")
        ]
        cancelled = services.cancel("w", "car")
        assert cancelled is not None
        assert cancelled.confirmation == "CAR-1"
        assert services.booked("w") == {}
    finally:
        services.close()


@pytest.fixture
def services(tmp_path: Path) -> Iterator[BookingServices]:
    opened = BookingServices(tmp_path / "nested" / "folder" / "ledger.sqlite3")
    yield opened
    opened.close()


def test_the_ledger_makes_its_folder_and_waits_for_other_writers(
    services: BookingServices,
) -> None:
    assert services.ledger_path.exists()
    with sqlite3.connect(services.ledger_path) as reader:
        assert reader.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert services._db.execute("PRAGMA busy_timeout").fetchone() == (30000,)


def test_a_confirmation_names_its_service(services: BookingServices) -> None:
    for service, prefix in (("car", "CAR"), ("hotel", "HOT"), ("flight", "FLI")):
        confirmation = services.reserve("w", service, "item", "Ada").confirmation
        assert re.fullmatch(rf"{prefix}-[0-9A-F]{{6}}", confirmation), confirmation


def test_an_undo_undoes_once_and_keeps_to_its_workflow(services: BookingServices) -> None:
    mine = services.reserve("w1", "car", "Jeep", "Ada")
    theirs = services.reserve("w2", "car", "Mini", "Eve")
    assert services.booked("w1") == {"car": mine}
    assert services.cancel("w1", "car") == mine
    assert services.cancel("w1", "car") is None, "the second undo finds nothing to undo"
    assert services.booked("w1") == {}
    assert services.booked("w2") == {"car": theirs}


def test_a_failed_transaction_leaves_nothing_and_the_next_one_works(
    services: BookingServices,
) -> None:
    def fails_half_way() -> None:
        with services._transaction() as db:
            db.execute("INSERT INTO reservations VALUES ('k', 'w', 'car', 'i', 'c', 'C', 'booked')")
            raise RuntimeError("the service fell over")

    with pytest.raises(RuntimeError):
        fails_half_way()
    assert services.reservations() == []
    services.reserve("w", "car", "Jeep", "Ada")
    assert len(services.reservations("w")) == 1


def test_reset_empties_the_ledger(services: BookingServices) -> None:
    services.reserve("w", "car", "Jeep", "Ada")
    services.cancel("w", "hotel")
    services.reset()
    assert services.reservations() == []


def test_several_workers_opening_a_new_ledger_at_once_all_open_it(tmp_path: Path) -> None:
    # Two worker processes starting together race to switch the new file to WAL mode; the
    # loser used to stop with "database is locked". Separate connections race as processes do.
    openers = 6
    failures: list[BaseException] = []
    for attempt in range(40):
        ledger = tmp_path / f"ledger-{attempt}.sqlite3"
        together = threading.Barrier(openers)

        def open_ledger(ledger: Path = ledger, together: threading.Barrier = together) -> None:
            together.wait()
            try:
                BookingServices(ledger).close()
            except BaseException as error:
                failures.append(error)

        threads = [threading.Thread(target=open_ledger) for _ in range(openers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # The file keeps the mode: a connection of its own reads it.
        with contextlib.closing(sqlite3.connect(ledger)) as reader:
            assert reader.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert failures == []
