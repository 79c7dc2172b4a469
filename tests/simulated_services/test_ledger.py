"""The simulated services' ledger on its own: plain SQLite, no Temporal needed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

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
