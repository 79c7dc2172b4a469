"""Render static/booking-saga.dot into static/booking-saga.png with Graphviz (`make diagram`).

The PNG carries the sha256 of the .dot it was made from in a text chunk, so a test can tell
that the committed picture matches its source without rendering it again (two machines do
not draw the same pixels).

python3 tools/render_diagram.py [SOURCE.dot [TARGET.png]]
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

from runtime import PROJECT_DIR

STATIC = PROJECT_DIR / "static"
SOURCE = STATIC / "booking-saga.dot"
TARGET = STATIC / "booking-saga.png"
DIGEST_KEYWORD = b"booking-saga-dot-sha256"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def source_digest(source: Path) -> str:
    return hashlib.sha256(source.read_bytes()).hexdigest()


def png_chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """The (type, data) chunks of a PNG; raise ValueError if it is not a sound PNG."""
    if not png.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    chunks = []
    offset = len(PNG_SIGNATURE)
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        data = png[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", png[offset + 8 + length : offset + 12 + length])
        if len(data) != length or zlib.crc32(kind + data) != crc:
            raise ValueError(f"damaged PNG chunk {kind!r} at byte {offset}")
        chunks.append((kind, data))
        offset += 12 + length
    if not chunks or chunks[0][0] != b"IHDR" or chunks[-1][0] != b"IEND":
        raise ValueError("a PNG starts with IHDR and ends with IEND")
    return chunks


def embedded_digest(png: Path) -> str | None:
    """The source digest written into `png` by `render`, or None if it has none."""
    for kind, data in png_chunks(png.read_bytes()):
        keyword, _, text = data.partition(b"\0")
        if kind == b"tEXt" and keyword == DIGEST_KEYWORD:
            return text.decode("latin-1")
    return None


def with_text_chunk(png: bytes, keyword: bytes, text: str) -> bytes:
    """`png` with one more tEXt chunk right after its header."""
    chunks = png_chunks(png)
    data = keyword + b"\0" + text.encode("latin-1")
    chunks.insert(1, (b"tEXt", data))
    return PNG_SIGNATURE + b"".join(
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        for kind, data in chunks
    )


def render(source: Path = SOURCE, target: Path = TARGET) -> None:
    dot = shutil.which("dot")
    if dot is None:
        raise SystemExit("Graphviz is not installed: `apt-get install graphviz` (or brew install).")
    png = subprocess.run([dot, "-Tpng", str(source)], check=True, capture_output=True).stdout
    target.write_bytes(with_text_chunk(png, DIGEST_KEYWORD, source_digest(source)))


if __name__ == "__main__":
    arguments = [Path(argument) for argument in sys.argv[1:3]]
    render(*arguments)
    print(f"wrote {arguments[1] if len(arguments) > 1 else TARGET}")
