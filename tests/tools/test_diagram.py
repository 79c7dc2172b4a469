"""The committed saga diagram is a sound PNG rendered from the committed Graphviz source."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

from tests.needs import require_tool
from tools.render_diagram import (
    SOURCE,
    TARGET,
    embedded_digest,
    png_chunks,
    render,
    source_digest,
)


def test_committed_png_was_rendered_from_the_committed_source() -> None:
    assert embedded_digest(TARGET) == source_digest(SOURCE), (
        "static/booking-saga.png is out of date: run `make diagram` and commit the PNG"
    )


def test_committed_png_is_a_sound_picture_big_enough_to_read() -> None:
    chunks = png_chunks(TARGET.read_bytes())
    width, height = struct.unpack(">II", chunks[0][1][:8])
    assert width >= 1200
    assert height >= 300


def test_a_changed_source_no_longer_matches(tmp_path: Path) -> None:
    changed = tmp_path / "booking-saga.dot"
    changed.write_bytes(SOURCE.read_bytes().replace(b"Book car", b"Rent car"))
    assert source_digest(changed) != embedded_digest(TARGET)


def test_render_embeds_the_digest_of_its_source(tmp_path: Path) -> None:
    require_tool("Graphviz (`dot`)", shutil.which("dot"), "apt-get install graphviz")
    target = tmp_path / "saga.png"
    render(SOURCE, target)
    assert embedded_digest(target) == source_digest(SOURCE)
    assert png_chunks(target.read_bytes())[1][0] == b"tEXt"
