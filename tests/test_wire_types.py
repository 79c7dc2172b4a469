"""The wire contract's types keep their field types as types, not as text.

Temporal's JSON converter looks up a dataclass's type hints each time it decodes one; a hint
kept as text (`from __future__ import annotations`) is compiled again on every decode, which
made decoding each BookingInput several times slower.
"""

from dataclasses import fields

import pytest

from shared import BookingInput, BookingResult, BookingStatus, NetworkDelay, StepStatus


@pytest.mark.parametrize(
    "wire_type", [BookingInput, BookingResult, BookingStatus, NetworkDelay, StepStatus]
)
def test_every_field_type_is_a_type_not_text(wire_type: type) -> None:
    assert [field.name for field in fields(wire_type) if isinstance(field.type, str)] == []
