"""The presenter's guide's pictures: a fast part of `tools/screenshots.py` run for real (a dev
server with its Web UI, a worker, the form, Chromium), one picture of our page and one of the
Temporal UI, each taken once the page shows the moment it is about.

The whole set is `make screenshots` (about a minute); its pictures are in docs/screenshots/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from tests.needs import require_tool
from tests.sync_bridge import run_async
from tools.screenshots import (
    PICTURES_DIR,
    SHOT_NAMES,
    SHOTS,
    NoBrowser,
    Picture,
    capture,
)

RETRYING_BADGE = (0xA8, 0x4B, 0x00)
"""The colour of our page's "Retrying" badge (static/style.css, --retrying)."""


def take(names: tuple[str, ...], folder: Path) -> dict[str, Picture]:
    shots = [shot for shot in SHOTS if shot.name in names]
    try:
        pictures = run_async(lambda: capture(shots, folder, logs=folder), timeout=120)
    except NoBrowser as missing:
        require_tool("Chromium", None, str(missing))
        raise
    return {picture.path.stem: picture for picture in pictures}


def pixels_near(image: Image.Image, colour: tuple[int, int, int], within: int = 12) -> int:
    """How many pixels of `image` have about `colour`."""
    rgb = image.convert("RGB")
    found = 0
    for count, pixel in rgb.getcolors(maxcolors=rgb.width * rgb.height) or []:
        assert isinstance(pixel, tuple)
        if all(
            abs(channel - wanted) <= within for channel, wanted in zip(pixel, colour, strict=True)
        ):
            found += count
    return found


def assert_small_sound_png(picture: Picture) -> Image.Image:
    """A real PNG, a palette one of a sensible size, with more than a blank page's colours."""
    image = Image.open(picture.path)
    assert image.format == "PNG"
    assert image.mode == "P"
    assert (image.width, image.height) == (picture.width, picture.height)
    assert 600 <= image.width <= 1440
    assert 150 <= image.height <= 1100
    assert 4 <= picture.kilobytes <= 120
    assert len(image.convert("RGB").getcolors(maxcolors=1 << 16) or []) >= 16
    return image


@pytest.mark.real_server
@pytest.mark.browser
def test_a_picture_of_our_page_and_one_of_the_temporal_ui_show_their_moment(
    tmp_path: Path,
) -> None:
    pictures = take(("booking-page-retrying", "temporal-ui-pending-activity"), tmp_path)
    assert set(pictures) == {"booking-page-retrying", "temporal-ui-pending-activity"}
    for picture in pictures.values():
        assert_small_sound_png(picture)
        # The page showed what the picture waited for when it was taken.
        for waited_for in picture.waited_for:
            assert waited_for.search(picture.seen), (picture.path.name, waited_for, picture.seen)

    ours = pictures["booking-page-retrying"]
    assert re.search(r"Car\s+Toyota Supra", ours.seen)
    assert re.search(r"Retrying: attempt [4-9]", ours.seen)
    assert "Last error: car service unavailable" in ours.seen
    # The badge is in the picture itself, not only in the page's text.
    assert pixels_near(Image.open(ours.path), RETRYING_BADGE) >= 2000

    temporal_ui = pictures["temporal-ui-pending-activity"]
    assert re.search(r"\b[3-9]\s*/\s*unlimited", temporal_ui.seen, re.IGNORECASE)
    assert "ValueError" in temporal_ui.seen
    assert re.search(r"activities\.py.*\n.*# BUG", temporal_ui.seen)


def test_the_guide_shows_every_picture_and_each_is_committed() -> None:
    guide = (PICTURES_DIR.parent / "presenter-guide.md").read_text()
    for name in SHOT_NAMES:
        assert f"](screenshots/{name}.png)" in guide
        assert (PICTURES_DIR / f"{name}.png").stat().st_size <= 120 * 1024
