"""The simulated car, hotel and flight services: real state in a SQLite ledger, no network."""

from simulated_services.ledger import (
    BookingServices,
    Reservation,
    ReservationCancelled,
    ReservationState,
    idempotency_key,
)

__all__ = [
    "BookingServices",
    "Reservation",
    "ReservationCancelled",
    "ReservationState",
    "idempotency_key",
]
