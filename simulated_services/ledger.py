"""Simulated car, hotel and flight booking services that keep real state in SQLite.

Every reservation is keyed by an idempotency key (the workflow id plus the service), so a
retried or repeated booking never books twice. An undo leaves a cancelled row behind, even
when nothing was booked: a booking that arrives late, after its undo, is then refused
instead of leaving a reservation nobody will ever cancel.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

ReservationState = Literal["booked", "cancelled"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reservations (
    idempotency_key TEXT PRIMARY KEY,
    workflow_id TEXT NOT NULL,
    service TEXT NOT NULL,
    item TEXT NOT NULL,
    customer TEXT NOT NULL,
    confirmation TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('booked', 'cancelled'))
)
"""


@dataclass(frozen=True)
class Reservation:
    idempotency_key: str
    workflow_id: str
    service: str
    item: str
    customer: str
    confirmation: str
    state: ReservationState


class ReservationCancelled(Exception):
    """The booking's undo already ran, so the service refuses to take it now."""


def idempotency_key(workflow_id: str, service: str) -> str:
    return f"{workflow_id}/{service}"


WAL_SWITCH_ATTEMPTS = 100
"""How often switching a ledger to WAL mode is tried, 50 ms apart, while another process has
the file locked (see `BookingServices._switch_to_wal`)."""


class BookingServices:
    """The three services share one ledger file; each reservation row names its service."""

    def __init__(self, ledger_path: Path) -> None:
        self.ledger_path = ledger_path
        ledger_path.parent.mkdir(parents=True, exist_ok=True)
        # One connection for the life of the services, shared by the worker's threads under a
        # lock: opening a connection per call cost ten times more than the booking itself.
        # Several worker processes still share the file: WAL lets them, the busy timeout
        # queues their writers.
        self._db = sqlite3.connect(
            ledger_path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.Lock()
        self._switch_to_wal()
        # In WAL mode, NORMAL still keeps every commit when a process dies (a worker killed
        # with SIGKILL); only a power cut could lose the last ones, which a simulation allows.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        columns = [row[1] for row in self._db.execute("PRAGMA table_info(reservations)")]
        if "status" in columns:
            # A ledger written before the column was renamed: keep its reservations.
            self._db.execute("ALTER TABLE reservations RENAME COLUMN status TO state")

    def _switch_to_wal(self) -> None:
        """WAL mode, which the file keeps. Two processes opening a new ledger at once (two
        workers starting) race for it, and SQLite answers the loser "database is locked" at
        once, without waiting out the busy timeout: so ask again, for a few seconds."""
        for attempt in range(WAL_SWITCH_ATTEMPTS):
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or attempt == WAL_SWITCH_ATTEMPTS - 1:
                    raise
                time.sleep(0.05)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction of its own, so every answer matches what this call wrote."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def reserve(self, workflow_id: str, service: str, item: str, customer: str) -> Reservation:
        """Book `item`, or return the reservation this idempotency key already made."""
        key = idempotency_key(workflow_id, service)
        confirmation = f"{service[:3].upper()}-{secrets.token_hex(3).upper()}"
        with self._transaction() as db:
            db.execute(
                "INSERT INTO reservations VALUES (?, ?, ?, ?, ?, ?, 'booked')"
                " ON CONFLICT (idempotency_key) DO NOTHING",
                (key, workflow_id, service, item, customer, confirmation),
            )
            reservation = self._get(db, key)
        assert reservation is not None
        if reservation.state == "cancelled":
            raise ReservationCancelled(f"{service} booking {key} was already undone")
        return reservation

    def cancel(self, workflow_id: str, service: str) -> Reservation | None:
        """Cancel the reservation; return it, or None if there was nothing to cancel."""
        key = idempotency_key(workflow_id, service)
        with self._transaction() as db:
            before = self._get(db, key)
            db.execute(
                "INSERT INTO reservations VALUES (?, ?, ?, '', '', '', 'cancelled')"
                " ON CONFLICT (idempotency_key) DO UPDATE SET state = 'cancelled'",
                (key, workflow_id, service),
            )
        return before if before is not None and before.state == "booked" else None

    def reservations(self, workflow_id: str | None = None) -> list[Reservation]:
        """Every row of the ledger, or those of one workflow, cancelled ones included."""
        query = "SELECT * FROM reservations"
        parameters: tuple[str, ...] = ()
        if workflow_id is not None:
            query += " WHERE workflow_id = ?"
            parameters = (workflow_id,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY rowid", parameters).fetchall()
        return [Reservation(*row) for row in rows]

    def booked(self, workflow_id: str) -> dict[str, Reservation]:
        """The live reservations of one workflow, by service."""
        return {r.service: r for r in self.reservations(workflow_id) if r.state == "booked"}

    def reset(self) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM reservations")

    @staticmethod
    def _get(db: sqlite3.Connection, key: str) -> Reservation | None:
        row = db.execute("SELECT * FROM reservations WHERE idempotency_key = ?", (key,)).fetchone()
        return Reservation(*row) if row else None
